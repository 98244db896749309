// A new time namespace (linux.timeOffsets) for a container, made apart from the
// processes that will live in it.
//
// unshare(CLONE_NEWTIME) does not move the caller: it sets the namespace its
// children get, and until then the caller's offsets stay writable through
// /proc/self/timens_offsets. While a task's time namespace for children differs
// from its own, kernels before 6.2 refuse it new threads *and* CLONE_VM
// children (copy_process: EINVAL for CLONE_THREAD|CLONE_VM, so posix_spawn too),
// and only a plain fork enters the namespace (an execve does not switch before
// 6.2, "fs/exec: switch timens when a task gets a new mm"). An engine that made
// the namespace itself (the init, or stage 1) aborts there the next time it
// wants a thread, and could not have spawned anything into it anyway. Going
// back needs setns to the old namespace, which requires a single-threaded
// caller (timens_install: EUSERS).
//
// So a short-lived holder (the engine running init.js with HOLDER_ARG) unshares,
// writes the offsets, says so and waits; the runtime opens the holder's
// /proc/PID/ns/time_for_children (a reference that keeps the namespace alive),
// lets the holder exit, and hands the fd to nsenter, which is single-threaded C:
// its setns(CLONE_NEWTIME) moves it into the namespace at once (and freezes the
// offsets), and it execs the engine there. The same on 6.1 and 6.18; the init
// never has a time namespace pending.
//
// This is the runtime's side; the holder's is src/init/timens-holder.ts.
import * as libc from '../linux/libc';
import { sealedArgv, sealRuntime } from '../linux/seal';
import { INIT_ROLE } from '../paths';
import { HOLDER_ARG } from './plan';

/** Make a new time namespace with these offsets ("monotonic 3600 0\n…", see
 * timeOffsetsText) and return an fd on it (O_CLOEXEC). The namespace is owned by
 * the caller's user namespace; nothing is in it yet. */
export function newTimeNamespace(offsets: string | undefined): number {
  const [reportRead, reportWrite] = libc.pipe();
  const [releaseRead, releaseWrite] = libc.pipe();
  const sealed = sealRuntime();
  let holder: number | undefined;
  try {
    // every fd at its own number (dup2 onto itself only clears close-on-exec)
    const own = [0, 1, 2, reportWrite, releaseRead, ...sealed.trees.map((t) => t.fd)];
    const fds = own.map((fd): [number, number] => [fd, fd]);
    const argv = sealedArgv(sealed, sealed.trees.map((t) => t.fd), INIT_ROLE, [HOLDER_ARG, offsets ?? '', String(reportWrite), String(releaseRead)]);
    try {
      holder = libc.posixSpawn(argv[0] as string, argv, [], fds, '/', true);
    } finally {
      // the holder's ends: closed before the read below, so a dead holder is EOF
      libc.close(reportWrite);
      libc.close(releaseRead);
    }
    const buf = Buffer.alloc(4096);
    const n = readRetry(reportRead, buf);
    const report = buf.subarray(0, n).toString();
    if (report !== 'ok') throw new Error(n === 0 ? 'the time namespace holder exited without a word' : report);
    // ptrace-read access to the holder (non-dumpable, ours): host root has CAP_SYS_PTRACE
    return libc.openat(libc.AT_FDCWD, `/proc/${holder}/ns/time_for_children`, libc.O.RDONLY | libc.O.CLOEXEC);
  } finally {
    sealed.close();
    for (const fd of [reportRead, releaseWrite]) libc.close(fd);
    // EOF on its release pipe: the holder exits; the namespace lives on through our fd
    if (holder !== undefined) libc.reapExiting(holder);
  }
}

export function readRetry(fd: number, buf: Buffer): number {
  for (;;) {
    try {
      return libc.read(fd, buf);
    } catch (e) {
      if (!(e instanceof libc.SysError && e.code === 'EINTR')) throw e;
    }
  }
}
