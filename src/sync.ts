// The channel between `toyrun create` and the container's init: two pipes
// carrying one JSON object per line. The init is another process (spawned, not
// forked), so this is how the plan goes in and progress and errors come out:
//
//   create → init   {"type":"plan", ...InitPlan}
//   init  → create  {"type":"createRuntime"}   mounts done, before pivot_root
//   create → init   {"type":"continue","state":…} prestart/createRuntime hooks ran
//   init  → create  {"type":"ready"}           about to block on exec.fifo
//   init  → create  {"type":"error","msg":…}   any stage failed; the init exits
// With a user namespace, stage 1 reports first ({"type":"stage2",…}): see src/userns-stages.ts.
import * as libc from './linux/libc';
import { spawnIntoNamespaces, type ChildNamespace } from './linux/spawn';
import type { NamespaceType, Process, Seccomp, Spec, State } from './spec/types';

export interface InitPlan {
  type: 'plan';
  /** `run`: no wait for start is coming, keep the mappings (see src/linux/memory.ts). */
  startsAtOnce: boolean;
  spec: Spec;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  stateDir: string;
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
  /** Inherited fds of idmapped trees to attach (src/linux/idmap.ts): -1 the rootfs, else a mounts index. */
  idmapFds?: Record<number, number>;
  /** Inherited fd of --console-socket, connected by the runtime (user namespace). */
  consoleSocketFd?: number;
}

/** `toyrun exec` → exec-init: the process to become and what to join. */
export interface ExecPlan {
  type: 'exec';
  process: Process;
  /** The init's /proc/<pid>/ns/* files; pid (and time) were switched by `exec` itself. */
  namespaces: { type: NamespaceType; path: string }[];
  /** Files to write "0" to (see joinFiles in linux/cgroups.ts). */
  cgroupJoin: string[];
  seccomp?: Seccomp;
  /** Where compiled seccomp programs are kept (<root>/.seccomp, seccomp-cache.ts). */
  seccompCache?: string;
  consoleSocket?: string;
  /** Inherited fd of the console socket, connected by `exec` (user namespace). */
  consoleSocketFd?: number;
  preserveFds: number;
}

export type InitMessage =
  | InitPlan
  | ExecPlan
  | { type: 'createRuntime' }
  | { type: 'continue'; state: State }
  | { type: 'ready'; stages: [string, number][] }
  | { type: 'error'; msg: string }
  | { type: 'stage2'; pid: number; uidMap: string; gidMap: string };

export class SyncChannel {
  private buf = '';
  constructor(private readonly readFd: number, private readonly writeFd: number) {}

  send(msg: InitMessage): void {
    const data = Buffer.from(JSON.stringify(msg) + '\n');
    let off = 0;
    while (off < data.length) off += libc.write(this.writeFd, data.subarray(off));
  }

  /** Blocks for the next message; undefined when the other side closed the pipe. */
  recv(): InitMessage | undefined {
    const chunk = Buffer.alloc(65536);
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return JSON.parse(line) as InitMessage;
      }
      let n: number;
      try {
        n = libc.read(this.readFd, chunk);
      } catch (e) {
        if (e instanceof libc.SysError && e.code === 'EINTR') continue;
        throw e;
      }
      if (n === 0) return undefined;
      this.buf += chunk.subarray(0, n).toString();
    }
  }

  close(): void {
    libc.close(this.readFd);
    libc.close(this.writeFd);
  }
}

/** Start `bun|node <script> <syncW> <syncR>` as a first child in `namespaces`
 * (see spawnIntoNamespaces), with fds 0-2 and the --preserve-fds range at their
 * own numbers and the sync pipe right after them; returns the channel to it. */
export function spawnSynced(script: string, preserveFds: number, namespaces: ChildNamespace[]): { pid: number; chan: SyncChannel } {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  try {
    const kept = Array.from({ length: 3 + preserveFds }, (_, i): [number, number] => [i, i]);
    const syncW = 3 + preserveFds, syncR = syncW + 1;
    const prepared = libc.prepareSpawn(process.execPath, [process.execPath, script, String(syncW), String(syncR)], [],
      [...kept, [childWrite, syncW], [childRead, syncR]], '/');
    return { pid: spawnIntoNamespaces(prepared, namespaces), chan: new SyncChannel(parentRead, parentWrite) };
  } finally {
    libc.close(childWrite);
    libc.close(childRead);
  }
}
