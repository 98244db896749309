// Turning the bundle's rootfs into "/": propagation, a self bind mount (pivot_root
// needs the new root to be a mount point whose parent is not shared), pivot_root,
// and the detach of the old root so nothing of the host stays reachable.
import * as libc from './libc';
import { MNT_DETACH, MS, O, AT_FDCWD, SysError } from './libc';
import { PROPAGATION_OPTIONS, openInRoot, remountBind } from './mounts';
import { attachTree } from './idmap';

/** Stop mount events flowing back to the host, then make rootfs a mount point. */
export function prepareRootfs(rootfs: string, rootfsPropagation: string | undefined, idmappedTree?: number): void {
  // rslave by default: host mounts still propagate in, ours never leak out.
  const prop = rootfsPropagation ? PROPAGATION_OPTIONS[rootfsPropagation] ?? MS.SLAVE | MS.REC : MS.SLAVE | MS.REC;
  const recursive = prop | MS.REC;
  libc.mount(null, '/', null, recursive, null);
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

/** --no-pivot: move the rootfs over / and chroot (the old root stays mounted below). */
export function moveRoot(rootfs: string): void {
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
