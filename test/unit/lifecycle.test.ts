// The allowed-operations table (src/container/status.ts), against runc's rules and words.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allows, requireStatus, type Operation } from '../../src/container/status';
import type { Status } from '../../src/spec/types';

const STATUSES: Status[] = ['creating', 'created', 'running', 'paused', 'stopped'];

// runc 1.1's answers, status by status (✓ allowed)
const EXPECTED: Record<Operation, Status[]> = {
  start: ['created'],
  exec: ['created', 'running'],
  'exec --ignore-paused': ['created', 'running', 'paused'],
  kill: ['created', 'running', 'paused'],
  'kill --all': ['created', 'running', 'paused', 'stopped'],
  pause: ['created', 'running'],
  resume: ['paused'],
  delete: ['created', 'stopped'],
  'delete --force': STATUSES,
  update: ['created', 'running', 'paused'],
  events: ['creating', 'created', 'running', 'paused'],
};

for (const [op, ok] of Object.entries(EXPECTED) as [Operation, Status[]][]) {
  test(`${op}: allowed in ${ok.join(', ')}`, () => {
    assert.equal(STATUSES.filter((s) => allows(op, s)), ok);
  });
}

test("refusals carry runc's words", () => {
  const words = (op: Operation, s: Status, id = 'c1'): string => {
    try {
      requireStatus(op, s, id);
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.is(words('start', 'stopped'), 'cannot start a container that has stopped');
  assert.is(words('start', 'running'), 'cannot start an already running container');
  assert.is(words('exec', 'paused'), 'cannot exec in a paused container (use --ignore-paused to override)');
  assert.is(words('delete', 'running'), 'cannot delete container c1 that is not stopped: running');
  assert.is(words('resume', 'running'), 'container not paused');
  assert.is(words('kill', 'stopped'), 'container not running');
});

test.run();
