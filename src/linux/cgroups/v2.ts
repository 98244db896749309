// cgroup v2: one unified hierarchy. A controller's files appear in a cgroup only
// when its parent lists the controller in cgroup.subtree_control, so creating a
// container's cgroup enables every available controller on the way down.
// OCI resources were written for v1; the conversions below are the standard
// ones (runc, crun and the kernel docs agree on them).
//
// The driver takes the mount (or just its mount point) as an argument: the host here is v1/hybrid,
// so most of this file is unit-tested against a temporary directory laid out
// like cgroup2, and freeze/devices/create/destroy against the hybrid host's real
// cgroup2 mount (which has no memory/cpu/io controllers).
import { hugetlbFiles, pidsMax } from '../resources13';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Resources } from '../../spec/types';
import {
  CgroupError, deviceWeight, enableSubtreeControllers, readCgroupFile, readControllers, removeCgroupDir, sleepMs, writeCgroupFile,
} from './files';
import { applyDeviceProgram } from './bpf';
import { pidsBelow, procsJoin } from './join';
import { ownCgroups, plannedDirs, v2CgroupPath } from './layout';
import { watchOomV2 } from './oom';
import { statsV1, statsV2 } from './stats';
import type { CgroupDriver, CgroupRecord, Hierarchy, JoinFiles, OomWatch, StatsObject } from './types';
import * as libc from '../libc';

/** cpu.shares (2..262144) → cpu.weight (1..10000), linear as in runc/crun. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** blkio.weight (10..1000) → io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/** OCI memory.swap is memory+swap; v2's memory.swap.max counts swap alone. */
export function swapToV2(swap: number, limit: number | undefined): string {
  if (swap === -1) return 'max';
  if (limit === undefined || limit === -1 || limit === 0) {
    throw new CgroupError('linux.resources.memory.swap: cannot set a swap limit without a memory limit on cgroup v2');
  }
  if (swap < limit) throw new CgroupError(`linux.resources.memory.swap (${swap}) must be >= memory.limit (${limit})`);
  return String(swap - limit);
}

function maxOr(n: number): string {
  return n < 0 ? 'max' : String(n);
}

export class CgroupV2 implements CgroupDriver {
  readonly version = 2 as const;
  readonly mountpoint: string;
  private readonly hierarchy: Hierarchy;
  constructor(
    mount: string | Hierarchy,
    private readonly own: () => Record<string, string> = ownCgroups,
  ) {
    this.hierarchy = typeof mount === 'string' ? { controllers: ['unified'], mountpoint: mount, root: '/', version: 2 } : mount;
    this.mountpoint = this.hierarchy.mountpoint;
  }

  plannedDirs(path: string): Record<string, string> {
    return plannedDirs(path, [this.hierarchy], this.own());
  }

  /** mkdir the container's cgroup and whatever is missing above it. Controllers
   * are enabled (cgroup.subtree_control) only in directories made here, never in
   * one that already existed: that one belongs to someone else (systemd's slices,
   * the caller's service, the root), and writing there can break it for good —
   * a threaded controller enabled in a cgroup that holds processes turns it
   * "domain threaded" (kernel: cgroup_vet_subtree_control_enable). A controller
   * its owner did not enable is missing from the leaf, and apply() names it. */
  create(relOrAbs: string): CgroupRecord {
    const own = this.own();
    const path = v2CgroupPath(relOrAbs, own);
    const leaf = plannedDirs(relOrAbs, [this.hierarchy], own).unified as string;
    const parts = relative(this.mountpoint, leaf).split('/').filter(Boolean);
    let dir = this.mountpoint;
    const made: string[] = [];
    try {
      for (const [i, part] of parts.entries()) {
        const parent = dir;
        dir = join(dir, part);
        // A parallel create must not use a level we made before its controllers
        // are on: both hold the parent's lock around mkdir + enable.
        withDirLock(parent, () => {
          if (!mkdirCgroup(dir)) return;
          made.push(dir);
          if (i < parts.length - 1) enableSubtreeControllers(dir);
        });
      }
      checkDomain(dir);
    } catch (e) {
      for (const d of made.reverse()) rmdirQuiet(d);
      throw e;
    }
    return { version: 2, paths: { unified: dir }, path, ...(made.length > 1 ? { made: made.slice(0, -1) } : {}) };
  }

