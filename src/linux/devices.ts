// /dev inside the container: the devices every container gets, the ones
// linux.devices asks for, and the standard symlinks.
import { chmodSync, closeSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { posix } from 'node:path';
import * as libc from './libc';
import { mkdirInRoot, resolveInRoot } from './mounts';
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

/** mknod a device node inside the rootfs, replacing whatever file is there. */
export function createDevice(rootfs: string, d: Device): void {
  mkdirInRoot(rootfs, posix.dirname(d.path));
  const host = resolveInRoot(rootfs, d.path);
  try {
    const st = lstatSync(host);
    if (st.isDirectory()) throw new Error(`linux.devices: ${d.path} is a directory in the rootfs`);
    unlinkSync(host);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  libc.mknod(host, modeFor(d), d.type === 'p' ? 0n : libc.makedev(d.major ?? 0, d.minor ?? 0));
  // mknod's mode is filtered by the umask: set the mode asked for.
  libc.lchown(host, d.uid ?? 0, d.gid ?? 0);
  chmodSync(host, (d.fileMode ?? 0o666) & 0o7777);
}

/** In a user namespace mknod is refused (CAP_MKNOD counts only in the initial
 * one): bind the host's node of the same path over an empty file, as runc does.
 * Owner and mode stay the host's: chown/chmod would change the host's node. */
export function bindDevice(rootfs: string, d: Device): void {
  if (d.type === 'p') throw new Error(`linux.devices: ${d.path}: a FIFO can't be created in a user namespace`);
  mkdirInRoot(rootfs, posix.dirname(d.path));
  const host = resolveInRoot(rootfs, d.path);
  try {
    if (lstatSync(host).isDirectory()) throw new Error(`linux.devices: ${d.path} is a directory in the rootfs`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    closeSync(openSync(host, 'a', 0o000));
  }
  libc.mount(d.path, host, null, libc.MS.BIND, null);
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

export function createDevSymlinks(rootfs: string): void {
  for (const [target, link] of DEV_SYMLINKS) {
    const host = resolveInRoot(rootfs, link);
    try {
      lstatSync(host);
      if (link === '/dev/ptmx') unlinkSync(host); // a ptmx node from the image would bypass the new devpts
      else continue;
    } catch {
      // missing: create it
    }
    libc.symlink(target, host);
  }
}
