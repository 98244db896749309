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
import { NSENTER } from './linux/userns';
import type { MemoryPolicy, NamespaceType, Process, Seccomp, Spec, State } from './spec/types';

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
  /** A new time namespace is the init's to make (src/linux/timens.ts), with these offsets. */
  newTimeNamespace?: { offsets?: string };
  /** The session keyring to join ("_ses.<id>"); absent with --no-new-keyring. */
  sessionKeyring?: string;
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
  /** linux.memoryPolicy and linux.personality of the container, applied to exec'd processes too. */
  memoryPolicy?: MemoryPolicy;
  personality?: { domain: string; flags?: string[] };
  /** execCPUAffinity.final, or (with only `initial`) the CPUs the container may use. */
  finalCpus?: string;
  /** The container's session keyring, joined by name; absent if it was created with --no-new-keyring. */
  sessionKeyring?: string;
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
  /** Bytes read but not yet returned: the start of the next line, in pieces.
   * Each read is scanned once, for its own newline only, so a message of any
   * size costs time linear in its length (a 100 MB config.json used to be
   * rescanned from the start on every 64 KiB read). */
  private pending: Buffer[] = [];
  private readonly chunk = Buffer.alloc(65536);
  constructor(private readonly readFd: number, private readonly writeFd: number) {}

  send(msg: InitMessage): void {
    const data = Buffer.from(JSON.stringify(msg) + '\n');
    let off = 0;
    while (off < data.length) off += libc.write(this.writeFd, data.subarray(off));
  }

  /** send, for a side that may have stopped listening: false (not an error) when
   * the other end is closed (EPIPE; the engine ignores SIGPIPE). A failing init
   * reports through here: `create` may have given up on it already, and has
   * its own error to print. */
  trySend(msg: InitMessage): boolean {
    try {
      this.send(msg);
      return true;
    } catch (e) {
      if (e instanceof libc.SysError && e.code === 'EPIPE') return false;
      throw e;
    }
  }

  /** Blocks for the next message; undefined when the other side closed the pipe. */
  recv(): InitMessage | undefined {
    for (;;) {
      const line = this.takeLine();
      if (line !== undefined) return JSON.parse(line) as InitMessage;
      let n: number;
      try {
        n = libc.read(this.readFd, this.chunk);
      } catch (e) {
        if (e instanceof libc.SysError && e.code === 'EINTR') continue;
        throw e;
      }
      if (n === 0) return undefined;
      this.pending.push(Buffer.from(this.chunk.subarray(0, n)));
    }
  }

  /** The first complete line of pending, if the newest piece holds its end
   * (earlier pieces were scanned when they arrived). Decoded only once whole,
   * so a UTF-8 character split between two reads stays intact. */
  private takeLine(): string | undefined {
    const last = this.pending[this.pending.length - 1];
    if (last === undefined) return undefined;
    const nl = last.indexOf(0x0a);
    if (nl < 0) return undefined;
    const line = Buffer.concat([...this.pending.slice(0, -1), last.subarray(0, nl)]).toString();
    const rest = last.subarray(nl + 1);
    this.pending = rest.length > 0 ? [rest] : [];
    return line;
  }

  close(): void {
    libc.close(this.readFd);
    libc.close(this.writeFd);
  }
}

/** Start `bun|node <script> <syncW> <syncR>` as a first child in `namespaces`
 * (see spawnIntoNamespaces), with fds 0-2 and the --preserve-fds range at their
 * own numbers and the sync pipe right after them; returns the channel to it. */
export function spawnSynced(script: string, preserveFds: number, namespaces: ChildNamespace[], timeNamespace?: string): { pid: number; chan: SyncChannel } {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  try {
    const kept = Array.from({ length: 3 + preserveFds }, (_, i): [number, number] => [i, i]);
    const syncW = 3 + preserveFds, syncR = syncW + 1;
    const argv = [process.execPath, script, String(syncW), String(syncR)];
    // setns(CLONE_NEWTIME) needs a single-threaded caller (timens_install: EUSERS), which
    // an engine never is: nsenter joins the time namespace, then execs the engine in it
    const [path, args] = timeNamespace ? [NSENTER, [NSENTER, `--time=${timeNamespace}`, '--', ...argv]] : [process.execPath, argv];
    const prepared = libc.prepareSpawn(path, args, [], [...kept, [childWrite, syncW], [childRead, syncR]], '/');
    return { pid: spawnIntoNamespaces(prepared, namespaces), chan: new SyncChannel(parentRead, parentWrite) };
  } finally {
    libc.close(childWrite);
    libc.close(childRead);
  }
}