  private dir(rec: CgroupRecord): string {
    const d = rec.paths.unified;
    if (!d) throw new CgroupError('cgroup record has no unified (cgroup v2) directory');
    return d;
  }

  apply(rec: CgroupRecord, res: Resources | undefined): void {
    if (!res) return;
    const d = this.dir(rec);
    const available = new Set(readControllers(d));
    const need = (controller: string, what: string): void => {
      if (!available.has(controller)) {
        throw new CgroupError(`${what}: the ${controller} controller is not available in cgroup v2 at ${d} (cgroup.controllers: ${[...available].join(' ') || 'none'})`);
      }
    };
    const unsupported = (what: string): never => {
      throw new CgroupError(`${what} is not supported on cgroup v2`);
    };
    applyMemory(d, res.memory, need, unsupported);
    applyCpu(d, res.cpu, need, unsupported);
    if (res.pids) {
      need('pids', 'linux.resources.pids');
      writeCgroupFile(d, 'pids.max', pidsMax(res.pids.limit));
    }
    applyIo(d, res.blockIO, need, unsupported);
    for (const h of res.hugepageLimits ?? []) {
      need('hugetlb', 'linux.resources.hugepageLimits');
      for (const file of hugetlbFiles(d, h.pageSize, true)) writeCgroupFile(d, file, String(h.limit));
    }
    if (res.network && (res.network.classID !== undefined || (res.network.priorities ?? []).length > 0)) {
      unsupported('linux.resources.network (net_cls/net_prio are v1-only controllers)');
    }
    for (const [dev, lim] of Object.entries(res.rdma ?? {})) {
      need('rdma', 'linux.resources.rdma');
      const parts = [dev];
      if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
      if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
      writeCgroupFile(d, 'rdma.max', parts.join(' '));
    }
    for (const [file, value] of Object.entries(res.unified ?? {})) {
      applyUnifiedKey(d, file, value, available);
    }
  }

  applyDevices(rec: CgroupRecord, devices: Resources['devices']): void {
    applyDeviceProgram(this.dir(rec), devices);
  }

  joinFiles(rec: CgroupRecord): JoinFiles {
    return rec.paths.unified ? procsJoin(rec.paths.unified) : { byParent: [], bySelf: [] };
  }

  pids(rec: CgroupRecord): number[] {
    return pidsBelow(rec.paths.unified);
  }

  stats(rec: CgroupRecord): StatsObject {
    // a record whose directories were dropped as untrusted (src/container/trust.ts) reads as all zeros
    return rec.paths.unified ? statsV2(rec.paths.unified) : statsV1(rec);
  }

  watchOom(rec: CgroupRecord): OomWatch | undefined {
    return watchOomV2(rec.paths.unified);
  }

  freeze(rec: CgroupRecord): void {
    const d = this.dir(rec);
    writeCgroupFile(d, 'cgroup.freeze', '1');
    // The write only starts freezing; cgroup.events says when every task has stopped.
    if (!existsSync(join(d, 'cgroup.events'))) return;
    for (let i = 0; i < 1000; i++) {
      if (/^frozen 1$/m.test(readFileSync(join(d, 'cgroup.events'), 'utf8'))) return;
      sleepMs(1);
    }
    throw new CgroupError(`freeze ${d}: cgroup.events did not report "frozen 1"`);
  }

  thaw(rec: CgroupRecord): void {
    writeCgroupFile(this.dir(rec), 'cgroup.freeze', '0');
  }

  isFrozen(rec: CgroupRecord): boolean {
    try {
      return readCgroupFile(this.dir(rec), 'cgroup.freeze') === '1';
    } catch {
      return false;
    }
  }

  destroy(rec: CgroupRecord): void {
    const d = rec.paths.unified;
    if (d) removeCgroupDir(d);
  }
}

/** true if this call made the directory, false if it existed. */
function mkdirCgroup(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new CgroupError(`mkdir ${dir}: ${code ?? String(e)}`, { cause: e });
  }
}

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // in use by another container meanwhile, or gone
  }
}

