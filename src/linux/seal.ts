// Sealing the runtime against its containers (the CVE-2019-5736 class).
//
// The init and the exec helper are the host's JavaScript engine, started from its
// real file. A container can get a handle on that file: its entrypoint can be a
// script starting with `#!/proc/self/exe` (the kernel then runs the init's own
// executable as the container's process), and a process watching /proc can open
// /proc/<pid>/exe, map_files/ or fd/ of a helper that has not execve'd yet.
// Reopened for writing once no runtime process executes it (ETXTBSY gone), the
// handle would let the container rewrite the engine, and the next toyrun command
// on the host would run the container's code as root.
//
// So every process toyrun starts for a container is spawned from a private mount
// namespace in which the runtime's files are read-only bind mounts at their own
// paths (Bun and Node resolve the script, the bytecode cache and koffi by path):
//
//   unshare(CLONE_NEWNS)          on the main thread only: a copy of the mount table
//   MS_SLAVE                      on the mounts holding those files, in the copy only,
//                                 so that our binds cannot propagate to the host
//   bind + MS_RDONLY remount      dist/, node_modules/ and the engine (if elsewhere)
//   posix_spawn                   the child's exe, maps and fds are on those mounts
//   setns(host mnt ns)            back, then the saved root and cwd again
//
// A file's mount travels with every handle on it: opening the engine through
// /proc/<pid>/exe, /proc/<pid>/map_files/*, /proc/<pid>/fd/N or a kept fd for
// writing fails with EROFS. The read-only flag can't be cleared from a container:
// mount(2) and mount_setattr(2) only touch mounts of the caller's own namespace
// (check_mnt), and this namespace dies once the child moved on to the container's.
// Runc 1.2 answers the same class with a read-only overlay (or a sealed memfd) of
// its single binary; toyrun's engine needs its scripts and native modules at their
// paths, hence the binds. Nothing is copied and nothing is cached across commands.
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as libc from './libc';
import { AT_FDCWD, CLONE, MS, O } from './libc';
import { bundleDir } from '../paths';

/** The files the init and the exec helper execute or map: the bundles (dist/,
 * dist/node/, with their bytecode caches), node_modules (koffi's native module,
 * and Bun's engine) and the engine itself when it lives elsewhere (Node). */
export function runtimeFiles(): string[] {
  const bundles = realpathSync(bundleDir());
  const dist = basename(bundles) === 'node' ? dirname(bundles) : bundles;
  const modules = join(dirname(dist), 'node_modules');
  const targets = [dist];
  if (existsSync(modules)) targets.push(realpathSync(modules));
  const engine = realpathSync(process.execPath);
  if (!targets.some((t) => engine.startsWith(t + '/'))) targets.push(engine);
  return targets;
}

/** The root of the mount holding path (the path itself if it is one). */
function mountRootOf(path: string): string {
  let p = path;
  while (p !== '/' && !libc.isMountRoot(p)) p = dirname(p);
  return p;
}

/**
 * Run fn (a posix_spawn and whatever namespace switches it needs) with this
 * thread in a private copy of its mount namespace where the runtime's files are
 * read-only, then come back. Every path and fd is resolved before the switch.
 */
export function withSealedRuntime<T>(fn: () => T): T {
  const targets = runtimeFiles();
  const holders = [...new Set(targets.map((t) => mountRootOf(dirname(t))))];
  const opened: number[] = [];
  const open = (path: string, flags: number): number => {
    const fd = libc.openat(AT_FDCWD, path, flags | O.CLOEXEC);
    opened.push(fd);
    return fd;
  };
  try {
    const ownMnt = open('/proc/self/ns/mnt', O.RDONLY);
    const root = open('/', O.PATH | O.DIRECTORY);
    const cwd = open('.', O.PATH | O.DIRECTORY);
    libc.unshare(CLONE.NEWNS); // implies CLONE_FS: this thread gets its own root and cwd
    try {
      try {
        // Without this, a bind under a shared mount would show up in the host's
        // namespace too (its peers). One mount, not MS_REC on /: the container's
        // namespace is a copy of this one, and the other mounts keep their
        // propagation for linux.rootfsPropagation.
        for (const h of holders) libc.mount(null, h, null, MS.SLAVE, null);
        for (const t of targets) {
          libc.mount(t, t, null, MS.BIND, null);
          libc.mount(null, t, null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV, null);
        }
      } catch (e) {
        throw new Error(`sealing the runtime's files read-only: ${(e as Error).message}`, { cause: e });
      }
      return fn();
    } finally {
      returnTo(ownMnt);
      // setns(mnt) resets root and cwd to the namespace's: put both back
      libc.fchdir(root);
      libc.chroot('.');
      libc.fchdir(cwd);
    }
  } finally {
    for (const fd of opened) libc.close(fd);
  }
}

/** setns(mnt) needs this thread's fs_struct to be its own (EINVAL otherwise): a
 * thread the engine starts from this one shares it, and one may start at any
 * allocation. So unshare(CLONE_FS) right before, and again if it happened anyway. */
function returnTo(ownMnt: number): void {
  for (let attempt = 1; ; attempt++) {
    libc.unshare(CLONE.FS);
    try {
      libc.setns(ownMnt, CLONE.NEWNS, 'own mount namespace');
      return;
    } catch (e) {
      if (!(e instanceof libc.SysError && e.code === 'EINVAL') || attempt === 5) throw e;
    }
  }
}
