// Launching a runtime process (the init, the exec helper) into a container: one
// entry, launch(request), which picks the strategy, and CgroupEntry, the one
// order in which create and exec make (or find) the cgroup, spawn, and join.
//
// Strategies (each starts the child from the sealed runtime, src/linux/seal.ts,
// its fds laid out by FdSlots, and switches namespaces that apply to children
// only through src/linux/spawn.ts spawnIntoNamespaces):
//   direct           this thread switches into the PID (and nsenter into the time)
//                    namespace, spawns, and switches back;
//   through stage 1  the same, from a throwaway stage 1, when this process can't
//                    switch back into its own PID namespace (root of a user
//                    namespace: rootless podman's runtime) — src/process/userns.ts;
//   user namespace   nsenter into the user namespace, stage 1 there switches the PID
//                    namespace and spawns the child — src/process/userns.ts.
import * as libc from '../linux/libc';
import { spawnIntoNamespaces, type ChildNamespace } from '../linux/spawn';
import { NSENTER } from '../linux/userns';
import { sealedArgv, sealRuntime } from '../linux/seal';
import { canSwitchBackPidNamespace } from '../linux/rootless';
import { allJoinFiles, moveIntoCgroup, startMoveGracePeriod } from '../linux/cgroups/join';
import type { JoinFiles } from '../linux/cgroups/types';
import type { Role } from '../paths';
import type { IdMapping, Namespace } from '../spec/types';
import { SyncChannel } from './channel';
import { FdSlots } from './fd-slots';
import { newTimeNamespace } from './timens-holder';

export interface LaunchRequest {
  role: Role;
  preserveFds: number;
  /** The PID namespace the child is the first process of: one to join (path), or a new one ({}). */
  pid?: { path?: string };
  /** Its time namespace: one to join, or a new one with these offsets, if any (made by a
   * holder: src/process/timens-holder.ts). Joined by nsenter: setns of a time
   * namespace needs a single-threaded caller (timens_install: EUSERS). */
  time?: { path: string } | { offsets?: string };
  /** The user namespace to start in (the user-namespace strategy): join by path or
   * open fd, or a new one with these maps. */
  user?: { path: string } | { fd: number } | { uidMap: IdMapping[]; gidMap: IdMapping[] };
  /** With `user`: namespaces nsenter joins by path before the child starts (one the
   * host owns can't be joined from inside). Without, the child joins them itself. */
  join?: Namespace[];
  /** Parent fds handed to the child after the sync pair, by name, in this order (FdSlots). */
  extraFds?: Record<string, number>;
}

export interface Launched {
  /** Host PID of the child; our child (with stage 1 in between, we are its subreaper). */
  pid: number;
  chan: SyncChannel;
  /** The child's numbers for request.extraFds, by the same names. */
  fds: Record<string, number>;
  /** With a user namespace: the maps stage 1 saw. */
  uidMap?: IdMapping[];
  gidMap?: IdMapping[];
}

/** The parts of a request a strategy works with: the time namespace as nsenter's
 * argument (a path, or an fd the strategy hands over), the PID namespace as a switch. */
export interface StrategyRequest {
  role: Role;
  preserveFds: number;
  pid: ChildNamespace[];
  time?: string | { fd: number };
  extraFds: Record<string, number>;
}

/** Start `request.role` as a first child in the container's namespaces; returns the channel to it. */
export function launch(request: LaunchRequest): Launched {
  const time = request.time;
  const newTime = time && 'offsets' in time ? newTimeNamespace(time.offsets) : undefined;
  try {
    const r: StrategyRequest = {
      role: request.role,
      preserveFds: request.preserveFds,
      pid: request.pid ? [{ type: 'pid', path: request.pid.path }] : [],
      time: newTime !== undefined ? { fd: newTime } : time && 'path' in time ? time.path : undefined,
      extraFds: request.extraFds ?? {},
    };
    if (request.user) return userns().spawnInUserNamespace(r, request.user, request.join ?? []);
    if (request.join?.length) throw new Error('internal: launch: namespaces to join before the start need a user namespace');
    // root of a user namespace (rootless podman): a throwaway stage 1 switches and exits
    if (r.pid.length > 0 && !canSwitchBackPidNamespace()) return userns().spawnThroughStage1(r);
    return spawnDirect(r);
  } finally {
    if (newTime !== undefined) libc.close(newTime);
  }
}