/** flock(2) on the directory itself (plain directories outside cgroupfs too). */
function withDirLock(dir: string, fn: () => void): void {
  const fd = libc.openat(libc.AT_FDCWD, dir, libc.O.RDONLY | libc.O.DIRECTORY | libc.O.CLOEXEC);
  try {
    libc.flock(fd, libc.LOCK_EX);
    fn();
  } finally {
    libc.close(fd); // drops the lock
  }
}

/** Processes can join only a domain cgroup: below a "threaded" or "domain threaded"
 * one (made so by its owner) the leaf is "domain invalid" (ENOTSUP on join). */
function checkDomain(dir: string): void {
  let type: string;
  try {
    type = readCgroupFile(dir, 'cgroup.type');
  } catch {
    return; // no cgroup.type: not a kernel cgroup2 directory (tests' fake trees)
  }
  if (type === 'domain invalid') {
    throw new CgroupError(`cgroup ${dir} is "domain invalid": a cgroup above it is threaded (see its cgroup.type); choose another linux.cgroupsPath`);
  }
}

type Need = (controller: string, what: string) => void;
type Unsupported = (what: string) => never;

function applyMemory(d: string, m: Resources['memory'], need: Need, unsupported: Unsupported): void {
  if (!m) return;
  const touches = m.limit ?? m.reservation ?? m.swap ?? m.swappiness ?? m.kernelTCP ?? (m.disableOOMKiller ? true : undefined);
  if (touches === undefined) return;
  need('memory', 'linux.resources.memory');
  if (m.swappiness !== undefined) unsupported('linux.resources.memory.swappiness');
  if (m.disableOOMKiller) unsupported('linux.resources.memory.disableOOMKiller');
  if (m.kernelTCP !== undefined) unsupported('linux.resources.memory.kernelTCP');
  // memory.kernel is deprecated (gone from kernels >= 5.16): accepted, not applied.
  let swap: string | undefined;
  if (m.swap !== undefined && m.swap !== 0) {
    const limit = m.limit ?? currentLimit(d);
    swap = swapToV2(m.swap, limit);
    if (!existsSync(join(d, 'memory.swap.max')) && swap !== '0' && swap !== 'max') {
      throw new CgroupError('linux.resources.memory.swap: swap accounting is disabled on this host (no memory.swap.max)');
    }
    if (!existsSync(join(d, 'memory.swap.max'))) swap = undefined;
  }
  // swap.max is independent of memory.max on v2: no ordering constraint.
  if (m.limit !== undefined && m.limit !== 0) writeCgroupFile(d, 'memory.max', maxOr(m.limit));
  if (swap !== undefined) writeCgroupFile(d, 'memory.swap.max', swap);
  if (m.reservation !== undefined && m.reservation !== 0) writeCgroupFile(d, 'memory.low', maxOr(m.reservation));
}

function currentLimit(d: string): number | undefined {
  try {
    const v = readCgroupFile(d, 'memory.max');
    return v === 'max' ? -1 : Number(v);
  } catch {
    return undefined;
  }
}

function applyCpu(d: string, c: Resources['cpu'], need: Need, unsupported: Unsupported): void {
  if (!c) return;
  if ((c.realtimeRuntime ?? 0) !== 0 || (c.realtimePeriod ?? 0) !== 0) {
    unsupported('linux.resources.cpu.realtimeRuntime/realtimePeriod (no cpu.rt_* files)');
  }
  if (c.shares !== undefined && c.shares !== 0) {
    need('cpu', 'linux.resources.cpu.shares');
    writeCgroupFile(d, 'cpu.weight', String(sharesToWeight(c.shares)));
  }
  const quotaSet = c.quota !== undefined && c.quota !== 0;
  const periodSet = c.period !== undefined && c.period !== 0;
  if (quotaSet || periodSet) {
    need('cpu', 'linux.resources.cpu.quota');
    // cpu.max holds both numbers: keep the one that is not being changed.
    const [oldQuota = 'max', oldPeriod = '100000'] = readOr(d, 'cpu.max', 'max 100000').split(/\s+/);
    const quota = quotaSet ? maxOr(c.quota as number) : oldQuota;
    const period = periodSet ? String(c.period) : oldPeriod;
    writeCgroupFile(d, 'cpu.max', `${quota} ${period}`);
  }
  if (c.burst !== undefined) {
    need('cpu', 'linux.resources.cpu.burst');
    writeCgroupFile(d, 'cpu.max.burst', String(c.burst));
  }
  if (c.idle !== undefined) {
    need('cpu', 'linux.resources.cpu.idle');
    writeCgroupFile(d, 'cpu.idle', String(c.idle));
  }
  if (c.cpus) {
    need('cpuset', 'linux.resources.cpu.cpus');
    writeCgroupFile(d, 'cpuset.cpus', c.cpus);
  }
  if (c.mems) {
    need('cpuset', 'linux.resources.cpu.mems');
    writeCgroupFile(d, 'cpuset.mems', c.mems);
  }
}

