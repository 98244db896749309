// Starting a process inside a user namespace from a multithreaded engine.
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
// The CLI then joins stage 2 to the cgroup itself (the cgroup files are host
// root's: the mapped root can't write them), gives exec.fifo and start.fifo to
// the mapped root, and only then sends the plan: stage 2 is blocked reading it,
// so no container code runs outside the cgroup.
//
// File descriptors, the same numbers in nsenter, stage 1 and stage 2, laid out
// by FdSlots (src/process/fd-slots.ts): 0-2 stdio, 3..N+2 --preserve-fds, the sync pair, then
// the caller's named extra fds (create: an O_PATH fd on the state dir, which the
// mapped root could not walk to, idmapped mount trees, the console socket), the
// sealed runtime's trees (src/linux/seal.ts); the user namespace fd comes last
// and stops at stage 1.
import { chmodSync } from 'node:fs';
import { moveIntoCgroup } from '../linux/cgroups/join';
import { join } from 'node:path';
import * as libc from '../linux/libc';
import { AT_FDCWD, O } from '../linux/libc';
import { SyncChannel } from './channel';
import { FdSlots } from './fd-slots';
import { STAGE1_ARG, type IdmapFds, type Stage1Config } from './plan';
import { ChildError, ProtocolError } from './protocol';
import { trace } from '../log';
import { traceHandoff } from '../trace/record';
import { START_FIFO } from './startsync';
import { findNamespace, NS_PROC_NAME } from '../linux/namespaces';
import { isBind } from '../linux/mounts';
import { idmapRequests, idmappedTree } from '../linux/idmap';
import { connectConsoleSocket } from '../linux/console';
import { createUserNamespace, formatIdMap, NSENTER, parseIdMap, toHostId, unmappedUserProblems, unreachableBy } from '../linux/userns';
import { ValidationError } from '../spec/validate';
import { timeOffsetsText } from '../linux/timens';
import { newTimeNamespace } from './timens-holder';
import { sealedArgv, sealRuntime } from '../linux/seal';
import { isUnprivileged } from '../linux/rootless';
import type { ChildNamespace } from '../linux/spawn';
import { INIT_ROLE, type Role } from '../paths';
import type { IdMapping, Namespace, NamespaceType, Spec } from '../spec/types';

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

export interface UserNamespaceSpawn {
  /** Join the user namespace at path or open on fd, or create one with these maps. */
  user: { path: string } | { fd: number } | { uidMap: IdMapping[]; gidMap: IdMapping[] };
  /** Namespaces to join by path (user and mount are ignored here). */
  join: Namespace[];
  /** A new PID namespace for stage 2. */
  unshare: 'pid'[];
  /** An fd on a new time namespace (src/process/timens-holder.ts), joined by nsenter in stage 0. */
  timeNamespaceFd?: number;
  /** Role of stage 1 (init) and of stage 2 (init or exec-init). */
  stage1Role: Role;
  stage2Role: Role;
  preserveFds: number;
  /** Parent fds handed to stage 2 after the sync pair, by name, in this order (FdSlots). */
  extraFds: Record<string, number>;
}

export interface UserNamespaceSpawned {
  chan: SyncChannel;
  /** Host PID of stage 2. */
  pid: number;
  uidMap: IdMapping[];
  gidMap: IdMapping[];
  /** The fd numbers of extraFds in stage 2, by the same names. */
  extraFdNumbers: Record<string, number>;
}

export function nsenterJoinArgs(join: Namespace[]): string[] {
  const args: string[] = [];
  for (const n of join) {
    const opt = NSENTER_OPTION[n.type];
    if (n.path && opt) args.push(`${opt}=${n.path}`);
  }
  return args;
}

