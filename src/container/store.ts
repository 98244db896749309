// The state of a container lives in one directory, <root>/<id>/:
//   state.json   what `state` reports plus what delete needs (written atomically)
//   config.json  the validated spec the container was created from
//   exec.fifo    exists from create until start: the init blocks on it
// The status is derived from the kernel (is the init alive, with the same start
// time? is the cgroup frozen?), never trusted from the file alone.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, fstatSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Spec, State, Status } from '../spec/types';
import { validateContainerId } from '../spec/id';
import { flock, LOCK_EX, O, openat, AT_FDCWD, close } from '../linux/libc';
import type { CgroupRecord } from '../linux/cgroups/types';
import type { RdtRecord } from '../linux/intelrdt';

export const OCI_VERSION = '1.3.0';
export const DEFAULT_ROOT = '/run/toyrun';

export interface ContainerRecord {
  id: string;
  /** Host PID of the init (0 while the init is not spawned yet). */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the init was spawned: tells a recycled PID apart. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
  cgroup: CgroupRecord;
  /** The `toyrun create` process, while the container is being created. */
  creator?: { pid: number; startTime: string };
  /** Created with --no-new-keyring: processes keep the caller's session keyring (exec too). */
  noNewKeyring?: boolean;
  /** Set once `start` has released the init. */
  started?: boolean;
  /** Overlay root mounted on the host by create (toyrun image extension). */
  imageMount?: { target: string; upper: string; work: string; persistent: boolean; layers?: string[] };
  /** linux.intelRdt: the resctrl groups the container is in (src/linux/intelrdt.ts). */
  intelRdt?: RdtRecord;
}

export class ContainerError extends Error {}

/** <root>/<id>. Every command resolves a container through here, so the id is
 * checked here: an id such as ".." would otherwise name the state root's parent
 * (and `delete --force ..` would remove it). */
export function containerDir(root: string, id: string): string {
  validateContainerId(id);
  return join(root, id);
}

/** Write then rename: a reader sees the old file or the new one, never half of one. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, path);
  } catch (e) {
    // ENOSPC and friends: the old file stays intact, and no torn temp file stays behind
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw e;
  }
}

/** Create <root>/<id>/ exclusively: mkdir is the atomic "claim" of an id. */
export function claimContainerDir(root: string, id: string): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = containerDir(root, id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ContainerError(`container with id ${id} already exists`);
    throw e;
  }
  return dir;
}

export function saveRecord(dir: string, rec: ContainerRecord): void {
  writeFileAtomic(join(dir, 'state.json'), JSON.stringify(rec));
}

export function loadRecord(root: string, id: string): ContainerRecord {
  const dir = containerDir(root, id);
  let text: string;
  try {
    text = readFileSync(join(dir, 'state.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      // a create claimed the dir and died before writing anything
      if (existsSync(dir)) return { id, pid: 0, pidStartTime: '', bundle: '', rootfs: '', created: '', owner: '', cgroup: { paths: {} } };
      throw new ContainerError(`container ${id} does not exist`);
    }
    throw e;
  }
  try {
    return JSON.parse(text) as ContainerRecord;
  } catch {
    // written atomically, so only someone else's hand truncates it
    throw new CorruptStateError(`container ${id}: state.json is corrupt`);
  }
}

export class CorruptStateError extends ContainerError {}

export function loadSpec(dir: string): Spec | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
  } catch {
    return undefined;
  }
}

export function listIds(root: string): string[] {
  try {
    // dot-names are not containers (ids can't start with '.'): e.g. the layer store
    return readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  } catch {
    return [];
  }
}

export function removeContainerDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Start time of a process (clock ticks since boot), or undefined if it is gone or a zombie. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** Wait until a process is gone (or a zombie nobody has reaped yet). */
export function waitGone(pid: number, timeoutMs = 10000): boolean {
  const deadline = Date.now() + timeoutMs;
  while (processStartTime(pid) !== undefined) {
    if (Date.now() > deadline) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
  return true;
}

/** Decimal PID, no newline (containerd parses it with Atoi, no trimming), written atomically. */
export function writePidFile(path: string, pid: number): void {
  const abs = resolve(path);
  const tmp = `${abs}.toyrun-${process.pid}`;
  writeFileSync(tmp, String(pid), { mode: 0o644 });
  renameSync(tmp, abs);
}

export function isInitAlive(rec: ContainerRecord): boolean {
  return rec.pid > 0 && processStartTime(rec.pid) === rec.pidStartTime;
}

export function deriveStatus(root: string, rec: ContainerRecord, frozen: () => boolean): Status {
  if (rec.creator) {
    return processStartTime(rec.creator.pid) === rec.creator.startTime ? 'creating' : 'stopped';
  }
  if (!isInitAlive(rec)) return 'stopped';
  if (frozen()) return 'paused'; // runc: a frozen container is paused, created or not
  if (!rec.started && existsSync(join(containerDir(root, rec.id), 'exec.fifo'))) return 'created';
  return 'running';
}

export function toOciState(rec: ContainerRecord, status: Status): State {
  return {
    ociVersion: OCI_VERSION,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    annotations: rec.annotations ?? {},
    owner: rec.owner,
  };
}

/** Serialise operations on one container (start/kill/delete/update racing each
 * other). flock on the container dir: released by the kernel if we die. */
export function lockContainer(root: string, id: string): () => void {
  const dir = containerDir(root, id); // an invalid id is its own error, not "does not exist"
  let fd: number;
  try {
    fd = openat(AT_FDCWD, dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
  } catch {
    throw new ContainerError(`container ${id} does not exist`);
  }
  flock(fd, LOCK_EX);
  // While we waited, a delete may have removed the dir (and a create claimed the
  // id again): the lock only counts if it is on the dir that is there now.
  let same = false;
  try {
    const held = fstatSync(fd), now = statSync(containerDir(root, id));
    same = held.nlink > 0 && held.ino === now.ino && held.dev === now.dev;
  } catch {
    // removed
  }
  if (!same) {
    close(fd);
    throw new ContainerError(`container ${id} does not exist`);
  }
  return () => close(fd);
}

