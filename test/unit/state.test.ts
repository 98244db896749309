// The state machine: status is derived from the kernel, never trusted from the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveStatus, processStartTime, toOciState, type ContainerRecord } from '../../src/container/store';

const root = mkdtempSync('/tmp/toyrun-unit-state-');
const base = (over: Partial<ContainerRecord>): ContainerRecord => ({
  id: 'c1', pid: process.pid, pidStartTime: processStartTime(process.pid) ?? '', bundle: '/b', rootfs: '/b/rootfs',
  created: '2026-01-01T00:00:00.000Z', owner: '', cgroup: { paths: {} }, ...over,
});
mkdirSync(join(root, 'c1'));

test('created while exec.fifo exists and the init lives', () => {
  writeFileSync(join(root, 'c1', 'exec.fifo'), '');
  assert.is(deriveStatus(root, base({}), () => false), 'created');
  rmSync(join(root, 'c1', 'exec.fifo'));
});

test('running once started; paused when the cgroup is frozen', () => {
  assert.is(deriveStatus(root, base({ started: true }), () => false), 'running');
  assert.is(deriveStatus(root, base({ started: true }), () => true), 'paused');
});

test('a recycled PID (different start time) is stopped, not running', () => {
  assert.is(deriveStatus(root, base({ started: true, pidStartTime: '1' }), () => false), 'stopped');
});

test('a dead PID is stopped', () => {
  assert.is(deriveStatus(root, base({ started: true, pid: 2 ** 22 + 1 }), () => false), 'stopped');
});

test('creating while the creator lives; stopped if the creator died', () => {
  const me = { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  assert.is(deriveStatus(root, base({ pid: 0, creator: me }), () => false), 'creating');
  assert.is(deriveStatus(root, base({ pid: 0, creator: { pid: me.pid, startTime: 'x' } }), () => false), 'stopped');
});

test('OCI state: pid 0 when stopped, annotations always an object', () => {
  const s = toOciState(base({}), 'stopped');
  assert.is(s.pid, 0);
  assert.equal(s.annotations, {});
  assert.is(toOciState(base({}), 'running').pid, process.pid);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
