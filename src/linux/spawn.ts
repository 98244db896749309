// Starting and reaping helper processes without the engine's child_process.
// After unshare(CLONE_NEWPID) (or setns to a PID namespace) the kernel refuses
// to create threads in the caller (EINVAL for CLONE_THREAD while its PID
// namespace for children differs from its own), and the engine may want a new
// worker thread at any moment during child_process.spawn — it then aborts.
// posix_spawn runs entirely in C on the calling thread, so it is safe there.
import * as libc from './libc';
import { NS_CLONE_FLAG, openOwnNamespace, restoreNamespace } from './namespaces';
import { constants } from 'node:os';
import { readFileSync } from 'node:fs';

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

export interface SpawnIntoOptions {
  /** Switch this thread back afterwards (default). A caller that exits right after
   * the spawn says false: in a user namespace, the way back into a PID namespace
   * the host owns is closed (setns needs CAP_SYS_ADMIN over its owner). */
  comeBack?: boolean;
  /** Runs after the switches, right before the spawn: native calls only. */
  beforeSpawn?: () => void;
}

/** Spawn with this thread switched into PID/time namespaces (joined in the
 * given order, then the new ones made), then switch back. The one place the
 * runtime enters namespaces that apply to children only: create's init, exec's
 * helper, and stage 2 of the user-namespace stages all come through here.
 * Between the switch and the switch back the kernel refuses to create threads
 * in the caller (EINVAL), and the engine aborts if it wants one: every fd is
 * opened and the spawn prepared beforehand, so only native calls run there. */
export function spawnIntoNamespaces(prepared: libc.PreparedSpawn, namespaces: ChildNamespace[], opts: SpawnIntoOptions = {}): number {
  const comeBack = opts.comeBack ?? true;
  const switches: { ns: ChildNamespace; own: number; target: number }[] = [];
  try {
    for (const ns of namespaces) {
      switches.push({
        ns,
        own: comeBack ? openOwnNamespace(ns.type) : -1,
        // O_NONBLOCK: a FIFO given as the path must fail setns, not block open() forever
        target: ns.path ? libc.openat(libc.AT_FDCWD, ns.path, libc.O.RDONLY | libc.O.NONBLOCK | libc.O.CLOEXEC) : -1,
      });
    }
  } catch (e) {
    for (const s of switches) for (const fd of [s.own, s.target]) if (fd >= 0) libc.close(fd);
    throw e;
  }
  startCollectorThreads();
  // the child starts non-dumpable (see withRealGidApart)
  return withRealGidApart(() => {
    // Between posix_spawn's clone and its execve the child is a copy of this CLI
    // (its memory, and the host's bin/toyrun and koffi.node mapped from their
    // writable paths) already inside the container's PID namespace, in the /proc
    // of the container's processes. Our memory is non-dumpable for that window:
    // /proc/<pid>/{exe,mem,map_files,fd} of it then need CAP_SYS_PTRACE over the
    // host (ptrace_may_access, kernel/ptrace.c), which only a privileged container
    // holds, and with it a container could ptrace the host anyway.
    const dumpable = libc.prctl(libc.PR.GET_DUMPABLE);
    libc.prctl(libc.PR.SET_DUMPABLE, 0);
    try {
      for (const s of switches) {
        if (s.target >= 0) libc.setns(s.target, NS_CLONE_FLAG[s.ns.type], `${s.ns.path} (${s.ns.type})`);
        else libc.unshare(NS_CLONE_FLAG[s.ns.type]);
      }
      opts.beforeSpawn?.();
      return libc.spawnPrepared(prepared);
    } finally {
      for (const s of switches.reverse()) {
        if (s.own >= 0) restoreNamespace(s.ns.type, s.own);
        if (s.target >= 0) libc.close(s.target);
      }
      libc.prctl(libc.PR.SET_DUMPABLE, dumpable);
    }
  });
}

let collectorStarted = false;
/** Start the engine's garbage-collector helper threads now, once. JavaScriptCore
 * starts them lazily, at the first collection that needs them, and one starting
 * while our PID namespace for children differs from our own aborts the engine
 * (the kernel refuses the thread: seen after an image unpack filled the heap).
 * A full collection starts them (~5 ms in a create: the price of every spawn;
 * an eden collection costs 0.1 ms but starts none, and with one right before the
 * unshare half the windows that allocated aborted). Node's V8 starts its own at
 * boot. Attacked by test/integration/pid-window.test.ts. */
function startCollectorThreads(): void {
  if (collectorStarted) return;
  collectorStarted = true;
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
}

/** A gid this thread may take as its real gid other than `egid`: any, in the
 * initial user namespace (we hold CAP_SETGID there); in another, a mapped one. */
function otherGid(egid: number): number | undefined {
  let map: string;
  try {
    map = readFileSync('/proc/self/gid_map', 'utf8');
  } catch {
    return undefined;
  }
  if (/^\s*0\s+0\s+4294967295\s*$/.test(map)) return egid === 65534 ? 65533 : 65534;
  for (const line of map.trim().split('\n')) {
    const [inside, , count] = line.trim().split(/\s+/).map(Number) as [number, number, number];
    for (let g = inside; g < inside + Math.min(count, 2); g++) if (g !== egid) return g;
  }
  return undefined;
}

/**
 * Run spawn (a posix_spawn of a runtime process) with this thread's real gid
 * apart from its effective one: the kernel then starts the child's engine
 * non-dumpable (fs/exec.c, begin_new_exec: a program whose real and effective ids
 * differ gets set_dumpable(suid_dumpable), 0 by default), so it is closed to
 * /proc/<pid>/{mem,fd,exe,map_files} and ptrace from its first instruction, not
 * only from the prctl of its first module (src/init/undumpable.ts, which also puts
 * the real gid back). The raw syscall changes this thread only, around one
 * native call; without a second mapped gid (a user namespace mapping one id)
 * the child relies on that prctl alone.
 */
function withRealGidApart(spawn: () => number): number {
  const [rgid, egid] = libc.getresgid();
  const other = otherGid(egid);
  if (other === undefined) return spawn();
  libc.setresgidThisThread(other, -1, -1);
  try {
    return spawn();
  } finally {
    libc.setresgidThisThread(rgid, -1, -1);
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