function readOr(d: string, file: string, dflt: string): string {
  try {
    return readCgroupFile(d, file) || dflt;
  } catch {
    return dflt;
  }
}

function applyIo(d: string, b: Resources['blockIO'], need: Need, unsupported: Unsupported): void {
  if (!b) return;
  if ((b.leafWeight ?? 0) !== 0 || (b.weightDevice ?? []).some((w) => w.leafWeight !== undefined)) {
    unsupported('linux.resources.blockIO.leafWeight');
  }
  const any = (b.weight ?? 0) !== 0 || (b.weightDevice ?? []).length > 0
    || [b.throttleReadBpsDevice, b.throttleWriteBpsDevice, b.throttleReadIOPSDevice, b.throttleWriteIOPSDevice].some((l) => (l ?? []).length > 0);
  if (!any) return;
  need('io', 'linux.resources.blockIO');
  // BFQ takes blkio's own 1..1000 scale; the generic io.weight is 1..10000.
  const bfq = existsSync(join(d, 'io.bfq.weight'));
  if (b.weight !== undefined && b.weight !== 0) {
    if (bfq) writeCgroupFile(d, 'io.bfq.weight', String(b.weight));
    else writeCgroupFile(d, 'io.weight', `default ${blkioToIoWeight(b.weight)}`);
  }
  for (const [i, w] of (b.weightDevice ?? []).entries()) {
    if (w.weight === undefined) continue;
    const weight = w.weight;
    deviceWeight(i, w, () => {
      if (bfq) writeCgroupFile(d, 'io.bfq.weight', `${w.major}:${w.minor} ${weight}`);
      else writeCgroupFile(d, 'io.weight', `${w.major}:${w.minor} ${blkioToIoWeight(weight)}`);
    });
  }
  const keys: [NonNullable<Resources['blockIO']>['throttleReadBpsDevice'], string][] = [
    [b.throttleReadBpsDevice, 'rbps'],
    [b.throttleWriteBpsDevice, 'wbps'],
    [b.throttleReadIOPSDevice, 'riops'],
    [b.throttleWriteIOPSDevice, 'wiops'],
  ];
  for (const [list, key] of keys) {
    for (const t of list ?? []) writeCgroupFile(d, 'io.max', `${t.major}:${t.minor} ${key}=${t.rate === 0 ? 'max' : t.rate}`);
  }
}

/** linux.resources.unified: raw "file": "value" pairs, checked against the
 * cgroup's own controllers so a typo or a missing controller is an error. */
function applyUnifiedKey(d: string, file: string, value: string, available: Set<string>): void {
  if (file.includes('/') || file === '' || file.startsWith('.')) {
    throw new CgroupError(`linux.resources.unified: invalid file name ${JSON.stringify(file)}`);
  }
  const controller = file.split('.')[0] as string;
  if (controller !== 'cgroup' && !available.has(controller)) {
    throw new CgroupError(`linux.resources.unified.${file}: the ${controller} controller is not available in cgroup v2 at ${d}`);
  }
  if (!existsSync(join(d, file))) throw new CgroupError(`linux.resources.unified.${file}: no such cgroup file in ${d}`);
  writeCgroupFile(d, file, value);
}
