// The channel between the runtime (create, exec) and the processes it starts for
// a container: two pipes carrying one JSON object per line. The init is another
// process (spawned, not forked), so this is how the plan goes in and progress and
// errors come out. Three conversations, every message in one table (PROTOCOL
// below), each side reading with expect(), which fails on anything else:
//
//   create:  runtime → init    plan            the InitPlan (fds: see spawnSynced)
//            init → runtime    createRuntime   mounts done, before pivot_root
//            runtime → init    continue        prestart/createRuntime hooks ran; the state they saw
//            init → runtime    ready           about to block on exec.fifo; stage timings
//   exec:    runtime → helper  exec            the ExecPlan
//            helper → runtime  ready           seccomp loaded, about to execve; then EOF
//                                              (the pipe is close-on-exec)
//   userns:  stage 1 → runtime stage2          stage 2 spawned: its host pid, the maps
//                                              (then the create or exec conversation)
//   any:     child → runtime   error           a stage failed; the child exits
import * as libc from './linux/libc';
import { spawnIntoNamespaces, type ChildNamespace } from './linux/spawn';
import { NSENTER } from './linux/userns';
import { sealedArgv, sealRuntime } from './linux/seal';
import type { TraceHandoff } from './trace/record';
import type { MemoryPolicy, NamespaceType, Process, Seccomp, Spec, State } from './spec/types';

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
  trace?: TraceHandoff;
}

export type InitMessage =
  | InitPlan
  | ExecPlan
  | { type: 'createRuntime' }
  | { type: 'continue'; state: State }
  | { type: 'ready'; stages: [string, number][] }
  | { type: 'error'; msg: string }
  | { type: 'stage2'; pid: number; uidMap: string; gidMap: string };

/** Every message, by conversation and direction: the table above, as data. */
export const PROTOCOL: Record<InitMessage['type'], { conversation: 'create' | 'exec' | 'userns' | 'any'; from: 'runtime' | 'child' }> = {
  plan: { conversation: 'create', from: 'runtime' },
  createRuntime: { conversation: 'create', from: 'child' },
  continue: { conversation: 'create', from: 'runtime' },
  ready: { conversation: 'any', from: 'child' },
  exec: { conversation: 'exec', from: 'runtime' },
  stage2: { conversation: 'userns', from: 'child' },
  error: { conversation: 'any', from: 'child' },
};

export type MessageType = InitMessage['type'];
export type MessageOf<T extends MessageType> = Extract<InitMessage, { type: T }>;

/** The other side sent something the protocol does not allow here, or closed the channel. */
export class ProtocolError extends Error {
  constructor(readonly expected: string[], readonly got: MessageType | 'eof') {
    super(got === 'eof' ? `expected ${expected.join(' or ')}, but the other side closed the channel` : `expected ${expected.join(' or ')}, got ${got}`);
  }
}

/** The child reported a failed stage ({"type":"error"}): its message. */
export class ChildError extends Error {}

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

  /** Blocks for the next message, which must be one of `types` ('eof': the other
   * side closed the channel). An error report throws ChildError; anything else, or
   * an EOF not expected, throws ProtocolError. */
  expect<T extends MessageType>(...types: T[]): MessageOf<T>;
  expect<T extends MessageType>(...types: (T | 'eof')[]): MessageOf<T> | undefined;
  expect<T extends MessageType>(...types: (T | 'eof')[]): MessageOf<T> | undefined {
    const msg = this.recv();
    if (msg === undefined) {
      if (types.includes('eof')) return undefined;
      throw new ProtocolError(types, 'eof');
    }
    if ((types as string[]).includes(msg.type)) return msg as MessageOf<T>;
    if (msg.type === 'error') throw new ChildError(msg.msg);
    throw new ProtocolError(types, msg.type);
  }

  /** Blocks for the next message; undefined when the other side closed the pipe. */
  private recv(): InitMessage | undefined {
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

/** Start the runtime bundle `bundle` (init.js, exec-init.js) from the sealed
 * runtime (src/linux/seal.ts) as a first child in `namespaces` (see
 * spawnIntoNamespaces), its fds laid out by FdSlots (the sealed trees after the
 * sync pipe); returns the channel to it. `timeNamespace`: a path to join, or an
 * fd on one (a new one, src/timens-holder.ts), handed over after the others. */
export function spawnSynced(bundle: string, preserveFds: number, namespaces: ChildNamespace[], timeNamespace?: string | { fd: number }): { pid: number; chan: SyncChannel } {
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  const sealed = sealRuntime();
  try {
    const slots = new FdSlots(preserveFds, childWrite, childRead);
    const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
    const argv = sealedArgv(sealed, sealedFds, bundle, [String(slots.syncW), String(slots.syncR)]);
    // setns(CLONE_NEWTIME) needs a single-threaded caller (timens_install: EUSERS), which
    // an engine never is: nsenter joins the time namespace, then execs the engine in it
    // (closed in the init at execve with every fd past --preserve-fds: src/linux/process.ts)
    const timePath = typeof timeNamespace === 'object' ? `/proc/self/fd/${slots.add(timeNamespace.fd)}` : timeNamespace;
    const [path, args] = timePath ? [NSENTER, [NSENTER, `--time=${timePath}`, '--', ...argv]] : [argv[0] as string, argv];
    const prepared = libc.prepareSpawn(path, args, [], slots.pairs(), '/', true);
    return { pid: spawnIntoNamespaces(prepared, namespaces), chan: new SyncChannel(parentRead, parentWrite) };
  } finally {
    sealed.close();
    libc.close(childWrite);
    libc.close(childRead);
  }
}

/**
 * The fds a runtime process starts with — the one place they are numbered:
 * 0-2 and the --preserve-fds range at their own numbers (runc's rule: fds
 * 3..N+2 are the container's), the sync pipe right after them (the child
 * finds it in its last two arguments), then whatever the caller adds, in order.
 */
export class FdSlots {
  private readonly list: [number, number][];
  readonly syncW: number;
  readonly syncR: number;
  constructor(preserveFds: number, childWrite: number, childRead: number) {
    this.list = Array.from({ length: 3 + preserveFds }, (_, i): [number, number] => [i, i]);
    this.syncW = 3 + preserveFds;
    this.syncR = this.syncW + 1;
    this.list.push([childWrite, this.syncW], [childRead, this.syncR]);
  }
  /** Hand the parent's fd to the child at the next number; returns that number. */
  add(parentFd: number): number {
    const n = this.last + 1;
    this.list.push([parentFd, n]);
    return n;
  }
  /** The highest number handed out so far. */
  get last(): number {
    return (this.list[this.list.length - 1] as [number, number])[1];
  }
  /** [parent fd, child fd] pairs for posix_spawn. */
  pairs(): [number, number][] {
    return [...this.list];
  }
}

/** The child's first read: its plan, or exit with `code` (the runtime gave up
 * before sending one, or sent something else: nothing to report to). */
export function expectPlan<T extends 'plan' | 'exec'>(chan: SyncChannel, type: T, code: number): MessageOf<T> {
  try {
    return chan.expect(type);
  } catch {
    process.exit(code);
  }
}
