// Turning the bundle's rootfs into "/": propagation, a self bind mount (pivot_root
// needs the new root to be a mount point whose parent is not shared), pivot_root,
// and the detach of the old root so nothing of the host stays reachable.
import { realpathSync } from 'node:fs';
import * as libc from './libc';
import { MNT_DETACH, MS, O, AT_FDCWD, SysError } from './libc';
import { PROPAGATION_OPTIONS, openInRoot, remountBind } from './mounts';
import { attachTree } from './idmap';
import { mountOf, readMountInfo } from './mountinfo';

/** Stop mount events flowing back to the host, then make rootfs a mount point.
 * Only the flow of events is chosen here (rshared for shared/rshared, rprivate
 * for private/rprivate, else rslave); the requested propagation itself goes
 * on the new root after the switch (setRootPropagation). */
export function prepareRootfs(rootfs: string, rootfsPropagation: string | undefined, idmappedTree?: number): void {
  // rslave by default: host mounts still propagate in, ours never leak out.
  const shared = rootfsPropagation === 'shared' || rootfsPropagation === 'rshared';
  const flow = shared ? MS.SHARED : rootfsPropagation === 'private' || rootfsPropagation === 'rprivate' ? MS.PRIVATE : MS.SLAVE;
  libc.mount(null, '/', null, flow | MS.REC, null);
  // pivot_root refuses a new root whose parent mount is shared (EINVAL), and a
  // bind made under a shared mount would propagate to its peers, the host's
  // among them: the mount holding rootfs goes private (only it, not its children).
  if (shared) libc.mount(null, mountOf(rootfs).mountpoint, null, MS.PRIVATE, null);
  if (idmappedTree !== undefined) attachTree(idmappedTree, rootfs); // already a mount: the idmapped copy
  else libc.mount(rootfs, rootfs, 'bind', MS.BIND | MS.REC, null);
}

/** pivot_root(".", "."): the old root ends up stacked on top of the new one,
 * where a lazy unmount removes it without needing a put_old directory. */
export function pivotRoot(rootfs: string): void {
  const oldRoot = libc.openat(AT_FDCWD, '/', O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  const newRoot = libc.openat(AT_FDCWD, rootfs, O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  try {
    libc.fchdir(newRoot);
    libc.pivotRoot('.', '.');
    libc.fchdir(oldRoot);
    // Make the old root a slave before detaching it, or the unmount would
    // propagate back to the host's mounts.
    libc.mount(null, '.', null, MS.SLAVE | MS.REC, null);
    libc.umount2('.', MNT_DETACH);
    libc.chdir('/');
  } finally {
    libc.close(oldRoot);
    libc.close(newRoot);
  }
}

/** --no-pivot: move the rootfs over / and chroot (the old root stays mounted below).
 * The kernel lets a new procfs or sysfs be mounted only where a full, unmasked
 * one is visible in the mount namespace (mount_too_revealing): the host's /proc
 * and /sys would stay visible below the chroot and let the container mount a
 * fresh, unmasked proc. So, as runc does, every full procfs and sysfs mount
 * outside the rootfs is detached first (made slave so the unmount stays here),
 * or covered by an empty tmpfs where it cannot be unmounted. */
export function moveRoot(rootfs: string): void {
  const own = realpathSync(rootfs); // mountinfo names mount points by their real path
  for (const m of readMountInfo()) {
    if ((m.fstype !== 'proc' && m.fstype !== 'sysfs') || m.root !== '/') continue;
    if (m.mountpoint === own || m.mountpoint.startsWith(`${own}/`)) continue; // the container's own
    try {
      libc.mount(null, m.mountpoint, null, MS.SLAVE | MS.REC, null);
    } catch (e) {
      if (e instanceof SysError && e.code === 'ENOENT') continue; // under one detached already
      throw e;
    }
    try {
      libc.umount2(m.mountpoint, MNT_DETACH);
    } catch (e) {
      if (!(e instanceof SysError && (e.code === 'EINVAL' || e.code === 'EPERM'))) throw e;
      libc.mount('tmpfs', m.mountpoint, 'tmpfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
    }
  }
  // A move onto a shared / would propagate the rootfs to the host's peers.
  libc.mount(null, '/', null, MS.PRIVATE, null);
  libc.chdir(rootfs);
  libc.mount(rootfs, '/', null, MS.MOVE, null);
  libc.chroot('.');
  libc.chdir('/');
}

export function setRootPropagation(rootfsPropagation: string | undefined): void {
  if (!rootfsPropagation) return;
  const flag = PROPAGATION_OPTIONS[rootfsPropagation];
  if (flag !== undefined) libc.mount(null, '/', null, flag, null);
}

export function remountRootReadonly(): void {
  remountBind('/', MS.RDONLY);
}

/** linux.maskedPaths: a file is covered by /dev/null, a directory by an empty
 * read-only tmpfs. Missing paths are fine (the spec says so). */
export function maskPaths(paths: string[] | undefined): void {
  if (!paths || paths.length === 0) return;
  const rootFd = libc.openat(AT_FDCWD, '/', O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    // once per path: mounts stacked on one dentry make every later lookup there
    // walk the stack, so 100,000 copies of a path took minutes (found by fuzzing)
    for (const p of new Set(paths)) maskPath(rootFd, p);
  } finally {
    libc.close(rootFd);
  }
}

function maskPath(rootFd: number, p: string): void {
  {
    let fd: number;
    try {
      fd = openInRoot(rootFd, p);
    } catch (e) {
      if (e instanceof SysError && e.code === 'ENOENT') return;
      throw e;
    }
    const target = `/proc/self/fd/${fd}`;
    try {
      try {
        libc.mount('/dev/null', target, null, MS.BIND, null);
      } catch (e) {
        if (!(e instanceof SysError && e.code === 'ENOTDIR')) throw e;
        libc.mount('tmpfs', target, 'tmpfs', MS.RDONLY, null);
      }
    } finally {
      libc.close(fd);
    }
  }
}

/** linux.readonlyPaths: bind each onto itself, then remount the bind read-only. */
export function readonlyPaths(paths: string[] | undefined): void {
  for (const p of new Set(paths ?? [])) { // once per path, as in maskPaths
    try {
      libc.mount(p, p, null, MS.BIND | MS.REC, null);
    } catch (e) {
      if (e instanceof SysError && e.code === 'ENOENT') continue;
      throw e;
    }
    libc.mount(null, p, null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
  }
}
