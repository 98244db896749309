// /dev inside the container: the devices every container gets, the ones
// linux.devices asks for, and the standard symlinks.
import { fstatSync } from 'node:fs';
import * as libc from './libc';
import { O, SysError } from './libc';
import { inParentInRoot, symlinkInRoot } from './mounts';
import type { Device } from '../spec/types';

export const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const S_IFCHR = 0o020000, S_IFBLK = 0o060000, S_IFIFO = 0o010000;

function modeFor(d: Device): number {
  const perm = (d.fileMode ?? 0o666) & 0o7777;
  if (d.type === 'b') return S_IFBLK | perm;
  if (d.type === 'p') return S_IFIFO | perm;
  return S_IFCHR | perm;
}

// Every node and link is made with *at() calls on an O_PATH fd of its directory,
// resolved by the kernel inside the rootfs (mounts.ts inParentInRoot): a path
// walked on the host and then created could be redirected out of the rootfs by a
// symlink swapped in between (when /dev is the image's own directory, shared
// with whatever else uses that rootfs).

/** Remove what the image has at name (not a directory): the node replaces it. */
function removeExisting(dirFd: number, name: string, path: string): void {
  try {
    libc.unlinkat(dirFd, name);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ENOENT') return;
    if (e instanceof SysError && e.code === 'EISDIR') throw new Error(`linux.devices: ${path} is a directory in the rootfs`);
    throw e;
  }
}

/** mknod a device node inside the rootfs, replacing whatever file is there. */
export function createDevice(rootfs: string, d: Device): void {
  inParentInRoot(rootfs, d.path, (dirFd, name) => {
    removeExisting(dirFd, name, d.path);
    // mknod's mode is filtered by the umask: with 0 the node gets exactly fileMode
    const old = libc.umask(0);
    try {
      libc.mknodat(dirFd, name, modeFor(d), d.type === 'p' ? 0n : libc.makedev(d.major ?? 0, d.minor ?? 0));
    } finally {
      libc.umask(old);
    }
    libc.fchownat(dirFd, name, d.uid ?? 0, d.gid ?? 0, libc.AT_SYMLINK_NOFOLLOW);
  });
}

/** In a user namespace mknod is refused (CAP_MKNOD counts only in the initial
 * one): bind the host's node of the same path over an empty file, as runc does.
 * Owner and mode stay the host's: chown/chmod would change the host's node. */
export function bindDevice(rootfs: string, d: Device): void {
  if (d.type === 'p') throw new Error(`linux.devices: ${d.path}: a FIFO can't be created in a user namespace`);
  inParentInRoot(rootfs, d.path, (dirFd, name) => {
    let fd = openTarget(dirFd, name);
    const st = fd >= 0 ? fstatSync(fd) : undefined;
    if (st?.isDirectory()) {
      libc.close(fd);
      throw new Error(`linux.devices: ${d.path} is a directory in the rootfs`);
    }
    if (st?.isSymbolicLink()) {
      libc.close(fd);
      libc.unlinkat(dirFd, name);
      fd = -1;
    }
    if (fd < 0) {
      // O_EXCL|O_NOFOLLOW: a name that appeared meanwhile is refused, never followed
      libc.close(libc.openat(dirFd, name, O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, 0));
      fd = openTarget(dirFd, name);
    }
    try {
      libc.mount(d.path, `/proc/self/fd/${fd}`, null, libc.MS.BIND, null);
    } finally {
      libc.close(fd);
    }
  });
}

/** An O_PATH fd of name itself (a symlink is not followed), or -1 if missing. */
function openTarget(dirFd: number, name: string): number {
  try {
    return libc.openat(dirFd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ENOENT') return -1;
    throw e;
  }
}

export function createDevices(rootfs: string, devices: Device[] | undefined, inUserNs = false): void {
  const wanted = new Map<string, Device>();
  for (const d of DEFAULT_DEVICES) wanted.set(d.path, d);
  for (const d of devices ?? []) wanted.set(d.path, d);
  for (const d of wanted.values()) {
    if (inUserNs) bindDevice(rootfs, d);
    else createDevice(rootfs, d);
  }
}

const DEV_SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

/** The standard /dev links, unless the image has its own; /dev/ptmx always
 * becomes the link: an image's ptmx node would bypass the new devpts instance. */
export function createDevSymlinks(rootfs: string): void {
  // runc adds /dev/core when the host has /proc/kcore (CONFIG_PROC_KCORE; the
  // container's /proc/kcore is masked by default all the same)
  const links = hostHasKcore() ? [...DEV_SYMLINKS, ['/proc/kcore', '/dev/core'] as [string, string]] : DEV_SYMLINKS;
  for (const [target, link] of links) {
    if (symlinkInRoot(rootfs, target, link) || link !== '/dev/ptmx') continue;
    inParentInRoot(rootfs, link, (dirFd, name) => {
      libc.unlinkat(dirFd, name);
      libc.symlinkat(target, dirFd, name);
    });
  }
}

/** Before pivot_root the init still sees the host's /proc. */
function hostHasKcore(): boolean {
  try {
    libc.close(libc.openat(libc.AT_FDCWD, '/proc/kcore', libc.O.PATH | libc.O.CLOEXEC));
    return true;
  } catch {
    return false;
  }
}
