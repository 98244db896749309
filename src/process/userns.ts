// The user-namespace strategies of launch() (src/process/launch.ts): starting a
// process inside a user namespace from a multithreaded engine.
//
// The engine can't unshare(CLONE_NEWUSER) or setns() into a user namespace
// (EINVAL when multithreaded), and every namespace the container gets must be
// created by a process already inside the new user namespace, so that the
// user namespace owns it. So the process tree is built in stages:
//
//   stage 0  the CLI (host root). For a new namespace, src/linux/userns.ts
//            creates it with an `unshare --user` holder and writes
//            setgroups/uid_map/gid_map as the privileged parent; it keeps an fd
//            on the namespace. Then it spawns
//              nsenter --user=/proc/self/fd/U [--net=P ...] -- ENGINE init.js userns-stage1 CONFIG
//            nsenter is single-threaded C: it joins the namespaces given by
//            path first where it must (one owned by the host user namespace can
//            only be joined before leaving it), then the user namespace, and
//            becomes uid 0/gid 0 there, so the engine starts with a full
//            capability set *in that namespace* and none outside it.
//   stage 1  the engine inside the user namespace (runUserNamespaceStage1,
//            src/init/userns-stage1.ts). PID namespaces apply to children only: it
//            joins (by path) or unshares one on its main thread and spawns stage 2, which
//            is PID 1 of the new PID namespace (posix_spawn: once the namespace
//            for children differs from its own, the kernel refuses new threads
//            and the engine would abort in child_process). It reports stage 2's
//            host PID and the maps it sees, and exits. A time namespace,
//            joined by path or new (made by a holder: src/process/timens-holder.ts),
//            is joined by nsenter in stage 0, so no engine ever has one pending.
//   stage 2  the real init (src/init/init.ts) or exec-init, unchanged: it creates
//            the remaining namespaces (mount, uts, ipc, net, cgroup) and skips
//            those nsenter already joined.
//
// Protocol on the sync pipe (src/process/protocol.ts), before the usual init protocol:
//   stage 1 → CLI  {"type":"stage2","pid":N,"uidMap":"…","gidMap":"…"}
//   stage 1 → CLI  {"type":"error","msg":…}       stage 1 failed; nothing was spawned
//   EOF before either: nsenter failed (its message went to stderr).
// The CLI is a child subreaper: once it has reaped stage 1, stage 2 is its own
// child, which `run` and `exec` wait for (after the CLI exits, the caller's
// subreaper, conmon or containerd-shim, inherits it as with runc).
// The CLI then joins stage 2 to the cgroup itself (CgroupEntry in launch.ts: the
// cgroup files are host root's, the mapped root can't write them), create gives
// exec.fifo and start.fifo to the mapped root (src/container/create-userns.ts),
// and only then sends the plan: stage 2 is blocked reading it, so no container
// code runs outside the cgroup.
//
// File descriptors, the same numbers in nsenter, stage 1 and stage 2, laid out
// by FdSlots (src/process/fd-slots.ts): 0-2 stdio, 3..N+2 --preserve-fds, the sync pair, then
// the caller's named extra fds (create: an O_PATH fd on the state dir, which the
// mapped root could not walk to, idmapped mount trees, the console socket), the
// sealed runtime's trees (src/linux/seal.ts); the user namespace fd comes last
// and stops at stage 1.
import * as libc from '../linux/libc';
import { SyncChannel } from './channel';
import { FdSlots } from './fd-slots';
import { STAGE1_ARG, type Stage1Config } from './plan';
import { ChildError, ProtocolError } from './protocol';
import { trace } from '../log';
import { traceHandoff } from '../trace/record';
import { createUserNamespace, NSENTER, parseIdMap } from '../linux/userns';
import { sealedArgv, sealRuntime } from '../linux/seal';
import { isUnprivileged } from '../linux/rootless';
import { INIT_ROLE } from '../paths';
import type { Namespace, NamespaceType } from '../spec/types';
import type { Launched, LaunchRequest, StrategyRequest } from './launch';

/** nsenter's option for each namespace type it joins by path. Mount is left to
 * stage 2 (the engine and its scripts must stay reachable at their host paths);
 * pid to stage 1: once the namespace for children differs from its own, the
 * kernel refuses new threads (EINVAL), and the engine starts threads as it
 * boots, so stage 1 switches it itself just before spawning stage 2. */
const NSENTER_OPTION: Partial<Record<NamespaceType, string>> = {
  // a time namespace can only be joined by a single-threaded process (EUSERS otherwise)
  time: '--time',
  network: '--net',
  ipc: '--ipc',
  uts: '--uts',
  cgroup: '--cgroup',
};

export function nsenterJoinArgs(join: Namespace[]): string[] {
  const args: string[] = [];
  for (const n of join) {
    const opt = NSENTER_OPTION[n.type];
    if (n.path && opt) args.push(`${opt}=${n.path}`);
  }
  return args;
}

/** Stage 0: spawn stage 1 through nsenter into `user` (joining `join` on the
 * way), and read its report; stage 1 spawns r.role as stage 2. */
