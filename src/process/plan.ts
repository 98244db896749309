// What the runtime hands the processes it starts, as their first message: the
// init's plan (create) and the exec helper's (exec). The wire: protocol.ts.
import type { TraceHandoff } from '../trace/record';
import type { MemoryPolicy, NamespaceType, Process, Seccomp, Spec } from '../spec/types';

/** Inherited fds of idmapped trees: the rootfs's, and by index in spec.mounts. */
export interface IdmapFds {
  rootfs?: number;
  mounts: Record<number, number>;
}

export interface InitPlan {
  type: 'plan';
  /** `run`: no wait for start is coming, keep the mappings (see src/linux/memory.ts). */
  startsAtOnce: boolean;
  spec: Spec;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  stateDir: string;
  /** Where compiled seccomp programs are kept (<root>/.seccomp, seccomp-cache.ts). */
  seccompCache: string;
  bundle: string;
  preserveFds: number;
  noPivot: boolean;
  consoleSocket?: string;
  /** cgroup files the init writes itself into ("0"), before anything else. */
  cgroupJoin: string[];
  cgroupPaths: Record<string, string>;
  cgroupHierarchies: { controllers: string[]; version: 1 | 2 }[];
  /** An inherited O_PATH fd on stateDir (user namespace: the mapped root can't walk the state root). */
  stateDirFd?: number;
  /** Inherited fds of idmapped trees to attach (src/linux/idmap.ts). */
  idmapFds?: IdmapFds;
  /** Inherited fd of --console-socket, connected by the runtime (user namespace). */
  consoleSocketFd?: number;
  /** The session keyring to join ("_ses.<id>"); absent with --no-new-keyring. */
  sessionKeyring?: string;
  /** --trace: the inherited fd to append steps to (src/trace/record.ts). */
  trace?: TraceHandoff;
}

/** `toyrun exec` → exec-init: the process to become and what to join. */
export interface ExecPlan {
  type: 'exec';
  process: Process;
  /** The init's /proc/<pid>/ns/* files; pid (and time) were switched by `exec` itself. */
  namespaces: { type: NamespaceType; path: string }[];
  /** Files to write "0" to (see linux/cgroups/join.ts). */
  cgroupJoin: string[];
  seccomp?: Seccomp;
  /** Where compiled seccomp programs are kept (<root>/.seccomp, seccomp-cache.ts). */
  seccompCache?: string;
  consoleSocket?: string;
  /** Inherited fd of the console socket, connected by `exec` (user namespace). */
  consoleSocketFd?: number;
  preserveFds: number;
  /** linux.memoryPolicy and linux.personality of the container, applied to exec'd processes too. */
  memoryPolicy?: MemoryPolicy;
  personality?: { domain: string; flags?: string[] };
  /** execCPUAffinity.final, or (with only `initial`) the CPUs the container may use. */
  finalCpus?: string;
  /** The container's session keyring, joined by name; absent if it was created with --no-new-keyring. */
  sessionKeyring?: string;
  trace?: TraceHandoff;
}

/** init.js's argument that makes it user-namespace stage 1 (src/init/userns-stage1.ts). */
export const STAGE1_ARG = 'userns-stage1';
/** init.js's argument for the time namespace holder (src/process/timens-holder.ts). */
export const HOLDER_ARG = 'time-namespace-holder';

/** Stage 0 (process/userns.ts) → stage 1, as its argument: what to switch and spawn. */
export interface Stage1Config {
  /** New namespaces stage 1 creates for its child (a new time namespace is made
   * beforehand and joined by nsenter in stage 0: src/process/timens-holder.ts)... */
  unshare: 'pid'[];
  /** ...and the ones it joins by path. */
  join: { type: 'pid'; path: string }[];
  /** Stage 2's argv, started from the sealed runtime (src/linux/seal.ts) whose
   * trees are among the fds below; argv[0] is the path to execute. */
  argv: string[];
  /** fds 3..lastFd go to stage 2 at the same numbers. */
  lastFd: number;
  /** --trace: the inherited trace fd (src/trace/record.ts). */
  trace?: TraceHandoff;
  /** Where stage 1 writes its report (also stage 2's sync write end). */
  syncW: number;
  syncR: number;
}