/** The user-namespace strategies load only when used. */
function userns(): typeof import('./userns') {
  return require('./userns') as typeof import('./userns');
}

/** The direct strategy: from the sealed runtime, into the PID namespace through
 * this thread (spawnIntoNamespaces), into the time namespace through nsenter
 * (closed in the init at execve with every fd past --preserve-fds: src/linux/process.ts). */
function spawnDirect(r: StrategyRequest): Launched {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  const sealed = sealRuntime();
  try {
    const slots = new FdSlots(r.preserveFds, childWrite, childRead);
    const fds = Object.fromEntries(Object.entries(r.extraFds).map(([name, fd]) => [name, slots.add(fd)]));
    const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
    const argv = sealedArgv(sealed, sealedFds, r.role, [String(slots.syncW), String(slots.syncR)]);
    const timePath = typeof r.time === 'object' ? `/proc/self/fd/${slots.add(r.time.fd)}` : r.time;
    const [path, args] = timePath ? [NSENTER, [NSENTER, `--time=${timePath}`, '--', ...argv]] : [argv[0] as string, argv];
    const prepared = libc.prepareSpawn(path, args, [], slots.pairs(), '/', true);
    return { pid: spawnIntoNamespaces(prepared, r.pid), chan: new SyncChannel(parentRead, parentWrite), fds };
  } finally {
    sealed.close();
    libc.close(childWrite);
    libc.close(childRead);
  }
}

/**
 * How a launched process gets into the container's cgroup: the one order both
 * create and exec follow. Begun first thing (the direct strategy starts the
 * grace period then: it runs while the caller claims, validates and spawns),
 * then enter():
 *
 *   direct           grace period (begun) → spawn (create: spawnFirst, before it
 *                    records and mounts) → cgroup (made while the child's engine
 *                    boots) → checks → the parent writes the
 *                    child's PID into the `byParent` files; the child joins the
 *                    `bySelf` ones itself, first thing (src/linux/cgroups/join.ts)
 *   user namespace   cgroup (the child must be born into namespaces set up around
 *                    it) → grace period → spawn → checks → the parent writes every
 *                    join file (they are host root's: the mapped root can't), while
 *                    the child still waits for its plan
 *
 * The child is blocked reading its plan throughout: no container code runs outside
 * the cgroup. enter() returns the files the plan asks the child to join.
 */
export class CgroupEntry {
  private spawned?: Launched;

  constructor(private readonly userNamespace: boolean) {
    if (!userNamespace) startMoveGracePeriod();
  }

  /** The direct strategy's spawn, as early as the caller can: the child's engine
   * boots (its longest step) while the caller records, mounts and makes the
   * cgroup, the child blocked on its plan all along. With a user namespace the
   * cgroup must come first: nothing happens here, enter() spawns. */
  spawnFirst(spawn: () => Launched): void {
    if (!this.userNamespace) this.spawned = spawn();
  }

  enter(steps: {
    /** launch(request), and whatever the caller records about the child (its undo). */
    spawn(): Launched;
    /** Make the cgroup (create) or find it (exec); its join files. */
    cgroup(): JoinFiles;
    /** Last checks and settings before the move (exec's initial CPU affinity; create's user-namespace checks). */
    beforeJoin?(child: Launched): void;
  }): { child: Launched; selfJoin: string[] } {
    if (!this.userNamespace) {
      const child = this.spawned ?? steps.spawn();
      const files = steps.cgroup();
      steps.beforeJoin?.(child);
      moveIntoCgroup(child.pid, files.byParent); // while its engine boots
      return { child, selfJoin: files.bySelf };
    }
    const files = steps.cgroup();
    startMoveGracePeriod(); // the stages take about as long as the grace period
    const child = steps.spawn();
    steps.beforeJoin?.(child);
    moveIntoCgroup(child.pid, allJoinFiles(files));
    return { child, selfJoin: [] };
  }
}
