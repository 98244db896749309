// cgroups for a rootless runtime: use what the caller may write, skip the rest
// with a warning per resource that was asked for and not applied.
//
// cgroupfs is root's: an ordinary user (or root of a user namespace, which sees
// the host root's files as nobody's) can mkdir only below a directory that was
// delegated to it (chown'ed: the directory, cgroup.procs, cgroup.subtree_control,
// as systemd's Delegate=yes does). A process can be moved only by a writer who
// may write cgroup.procs of the common ancestor of its old and new cgroup
// (cgroup_procs_write_permission): the caller must itself live in the subtree.
// On a v1/hybrid host the v1 hierarchies are root's, and the cgroup2 side (if
// any) can be delegated: it gives membership (ps, kill --all), cgroup.freeze
// (pause) and whatever controllers the host put there. A pure v2 host with a
// delegated subtree gets every controller its delegator enabled.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '../../spec/types';
import { CgroupError, readCgroupFile, removeCgroupDir, sleepMs, writeCgroupFile } from './files';
import { ownCgroups, plannedDirs } from './layout';
import type { CgroupDriver, CgroupRecord, Hierarchy, JoinFiles, OomWatch, StatsObject } from './types';
import { CgroupV1 } from './v1';
import { CgroupV2 } from './v2';

/** Errors of a cgroup operation the caller has no right to: skipped, not fatal. */
const DENIED = ['EACCES', 'EPERM', 'EROFS'];

function denied(e: unknown): boolean {
  const err = e as Error & { code?: string };
  const code = err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && DENIED.includes(code);
}

/** Each top-level linux.resources key that sets something, with its value. */
function asked(res: Resources | undefined): [keyof Resources, unknown][] {
  if (!res) return [];
  return (Object.entries(res) as [keyof Resources, unknown][]).filter(([k, v]) => {
    if (k === 'devices') return false; // applyDevices
    if (v === undefined || v === null) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === 'object') return Object.values(v as object).some((x) => x !== undefined && x !== null && !(Array.isArray(x) && x.length === 0));
    return true;
  });
}

export class RootlessCgroups implements CgroupDriver {
  readonly version: 1 | 2;

  constructor(
    private readonly hierarchies: Hierarchy[],
    private readonly warn: (msg: string) => void,
    private readonly own?: () => Record<string, string>,
  ) {
    this.version = hierarchies.some((h) => h.version === 1) ? 1 : 2;
  }

  private inner(only: Hierarchy[]): CgroupDriver {
    if (this.version === 1) return new CgroupV1(only, this.own);
    const unified = only.find((h) => h.version === 2) ?? this.hierarchies.find((h) => h.version === 2);
    if (!unified) throw new CgroupError('no cgroup filesystem is mounted');
    return new CgroupV2(unified, this.own);
  }

  /** What a root create would make: the rootless one makes a subset of it (create). */
  plannedDirs(path: string): Record<string, string> {
    return plannedDirs(path, this.hierarchies, (this.own ?? ownCgroups)());
  }

  /** Everything below reads or writes only the directories the record holds. */
  joinFiles(rec: CgroupRecord): JoinFiles {
    return this.inner(this.usedHierarchies(rec)).joinFiles(rec);
  }

  pids(rec: CgroupRecord): number[] {
    return Object.keys(rec.paths).length === 0 ? [] : this.inner(this.usedHierarchies(rec)).pids(rec);
  }

  stats(rec: CgroupRecord): StatsObject {
    return this.inner(this.usedHierarchies(rec)).stats(rec);
  }

  watchOom(rec: CgroupRecord): OomWatch | undefined {
    return rec.paths.memory || (this.version === 2 && rec.paths.unified) ? this.inner(this.usedHierarchies(rec)).watchOom(rec) : undefined;
  }

