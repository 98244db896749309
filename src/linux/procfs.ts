// Writing into procfs after pivot_root without trusting the path "/proc".
// Whoever can write the rootfs (a host process racing create, a createRuntime
// hook, a volume shared with another container) can rename the directory our
// procfs is mounted on and put a symlink or a plain directory in its place:
// a write to /proc/sys/... then lands in a file of their choosing, and the
// masks and read-only binds go there too, leaving the real procfs writable
// under another name (CVE-2019-19921, CVE-2025-52881). So:
//  - writes (sysctl, oom_score_adj) go through a private procfs instance made
//    with fsopen("proc")/fsmount: a detached mount nobody else can reach;
//  - every file is opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
//    RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV) from that mount's root, and its
//    fd must be on procfs (fstatfs f_type PROC_SUPER_MAGIC) before a byte is written;
//  - the container's own /proc is held by the fd fsmount gave when it was
//    mounted (mounts.ts), and masks and read-only paths are resolved from it.
import { fstatSync } from 'node:fs';
import * as libc from './libc';
import { MOUNT_ATTR, O, PROC_SUPER_MAGIC, RESOLVE, SysError } from './libc';

/** The resolution every procfs write uses: stay under the procfs root, never
 * follow a symlink or a magic link, never cross into another mount. */
export const PROC_WRITE_RESOLVE = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;

let privateProc: number | undefined;

/** A private procfs of this process's PID namespace (made once, close-on-exec).
 * Where the kernel refuses a new instance (a user namespace without its own PID
 * namespace may not mount proc), the container's own /proc mount is used. */
export function procfsForWrites(containerProc?: number | (() => number)): number {
  if (privateProc !== undefined) return privateProc;
  try {
    privateProc = libc.newFilesystemMount('proc', [], MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC);
  } catch (e) {
    if (!(e instanceof SysError && e.code === 'EPERM') || containerProc === undefined) throw e;
    privateProc = typeof containerProc === 'function' ? containerProc() : containerProc;
  }
  return privateProc;
}

const PROC_ROOT_INO = 1;

/** The container's /proc, for a process that joined the container's mount
 * namespace (the exec helper) and holds no fd of its own on it: looked up in the
 * root without following a symlink, and refused unless it is a procfs's root. */
export function openContainerProc(): number {
  const R = RESOLVE;
  const rootFd = libc.openat(libc.AT_FDCWD, '/', O.PATH | O.DIRECTORY | O.CLOEXEC);
  let fd: number;
  try {
    fd = libc.openat2(rootFd, 'proc', O.PATH | O.DIRECTORY | O.CLOEXEC, R.IN_ROOT | R.NO_SYMLINKS | R.NO_MAGICLINKS, '/proc');
  } finally {
    libc.close(rootFd);
  }
  try {
    const type = libc.fstatfsType(fd, '/proc');
    if (type !== PROC_SUPER_MAGIC || fstatSync(fd).ino !== PROC_ROOT_INO) {
      throw new Error(`/proc in the container is not a procfs root (f_type 0x${type.toString(16)}): refused`);
    }
    return fd;
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** A path below the procfs root, refused if it could climb out or is empty. */
export function procRelPath(rel: string): string {
  const parts = rel.split('/');
  if (rel === '' || rel.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`procfs path ${JSON.stringify(rel)}: expected a relative path without "", "." or ".." components`);
  }
  return rel;
}

/** Open rel under procFd for writing: resolved by the kernel without symlinks
 * or mount crossings, and verified to be a procfs file. */
export function openProcFile(procFd: number, rel: string, flags: number): number {
  const fd = libc.openat2(procFd, procRelPath(rel), flags, PROC_WRITE_RESOLVE, `/proc/${rel}`);
  try {
    const type = libc.fstatfsType(fd, `/proc/${rel}`);
    if (type !== PROC_SUPER_MAGIC) {
      throw new Error(`/proc/${rel} is not on procfs (f_type 0x${type.toString(16)}): refused`);
    }
    // sysctl and oom_score_adj files are regular files of procfs; a directory is a wrong key
    if (!fstatSync(fd).isFile()) throw new Error(`/proc/${rel} is not a regular procfs file: refused`);
    return fd;
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** write(2) value to rel under procFd (one write: procfs parses it whole). */
export function writeProcFile(procFd: number, rel: string, value: string): void {
  const fd = openProcFile(procFd, rel, O.WRONLY);
  try {
    const buf = Buffer.from(value);
    let n: number;
    try {
      n = libc.write(fd, buf);
    } catch (e) {
      if (e instanceof SysError) throw new SysError('write', `/proc/${rel}`, e.errno);
      throw e;
    }
    if (n !== buf.length) throw new Error(`write /proc/${rel}: short write (${n} of ${buf.length} bytes)`);
  } finally {
    libc.close(fd);
  }
}
