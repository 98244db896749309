// The runtime ↔ child protocol (src/process/protocol.ts, channel.ts): one table of messages, and a channel
// whose expect() fails loudly on anything the protocol does not allow at that step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as libc from '../../src/linux/libc';
import { SyncChannel } from '../../src/process/channel';
import { ChildError, PROTOCOL, ProtocolError } from '../../src/process/protocol';

/** Two channels facing each other over two pipes. */
function pair(): [SyncChannel, SyncChannel] {
  const [aRead, bWrite] = libc.pipe();
  const [bRead, aWrite] = libc.pipe();
  return [new SyncChannel(aRead, aWrite), new SyncChannel(bRead, bWrite)];
}

test('expect returns the message it was told to wait for', () => {
  const [runtime, init] = pair();
  init.send({ type: 'createRuntime' });
  assert.equal(runtime.expect('createRuntime'), { type: 'createRuntime' });
  init.send({ type: 'ready', stages: [['mounts', 1.5]] });
  const got = runtime.expect('createRuntime', 'ready');
  assert.equal(got.type === 'ready' ? got.stages : undefined, [['mounts', 1.5]]);
  runtime.close();
  init.close();
});

test('a message out of turn fails, naming what was expected and what came', () => {
  const [runtime, init] = pair();
  init.send({ type: 'ready', stages: [] });
  assert.throws(() => runtime.expect('createRuntime'), (e: unknown) => e instanceof ProtocolError && e.message === 'expected createRuntime, got ready');
  runtime.close();
  init.close();
});

test("the child's error report throws ChildError with its message", () => {
  const [runtime, init] = pair();
  init.send({ type: 'error', msg: 'mounts: mount /proc: EPERM' });
  assert.throws(() => runtime.expect('createRuntime'), (e: unknown) => e instanceof ChildError && e.message === 'mounts: mount /proc: EPERM');
  runtime.close();
  init.close();
});

test("EOF fails unless 'eof' was expected", () => {
  const [runtime, init] = pair();
  init.close();
  assert.throws(() => runtime.expect('ready'), (e: unknown) => e instanceof ProtocolError && e.got === 'eof');
  assert.is(runtime.expect('eof'), undefined);
  runtime.close();
});

test('every message type has one row in the protocol table', () => {
  assert.equal(Object.keys(PROTOCOL).sort(), ['continue', 'createRuntime', 'error', 'exec', 'plan', 'ready', 'stage2']);
});

test.run();