/** Stage 0: spawn stage 1 through nsenter and read its report. */
export function spawnInUserNamespace(o: UserNamespaceSpawn): UserNamespaceSpawned {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  let nsFd = -1;
  let stage1: number | undefined;
  // the same numbers in nsenter, stage 1 and stage 2; the sealed runtime's trees
  // follow the extra fds; the user namespace fd comes last and stops at stage 1
  const slots = new FdSlots(o.preserveFds, childWrite, childRead);
  const extraFdNumbers = Object.fromEntries(Object.entries(o.extraFds).map(([name, fd]) => [name, slots.add(fd)]));
  const sealed = sealRuntime();
  const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
  const lastFd = slots.last;
  try {
    let userPath: string;
    if ('path' in o.user) {
      userPath = o.user.path;
    } else {
      nsFd = 'fd' in o.user ? o.user.fd : createUserNamespace(o.user.uidMap, o.user.gidMap);
      userPath = `/proc/self/fd/${slots.add(nsFd)}`;
    }
    // past lastFd too: nsenter joins it (before the user namespace: it is the host's), stage 1 closes it
    const timeArgs = o.timeNamespaceFd !== undefined ? [`--time=/proc/self/fd/${slots.add(o.timeNamespaceFd)}`] : [];
    const config: Stage1Config = {
      unshare: o.unshare,
      join: o.join.filter((n): n is { type: 'pid'; path: string } => n.type === 'pid' && !!n.path),
      argv: sealedArgv(sealed, sealedFds, o.stage2Role, [String(slots.syncW), String(slots.syncR)]),
      lastFd,
      syncW: slots.syncW,
      syncR: slots.syncR,
      trace: traceHandoff(),
    };
    const fds = slots.pairs();
    libc.prctl(libc.PR.SET_CHILD_SUBREAPER, 1);
    trace('user namespace ready');
    stage1 = libc.posixSpawn(
      NSENTER,
      // unprivileged, we wrote "deny" to setgroups (CVE-2014-8989): nsenter's setgroups(0)
      // would fail there, and our own uid is the namespace's root already (src/linux/rootless-idmap.ts)
      [NSENTER, `--user=${userPath}`, ...(isUnprivileged() ? ['--preserve-credentials'] : []), ...nsenterJoinArgs(o.join), ...timeArgs, '--', ...sealedArgv(sealed, sealedFds, o.stage1Role, [STAGE1_ARG, JSON.stringify(config)])],
      [], fds, '/', true,
    );
  } finally {
    libc.close(childWrite);
    libc.close(childRead);
    sealed.close();
    if (nsFd >= 0 && !('fd' in o.user)) libc.close(nsFd);
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
  return {
    chan,
    pid: report.pid,
    uidMap: parseIdMap(report.uidMap),
    gidMap: parseIdMap(report.gidMap),
    extraFdNumbers,
  };
}

/**
 * spawnSynced's way when the caller can't switch back into its own PID namespace
 * (root of a user namespace it did not make the PID namespace in: rootless
 * podman's runtime): stage 1 is spawned in our own namespaces, switches its
 * children's PID namespace (join or new), spawns `role` as stage 2 and exits;
 * we are a child subreaper, so stage 2 becomes our child, as spawnSynced's is.
 * Stage 2 then gets its plan on the same sync pipe.
 */
export function spawnThroughStage1(role: Role, preserveFds: number, namespaces: ChildNamespace[], timeNamespace?: string | { fd: number }): { pid: number; chan: SyncChannel } {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  const slots = new FdSlots(preserveFds, childWrite, childRead);
  let stage1: number | undefined;
  const sealed = sealRuntime();
  try {
    const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
    const config: Stage1Config = {
      // spawnSynced's namespaces are PID ones (a time namespace comes apart: nsenter joins it)
      unshare: namespaces.filter((n) => n.type === 'pid' && !n.path).map(() => 'pid' as const),
      join: namespaces.filter((n): n is { type: 'pid'; path: string } => n.type === 'pid' && !!n.path),
      argv: sealedArgv(sealed, sealedFds, role, [String(slots.syncW), String(slots.syncR)]),
      lastFd: slots.last,
      syncW: slots.syncW,
      syncR: slots.syncR,
      trace: traceHandoff(),
    };
    const argv1 = sealedArgv(sealed, sealedFds, INIT_ROLE, [STAGE1_ARG, JSON.stringify(config)]);
    // a time namespace is joined by nsenter, single-threaded (as spawnSynced does)
    const timePath = typeof timeNamespace === 'object' ? `/proc/self/fd/${slots.add(timeNamespace.fd)}` : timeNamespace;
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
    return { pid: chan.expect('stage2').pid, chan };
  } catch (e) {
    chan.close();
    if (e instanceof ChildError) throw new Error(`PID namespace stage 1: ${e.message}`, { cause: e });
    throw e;
  } finally {
    libc.reapExiting(stage1);
  }
}

// ---- create: the container's init in a user namespace ----------------------------

export interface InitInUserNamespace extends UserNamespaceSpawned {
  /** Stage 2's number for the O_PATH fd on the state dir. */
  stateDirFd: number;
  /** Stage 2's numbers for idmapped trees: key -1 is the rootfs, others index spec.mounts. */
  idmapFds: IdmapFds;
  /** Stage 2's number for the console socket we connected. */
  consoleSocketFd?: number;
}

/** Spawn the init (stage 2 = dist/init.js) in the spec's user namespace. */
export function spawnInitInUserNamespace(
  spec: Spec, stateDir: string, rootfs: string, initRole: Role, preserveFds: number, consoleSocket?: string,
): InitInUserNamespace {
  const nss = spec.linux?.namespaces ?? [];
  const user = findNamespace(nss, 'user') as Namespace;
  const opened: number[] = [];
  const trees: number[] = [];
  try {
    const dirFd = libc.openat(AT_FDCWD, stateDir, O.PATH | O.DIRECTORY | O.CLOEXEC);
    opened.push(dirFd);
    const requests = idmapRequests(spec, rootfs);
    let userOpt: UserNamespaceSpawn['user'] = user.path ? { path: user.path } : { uidMap: spec.linux?.uidMappings ?? [], gidMap: spec.linux?.gidMappings ?? [] };
    if (requests.length > 0) {
      // idmapped trees are made here, by host root, with the container's user
      // namespace (or the mount's own maps): the namespace must exist first
      const nsFd = user.path
        ? libc.openat(AT_FDCWD, user.path, O.RDONLY | O.CLOEXEC)
        : createUserNamespace(spec.linux?.uidMappings ?? [], spec.linux?.gidMappings ?? []);
      opened.push(nsFd);
      userOpt = { fd: nsFd };
      for (const r of requests) {
        let mapsFd = nsFd;
        if (r.maps) {
          mapsFd = createUserNamespace(r.maps.uid, r.maps.gid);
          opened.push(mapsFd);
        }
        try {
          trees.push(idmappedTree(r.source, mapsFd, r.recursive));
        } catch (e) {
          throw new Error(`${r.index === 'rootfs' ? '/root/path' : `/mounts/${r.index}`}: idmapped mount of ${r.source}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    // The caller's console socket usually sits in a root-only directory: we connect
    // (as runc's parent does) and hand the connected socket down.
    const consoleFd = spec.process?.terminal && consoleSocket ? connectConsoleSocket(consoleSocket) : undefined;
    if (consoleFd !== undefined) opened.push(consoleFd);
    // a new time namespace: made by a holder outside (owned by the host's user
    // namespace, like the offsets it fixes), joined by nsenter with the others
    const time = findNamespace(nss, 'time');
    const timeFd = time && !time.path ? newTimeNamespace(timeOffsetsText(spec)) : undefined;
    if (timeFd !== undefined) opened.push(timeFd);
    const spawned = spawnInUserNamespace({
      user: userOpt,
      join: nss.filter((n) => n.path && n.type !== 'user' && n.type !== 'mount'),
      unshare: nss.some((n) => n.type === 'pid' && !n.path) ? ['pid'] : [],
      timeNamespaceFd: timeFd,
      stage1Role: initRole,
      stage2Role: initRole,
      preserveFds,
      extraFds: {
        stateDir: dirFd,
        ...Object.fromEntries(trees.map((fd, i) => [`idmap${i}`, fd])),
        ...(consoleFd !== undefined ? { console: consoleFd } : {}),
      },
    });
    const idmapFds: IdmapFds = { mounts: {} };
    requests.forEach((r, i) => {
      const fd = spawned.extraFdNumbers[`idmap${i}`] as number;
      if (r.index === 'rootfs') idmapFds.rootfs = fd;
      else idmapFds.mounts[r.index] = fd;
    });
    return { ...spawned, stateDirFd: spawned.extraFdNumbers.stateDir as number, idmapFds, consoleSocketFd: spawned.extraFdNumbers.console };
  } finally {
    for (const fd of [...opened, ...trees]) libc.close(fd);
  }
}

/** The maps stage 1 saw must be the ones config.json asked for (a joined namespace has its own). */
function mapMismatch(wanted: IdMapping[] | undefined, got: IdMapping[], at: string): string[] {
  if (!wanted?.length) return [];
  const key = (m: IdMapping[]): string => formatIdMap([...m].sort((a, b) => a.containerID - b.containerID));
  return key(wanted) === key(got) ? [] : [`${at} does not match the joined user namespace (${formatIdMap(got).trim().replace(/\n/g, ', ')})`];
}

/**
 * Between stage 1's report and the plan: everything the mapped root can't do
 * for itself, done by the host root. Throws a ValidationError-style message.
 *  - the joined namespace's maps must fit the config and process.user;
 *  - the rootfs and bind sources must be reachable (no capability applies to
 *    inodes whose owner is unmapped: only the mode bits count);
 *  - the cgroup files are owned by host root: the runtime writes stage 2's PID
 *    where the init would have written "0" (v1 tasks, v2 cgroup.procs);
 *  - exec.fifo and start.fifo go to the mapped root (runc chowns its exec.fifo) and the state dir
 *    becomes searchable (0711) so that the init can open the fifo in it.
 */
export function prepareInitInUserNamespace(
  spec: Spec, s: UserNamespaceSpawned, configFile: string, stateDir: string, rootfs: string, cgroupJoin: string[],
): void {
  const user = findNamespace(spec.linux?.namespaces, 'user');
  const problems: string[] = [];
  if (user?.path) {
    const where = `the user namespace ${user.path}`;
    problems.push(
      ...mapMismatch(spec.linux?.uidMappings, s.uidMap, '/linux/uidMappings'),
      ...mapMismatch(spec.linux?.gidMappings, s.gidMap, '/linux/gidMappings'),
      ...unmappedUserProblems(spec, s.uidMap, s.gidMap, where),
    );
  }
  const uid = toHostId(s.uidMap, 0) ?? 0;
  const gid = toHostId(s.gidMap, 0) ?? 0;
  const root = unreachableBy(`${rootfs}/.`, uid, gid, s.uidMap, s.gidMap);
  if (root) problems.push(`/root/path ${rootfs} is not reachable by the container's root: ${root}`);
  (spec.mounts ?? []).forEach((m, i) => {
    if (!isBind(m) || !m.source) return;
    const why = unreachableBy(m.source, uid, gid, s.uidMap, s.gidMap);
    if (why) problems.push(`/mounts/${i}/source ${m.source} is not reachable by the container's root: ${why}`);
  });
  if (problems.length > 0) throw new ValidationError(configFile, problems);
  moveIntoCgroup(s.pid, cgroupJoin);
  for (const fifo of ['exec.fifo', START_FIFO]) libc.lchown(join(stateDir, fifo), uid, gid);
  chmodSync(stateDir, 0o711);
}

// ---- exec: one more process in a running container's user namespace ------------

/**
 * `toyrun exec` into a container that has a user namespace: stage 2 is the
 * exec-init script. Everything is joined through the init's /proc/<pid>/ns
 * files: user by nsenter; network, ipc, uts and cgroup by nsenter too (one the
 * host made, such as a podman network namespace, can't be joined from inside);
 * pid and time by stage 1; mount is left to the exec-init (it skips the ones
 * already joined). The exec-init can't write the host-owned cgroup.procs: it
 * is joined here, before the caller sends the plan (pass an empty join list in it).
 * Returns stage 2's host PID, our child once this returns (we are a subreaper).
 */
export function spawnExecInUserNamespace(
  initPid: number, spec: Spec, stage1Role: Role, execInitRole: Role, preserveFds: number, cgroupJoin: string[], consoleSocket?: string,
): { pid: number; chan: SyncChannel; consoleSocketFd?: number } {
  const nss = (spec.linux?.namespaces ?? []).filter((n) => n.type !== 'user' && n.type !== 'mount');
  // connected here, handed down: the mapped root may not reach the socket's directory
  const consoleFd = consoleSocket ? connectConsoleSocket(consoleSocket) : undefined;
  let s: UserNamespaceSpawned;
  try {
    s = spawnInUserNamespace({
      user: { path: `/proc/${initPid}/ns/user` },
      join: nss.map((n) => ({ type: n.type, path: `/proc/${initPid}/ns/${NS_PROC_NAME[n.type]}` })),
      unshare: [],
      stage1Role,
      stage2Role: execInitRole,
      preserveFds,
      extraFds: consoleFd !== undefined ? { console: consoleFd } : {},
    });
  } finally {
    if (consoleFd !== undefined) libc.close(consoleFd);
  }
  try {
    moveIntoCgroup(s.pid, cgroupJoin);
  } catch (e) {
    s.chan.close(); // the exec-init reads EOF instead of a plan and exits
    throw e;
  }
  return { pid: s.pid, chan: s.chan, consoleSocketFd: s.extraFdNumbers.console };
}
