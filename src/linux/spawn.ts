// Starting and reaping helper processes without the engine's child_process.
// After unshare(CLONE_NEWPID) (or setns to a PID namespace) the kernel refuses
// to create threads in the caller (EINVAL for CLONE_THREAD while its PID
// namespace for children differs from its own), and the engine may want a new
// worker thread at any moment during child_process.spawn — it then aborts.
// posix_spawn runs entirely in C on the calling thread, so it is safe there.
import * as libc from './libc';
import { NS_CLONE_FLAG, openOwnNamespace, restoreNamespace } from './namespaces';
import { constants } from 'node:os';

export interface ExitStatus {
  code: number | null;
  signal: number | null;
}

/** waitpid(WNOHANG): the exit status, or undefined while the process runs. */
export function reap(pid: number): ExitStatus | undefined {
  let r: [number, number];
  try {
    r = libc.waitpid(pid, 1 /* WNOHANG */);
  } catch (e) {
    if (e instanceof libc.SysError && e.code === 'ECHILD') return { code: null, signal: null };
    throw e;
  }
  const [got, status] = r;
  if (got === 0) return undefined;
  const sig = status & 0x7f;
  return sig === 0 ? { code: (status >> 8) & 0xff, signal: null } : { code: null, signal: sig };
}

/** Resolve when the child exits, without blocking the event loop (signal forwarding keeps running). */
export function waitForExit(pid: number): Promise<ExitStatus> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = (): boolean => {
      const st = reap(pid);
      if (!st) return false;
      process.off('SIGCHLD', check);
      clearTimeout(timer);
      resolve(st);
      return true;
    };
    // SIGCHLD wakes us when the child exits; the listener goes in before the first
    // check, so an exit in between is not missed. The slow poll covers an engine
    // that delivers no SIGCHLD to listeners (each wake-up tries only this pid, so
    // no other child is reaped by mistake).
    process.on('SIGCHLD', check);
    const poll = (): void => {
      if (!check()) timer = setTimeout(poll, 100);
    };
    poll();
  });
}

/** The shell convention for an exit status: the code, or 128+N for signal N. */
export function exitCode(st: ExitStatus): number {
  if (st.signal !== null) return 128 + st.signal;
  return st.code ?? 255;
}

/** A namespace that only children of the caller enter: joined by path, or new. */
export interface ChildNamespace {
  type: 'pid' | 'time';
  path?: string;
}

/** Spawn with this thread switched into PID/time namespaces, then switch back.
 * Between the switch and the switch back the kernel refuses to create threads
 * in the caller (EINVAL), and the engine aborts if it wants one: every fd is
 * opened and the spawn prepared beforehand, so only native calls run there. */
export function spawnIntoNamespaces(prepared: libc.PreparedSpawn, namespaces: ChildNamespace[]): number {
  const switches = namespaces.map((ns) => ({
    ns,
    own: openOwnNamespace(ns.type),
    // O_NONBLOCK: a FIFO given as the path must fail setns, not block open() forever
    target: ns.path ? libc.openat(libc.AT_FDCWD, ns.path, libc.O.RDONLY | libc.O.NONBLOCK | libc.O.CLOEXEC) : -1,
  }));
  // JavaScriptCore starts its GC helper threads lazily, at the first collection
  // that needs them; one starting inside the window aborts the engine (seen
  // after an image unpack filled the heap). A full collection now starts them
  // on our terms (<1 ms on a fresh heap). Node's V8 starts its own at boot.
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
  try {
    for (const s of switches) {
      if (s.target >= 0) libc.setns(s.target, NS_CLONE_FLAG[s.ns.type], `${s.ns.path} (${s.ns.type})`);
      else libc.unshare(NS_CLONE_FLAG[s.ns.type]);
    }
    return libc.spawnPrepared(prepared);
  } finally {
    for (const s of switches.reverse()) {
      restoreNamespace(s.ns.type, s.own);
      if (s.target >= 0) libc.close(s.target);
    }
  }
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Wait for a child, forwarding the caller's signals to it meanwhile (as runc
 * does for `run` and `exec` in the foreground); resolves with its exit status.
 * With a relayed terminal SIGWINCH is not forwarded: the relay copies the new
 * window size to the pty, and the kernel signals the pty's foreground group. */
export function waitForwardingSignals(pid: number, opts: { terminal?: boolean } = {}): Promise<ExitStatus> {
  const handlers = FORWARDED.filter((sig) => !(opts.terminal && sig === 'SIGWINCH')).map((sig) => {
    const h = (): void => {
      try {
        libc.kill(pid, constants.signals[sig]);
      } catch {
        // gone
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return waitForExit(pid).then((st) => {
    for (const [sig, h] of handlers) process.off(sig, h);
    return st;
  });
}