export function spawnInUserNamespace(r: StrategyRequest, user: NonNullable<LaunchRequest['user']>, join: Namespace[]): Launched {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  let nsFd = -1;
  let stage1: number | undefined;
  // the same numbers in nsenter, stage 1 and stage 2; the sealed runtime's trees
  // follow the extra fds; the user namespace fd comes last and stops at stage 1
  const slots = new FdSlots(r.preserveFds, childWrite, childRead);
  const fds = Object.fromEntries(Object.entries(r.extraFds).map(([name, fd]) => [name, slots.add(fd)]));
  const sealed = sealRuntime();
  const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
  const lastFd = slots.last;
  try {
    let userPath: string;
    if ('path' in user) {
      userPath = user.path;
    } else {
      nsFd = 'fd' in user ? user.fd : createUserNamespace(user.uidMap, user.gidMap);
      userPath = `/proc/self/fd/${slots.add(nsFd)}`;
    }
    // past lastFd too: nsenter joins it (before the user namespace: it is the host's), stage 1 closes it
    const timeArgs = typeof r.time === 'object' ? [`--time=/proc/self/fd/${slots.add(r.time.fd)}`] : r.time ? [`--time=${r.time}`] : [];
    const config: Stage1Config = {
      unshare: r.pid.filter((n) => !n.path).map(() => 'pid' as const),
      join: r.pid.filter((n): n is { type: 'pid'; path: string } => !!n.path),
      argv: sealedArgv(sealed, sealedFds, r.role, [String(slots.syncW), String(slots.syncR)]),
      lastFd,
      syncW: slots.syncW,
      syncR: slots.syncR,
      trace: traceHandoff(),
    };
    libc.prctl(libc.PR.SET_CHILD_SUBREAPER, 1);
    trace('user namespace ready');
    stage1 = libc.posixSpawn(
      NSENTER,
      // unprivileged, we wrote "deny" to setgroups (CVE-2014-8989): nsenter's setgroups(0)
      // would fail there, and our own uid is the namespace's root already (src/linux/rootless-idmap.ts)
      [NSENTER, `--user=${userPath}`, ...(isUnprivileged() ? ['--preserve-credentials'] : []), ...nsenterJoinArgs(join), ...timeArgs, '--', ...sealedArgv(sealed, sealedFds, INIT_ROLE, [STAGE1_ARG, JSON.stringify(config)])],
      [], slots.pairs(), '/', true,
    );
  } finally {
    libc.close(childWrite);
    libc.close(childRead);
    sealed.close();
    if (nsFd >= 0 && !('fd' in user)) libc.close(nsFd);
  }
  const chan = new SyncChannel(parentRead, parentWrite);
  let report;
  try {
    report = chan.expect('stage2');
    trace('user namespace stage 1 reported');
  } catch (e) {
    chan.close();
    if (e instanceof ChildError) throw new Error(`user namespace stage 1: ${e.message}`, { cause: e });
    if (e instanceof ProtocolError && e.got === 'eof') throw new Error(`${NSENTER} could not start the container process in its user namespace (see its message above)`);
    throw e;
  } finally {
    // Stage 1 exits after its report: reaping it makes stage 2 our child.
    libc.reapExiting(stage1);
    trace('user namespace stage 1 reaped');
  }
  return { chan, pid: report.pid, uidMap: parseIdMap(report.uidMap), gidMap: parseIdMap(report.gidMap), fds };
}

/**
 * launch()'s way when the caller can't switch back into its own PID namespace
 * (root of a user namespace it did not make the PID namespace in: rootless
 * podman's runtime): stage 1 is spawned in our own namespaces, switches its
 * children's PID namespace (join or new), spawns `role` as stage 2 and exits;
 * we are a child subreaper, so stage 2 becomes our child, as the direct
 * strategy's is. Stage 2 then gets its plan on the same sync pipe.
 */
export function spawnThroughStage1(r: StrategyRequest): Launched {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  const slots = new FdSlots(r.preserveFds, childWrite, childRead);
  const fds = Object.fromEntries(Object.entries(r.extraFds).map(([name, fd]) => [name, slots.add(fd)]));
  let stage1: number | undefined;
  const sealed = sealRuntime();
  try {
    const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
    const config: Stage1Config = {
      // a time namespace comes apart: nsenter joins it
      unshare: r.pid.filter((n) => !n.path).map(() => 'pid' as const),
      join: r.pid.filter((n): n is { type: 'pid'; path: string } => !!n.path),
      argv: sealedArgv(sealed, sealedFds, r.role, [String(slots.syncW), String(slots.syncR)]),
      lastFd: slots.last,
      syncW: slots.syncW,
      syncR: slots.syncR,
      trace: traceHandoff(),
    };
    const argv1 = sealedArgv(sealed, sealedFds, INIT_ROLE, [STAGE1_ARG, JSON.stringify(config)]);
    // a time namespace is joined by nsenter, single-threaded (as the direct strategy does)
    const timePath = typeof r.time === 'object' ? `/proc/self/fd/${slots.add(r.time.fd)}` : r.time;
    const [path, args] = timePath ? [NSENTER, [NSENTER, `--time=${timePath}`, '--', ...argv1]] : [argv1[0] as string, argv1];
    libc.prctl(libc.PR.SET_CHILD_SUBREAPER, 1);
    stage1 = libc.posixSpawn(path, args, [], slots.pairs(), '/', true);
  } finally {
    sealed.close();
    libc.close(childWrite);
    libc.close(childRead);
  }
  const chan = new SyncChannel(parentRead, parentWrite);
  try {
    return { pid: chan.expect('stage2').pid, chan, fds };
  } catch (e) {
    chan.close();
    if (e instanceof ChildError) throw new Error(`PID namespace stage 1: ${e.message}`, { cause: e });
    throw e;
  } finally {
    libc.reapExiting(stage1);
  }
}

