// Which operation a container's status allows, in one table (runc's rules and
// error words; the status is derived from the kernel, src/container/store.ts). Commands ask
// requireStatus(op, status) instead of testing statuses inline.
import { ContainerError } from './store';
import type { Status } from '../spec/types';

export type Operation =
  | 'start'
  | 'exec'
  | 'exec --ignore-paused'
  | 'kill'
  | 'kill --all'
  | 'pause'
  | 'resume'
  | 'delete'
  | 'delete --force'
  | 'update'
  | 'events';

const ALL: Status[] = ['creating', 'created', 'running', 'paused', 'stopped'];

/** The statuses each operation accepts, and runc's words for the others. */
const RULES: Record<Operation, { allowed: Status[]; refusal: (status: Status, id: string) => string }> = {
  start: { allowed: ['created'], refusal: (s) => (s === 'stopped' ? 'cannot start a container that has stopped' : `cannot start an already ${s} container`) },
  exec: { allowed: ['created', 'running'], refusal: execRefusal },
  'exec --ignore-paused': { allowed: ['created', 'running', 'paused'], refusal: execRefusal },
  kill: { allowed: ['created', 'running', 'paused'], refusal: () => 'container not running' },
  // what is left in the cgroup of a stopped container (containerd's shim sends this)
  'kill --all': { allowed: ['created', 'running', 'paused', 'stopped'], refusal: () => 'container not running' },
  pause: { allowed: ['created', 'running'], refusal: () => 'container not running' },
  resume: { allowed: ['paused'], refusal: () => 'container not paused' },
  delete: { allowed: ['created', 'stopped'], refusal: (s, id) => `cannot delete container ${id} that is not stopped: ${s}` },
  'delete --force': { allowed: ALL, refusal: () => '' },
  update: { allowed: ['created', 'running', 'paused'], refusal: (_s, id) => `cannot update container ${id}: container not running` },
  events: { allowed: ['creating', 'created', 'running', 'paused'], refusal: () => 'container not running' },
};

function execRefusal(s: Status): string {
  if (s === 'paused') return 'cannot exec in a paused container (use --ignore-paused to override)';
  if (s === 'creating') return 'cannot exec in a container that is being created';
  return 'cannot exec in a stopped container';
}

export function allows(op: Operation, status: Status): boolean {
  return RULES[op].allowed.includes(status);
}

/** Throws runc's refusal unless `op` is allowed in `status`; `also` is appended (what the kernel did not confirm). */
export function requireStatus(op: Operation, status: Status, id = '', also: string[] = []): void {
  if (!allows(op, status)) throw new ContainerError([RULES[op].refusal(status, id), ...also].join(': '));
}
