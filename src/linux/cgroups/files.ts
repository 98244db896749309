// Reading and writing cgroupfs files, the one error class of this directory,
// and the small helpers both versions share.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../libc';

export class CgroupError extends Error {
  /** The errno name of the failed write (ENOTSUP, EBUSY, ...), when there was one. */
  get code(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

export function writeCgroupFile(dir: string, file: string, value: string): void {
  try {
    libc.writeFile(join(dir, file), value);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CgroupError(`write ${join(dir, file)} (${JSON.stringify(value)}): ${err.code ?? err.message}`, { cause: e });
  }
}

export function readCgroupFile(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').trim();
}


export function readControllers(dir: string): string[] {
  try {
    return readCgroupFile(dir, 'cgroup.controllers').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** Make the parent's controllers available to its children. The kernel refuses
 * (EBUSY) in a non-root cgroup that holds processes ("no internal processes"):
 * then the controller stays off and apply() names it if a value needs it. */
export function enableSubtreeControllers(parent: string, only?: string[]): void {
  const want = readControllers(parent).filter((c) => !only || only.includes(c));
  if (want.length === 0) return;
  let enabled: Set<string>;
  try {
    enabled = new Set(readCgroupFile(parent, 'cgroup.subtree_control').split(/\s+/).map((c) => c.replace(/^\+/, '')));
  } catch {
    enabled = new Set();
  }
  const missing = want.filter((c) => !enabled.has(c));
  if (missing.length === 0) return;
  try {
    writeCgroupFile(parent, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
  } catch {
    for (const c of missing) {
      try {
        writeCgroupFile(parent, 'cgroup.subtree_control', `+${c}`);
      } catch {
        // left disabled; reported by apply() when a value needs it
      }
    }
  }
}

/** The errno name under a CgroupError (its cause) or a plain fs error. */
export function errnoOf(e: unknown): string | undefined {
  const err = e as Error & { code?: string };
  return err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
}

/** rmdir the leaf, and its descendants first (a container may create sub-cgroups). */
export function removeCgroupDir(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupDir(join(dir, e.name));
  } catch {
    // gone already
  }
  for (let i = 0; i < 200; i++) {
    try {
      libc.rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw new CgroupError(`rmdir ${dir}: ${code ?? String(e)}`);
      sleepMs(5); // the last task is still exiting
    }
  }
  throw new CgroupError(`rmdir ${dir}: EBUSY (processes still in the cgroup)`);
}


export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A per-device I/O weight needs a weight-aware scheduler (BFQ, or iocost on v2)
 * on that very device: the kernel refuses others with EOPNOTSUPP (blkg_conf_prep).
 * runc writes such weights only where BFQ is and ignores them elsewhere: warn
 * (in the --log file) and go on; any other failure stays an error. */
let warnSink: (msg: string) => void = (msg) => process.stderr.write(`warning: ${msg}\n`);
/** Where cgroup warnings go: the commands hand in the CLI's log (src/linux/ does not
 * import it: test/unit/imports.test.ts); stderr until then. */
export function setCgroupWarningSink(fn: (msg: string) => void): void {
  warnSink = fn;
}

/** A warning about the cgroup (a value the kernel or the caller's rights could not take). */
export function cgroupWarning(msg: string): void {
  warnSink(msg);
}

export function deviceWeight(i: number, w: { major: number; minor: number }, write: () => void): void {
  try {
    write();
  } catch (e) {
    const code = e instanceof CgroupError ? e.code : undefined;
    if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOENT') throw e;
    warnSink(`linux.resources.blockIO.weightDevice[${i}]: device ${w.major}:${w.minor} takes no I/O weight (no BFQ or iocost on it), ignored: ${(e as Error).message}`);
  }
}

/** Any of these fields holds a value (a non-empty list for arrays). */
export function isSet<T extends object>(o: T, keys: (keyof T)[]): boolean {
  return keys.some((k) => {
    const v = o[k];
    return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null;
  });
}
