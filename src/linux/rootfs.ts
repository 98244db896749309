// Turning the bundle's rootfs into "/": propagation, a self bind mount (pivot_root
// needs the new root to be a mount point whose parent is not shared), pivot_root,
// and the detach of the old root so nothing of the host stays reachable.
import { fstatSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
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

// ---- masked and read-only paths (after pivot_root) ---------------------------------
// Nothing here goes through a path someone else could have swapped: no
// /proc/self/fd/N (the path /proc itself may be redirected), no "/dev/null" by
// name (CVE-2025-31133: a /dev/null replaced by a symlink made runc bind a file
// of the attacker's choosing, writable, over the masked paths). Each target is
// an O_PATH fd; each mount is a detached tree (open_tree, fsmount) made
// read-only before move_mount attaches it there.

/** An O_PATH fd of a masked or read-only path. Under /proc, resolved from the
 * procfs mount toyrun made (procMount) without following any symlink; elsewhere
 * inside the root, as every other mount destination. */
function openTarget(rootFd: number, path: string, procMount: number | undefined): number {
  const clean = posix.resolve('/', path);
  if (procMount !== undefined && clean.startsWith('/proc/')) {
    const R = libc.RESOLVE;
    return libc.openat2(procMount, clean.slice('/proc/'.length), O.PATH, R.BENEATH | R.NO_SYMLINKS | R.NO_MAGICLINKS, clean);
  }
  return openInRoot(rootFd, clean);
}

/** openTarget, or undefined when the path does not exist (the spec allows that). */
function openExisting(rootFd: number, path: string, procMount: number | undefined): number | undefined {
  try {
    return openTarget(rootFd, path, procMount);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ENOENT') return undefined;
    throw e;
  }
}

const S_IFMT = 0o170000, S_IFCHR = 0o020000, S_IFDIR = 0o040000;

/** The container's /dev/null, opened once and checked to be the 1:3 character
 * device: the source of every file mask. The node itself is never followed
 * (O_NOFOLLOW: a symlink there is refused); a /dev that is a symlink in the
 * image resolves inside the root, and whatever it leads to must pass the check. */
export function openDevNull(rootFd: number): number {
  const R = libc.RESOLVE;
  const fd = libc.openat2(rootFd, 'dev/null', O.PATH | O.NOFOLLOW, R.IN_ROOT | R.NO_MAGICLINKS, '/dev/null');
  const st = fstatSync(fd, { bigint: true });
  if ((Number(st.mode) & S_IFMT) !== S_IFCHR || st.rdev !== libc.makedev(1, 3)) {
    libc.close(fd);
    throw new Error(`maskedPaths: /dev/null in the container is not the 1:3 character device (mode 0o${st.mode.toString(8)}, rdev ${st.rdev}): refused`);
  }
  return fd;
}

/** linux.maskedPaths: a file is covered by a read-only bind of the verified
 * /dev/null, a directory by an empty read-only tmpfs. Missing paths are fine. */
export function maskPaths(paths: string[] | undefined, procMount?: number): void {
  if (!paths || paths.length === 0) return;
  withRoot((rootFd) => {
    let nullFd: number | undefined;
    try {
      // once per path: mounts stacked on one dentry make every later lookup there
      // walk the stack, so 100,000 copies of a path took minutes (found by fuzzing)
      for (const p of new Set(paths)) {
        const fd = openExisting(rootFd, p, procMount);
        if (fd === undefined) continue;
        try {
          const isDir = (fstatSync(fd).mode & S_IFMT) === S_IFDIR;
          const A = libc.MOUNT_ATTR;
          let tree: number;
          if (isDir) {
            tree = libc.newFilesystemMount('tmpfs', [], A.RDONLY | A.NOSUID | A.NODEV | A.NOEXEC);
          } else {
            nullFd ??= openDevNull(rootFd);
            tree = libc.openTreeOf(nullFd, libc.OPEN_TREE_CLONE, '/dev/null');
            // read-only before it is attached: never a writable window (runc's order gives the same)
            libc.mountSetattr(tree, 0, A.RDONLY | A.NOSUID | A.NOEXEC, 0, p);
          }
          try {
            libc.moveMountTo(tree, fd, p);
          } finally {
            libc.close(tree);
          }
        } finally {
          libc.close(fd);
        }
      }
    } finally {
      if (nullFd !== undefined) libc.close(nullFd);
    }
  });
}

/** linux.readonlyPaths: a recursive bind of each path onto itself, made
 * read-only (nosuid, nodev, noexec) while still detached. */
export function readonlyPaths(paths: string[] | undefined, procMount?: number): void {
  if (!paths || paths.length === 0) return;
  withRoot((rootFd) => {
    for (const p of new Set(paths)) { // once per path, as in maskPaths
      const fd = openExisting(rootFd, p, procMount);
      if (fd === undefined) continue;
      try {
        const tree = libc.openTreeOf(fd, libc.OPEN_TREE_CLONE | libc.AT_RECURSIVE, p);
        try {
          const A = libc.MOUNT_ATTR;
          libc.mountSetattr(tree, libc.AT_RECURSIVE, A.RDONLY | A.NOSUID | A.NODEV | A.NOEXEC, 0, p);
          libc.moveMountTo(tree, fd, p);
        } finally {
          libc.close(tree);
        }
      } finally {
        libc.close(fd);
      }
    }
  });
}

/** The container's /proc, looked up now without following symlinks, must still
 * be the procfs toyrun mounted there (same mount, its root): else someone
 * swapped it during create, and the container would get their directory while
 * the real procfs hides, masked but elsewhere. */
export function verifyProcMount(procMount: number | undefined): void {
  if (procMount === undefined) return;
  withRoot((rootFd) => {
    const R = libc.RESOLVE;
    let fd: number;
    try {
      fd = libc.openat2(rootFd, 'proc', O.PATH | O.DIRECTORY, R.IN_ROOT | R.NO_SYMLINKS | R.NO_MAGICLINKS, '/proc');
    } catch (e) {
      throw new Error(`/proc is no longer the procfs mounted at create (swapped during create?): ${(e as Error).message}`, { cause: e });
    }
    try {
      const same = libc.mountIdOf(fd, '/proc') === libc.mountIdOf(procMount, 'procfs mount')
        && fstatSync(fd).ino === fstatSync(procMount).ino;
      if (!same) throw new Error('/proc is no longer the procfs mounted at create (swapped during create?): refused');
    } finally {
      libc.close(fd);
    }
  });
}

function withRoot<T>(fn: (rootFd: number) => T): T {
  const rootFd = libc.openat(AT_FDCWD, '/', O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    return fn(rootFd);
  } finally {
    libc.close(rootFd);
  }
}