  /** One hierarchy at a time: the ones the caller may write get the container's
   * directory, the others are left out of the record (and of every later step). */
  create(path: string): CgroupRecord {
    const paths: Record<string, string> = {};
    let rel = path;
    const made: string[] = [];
    for (const h of this.hierarchies) {
      try {
        const rec = this.inner([h]).create(path);
        Object.assign(paths, rec.paths);
        rel = rec.path ?? rel;
        made.push(...(rec.made ?? []));
      } catch (e) {
        if (!denied(e)) throw e;
      }
    }
    return { version: this.version, paths, path: rel, ...(made.length > 0 ? { made } : {}) };
  }

  /** Where the record has directories, each resource is tried on its own; one
   * the caller may not write (or whose controller it was not delegated) is a warning. */
  apply(rec: CgroupRecord, res: Resources | undefined): void {
    const have = Object.keys(rec.paths).length > 0;
    for (const [key, value] of asked(res)) {
      if (!have) {
        this.warn(`rootless: linux.resources.${key} not applied: no cgroup the caller may write ` +
          `(cgroupfs is root's; delegate a cgroup2 subtree to the user to get limits)`);
        continue;
      }
      try {
        this.inner(this.usedHierarchies(rec)).apply(rec, { [key]: value } as Resources);
      } catch (e) {
        if (!(e instanceof CgroupError) && !denied(e)) throw e;
        this.warn(`rootless: linux.resources.${key} not applied: ${(e as Error).message}`);
      }
    }
  }

  /** The device cgroup is v1 root's (or a v2 BPF program, which needs CAP_SYS_ADMIN
   * on the host): skipped without a word, as runc does. A rootless container is
   * in a user namespace, where the kernel refuses mknod of devices and opening
   * device nodes on any filesystem mounted there (SB_I_NODEV): the policy has nothing left to stop. */
  applyDevices(rec: CgroupRecord, devices: Resources['devices']): void {
    if (!rec.paths.devices) return;
    try {
      this.inner(this.usedHierarchies(rec)).applyDevices(rec, devices);
    } catch (e) {
      if (!denied(e)) throw e;
    }
  }

  private usedHierarchies(rec: CgroupRecord): Hierarchy[] {
    const keys = new Set(Object.keys(rec.paths));
    return this.hierarchies.filter((h) => h.controllers.some((c) => keys.has(c)) || (h.version === 2 && keys.has('unified')));
  }

  /** The v1 freezer if ours, else cgroup.freeze of a delegated cgroup2 directory
   * (every non-root cgroup2 directory has one, on a hybrid host too). */
  freeze(rec: CgroupRecord): void {
    if (rec.paths.freezer) return this.inner(this.usedHierarchies(rec)).freeze(rec);
    const d = this.v2Freezer(rec, 'pause');
    writeCgroupFile(d, 'cgroup.freeze', '1');
    for (let i = 0; i < 1000 && !frozenEvent(d); i++) sleepMs(1);
  }

  thaw(rec: CgroupRecord): void {
    if (rec.paths.freezer) return this.inner(this.usedHierarchies(rec)).thaw(rec);
    writeCgroupFile(this.v2Freezer(rec, 'resume'), 'cgroup.freeze', '0');
  }

  isFrozen(rec: CgroupRecord): boolean {
    if (rec.paths.freezer) return this.inner(this.usedHierarchies(rec)).isFrozen(rec);
    const d = rec.paths.unified;
    if (!d || !existsSync(join(d, 'cgroup.freeze'))) return false;
    try {
      return readCgroupFile(d, 'cgroup.freeze') === '1';
    } catch {
      return false;
    }
  }

  private v2Freezer(rec: CgroupRecord, what: string): string {
    const d = rec.paths.unified;
    if (d && existsSync(join(d, 'cgroup.freeze'))) return d;
    throw new CgroupError(`${what}: rootless, and no freezer the caller may write: the cgroup v1 freezer is root's, ` +
      'and no cgroup2 subtree is delegated to the user (chown a cgroup2 directory to it and set linux.cgroupsPath there)');
  }

  destroy(rec: CgroupRecord): void {
    for (const d of new Set(Object.values(rec.paths))) removeCgroupDir(d);
  }
}

function frozenEvent(dir: string): boolean {
  try {
    return /^frozen 1$/m.test(readCgroupFile(dir, 'cgroup.events'));
  } catch {
    return false;
  }
}
