// The protocol between the runtime (create, exec) and the processes it starts for
// a container: two pipes carrying one JSON object per line. The init is another
// process (spawned, not forked), so this is how the plan goes in and progress and
// errors come out. Three conversations, every message in one table (PROTOCOL
// below), each side reading with channel.ts's expect(), which fails on anything else:
//
//   create:  runtime → init    plan            the InitPlan (fds: see FdSlots)
//            init → runtime    createRuntime   mounts done, before pivot_root
//            runtime → init    continue        prestart/createRuntime hooks ran; the state they saw
//            init → runtime    ready           about to block on exec.fifo; stage timings
//   exec:    runtime → helper  exec            the ExecPlan
//            helper → runtime  ready           seccomp loaded, about to execve; then EOF
//                                              (the pipe is close-on-exec)
//   userns:  stage 1 → runtime stage2          stage 2 spawned: its host pid, the maps
//                                              (then the create or exec conversation)
//   any:     child → runtime   error           a stage failed; the child exits
import type { State } from '../spec/types';
import type { ExecPlan, InitPlan } from './plan';

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
