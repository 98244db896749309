// src/linux/errno.ts: the table gives every number node:os names the name Node
// gives it (fs errors' `code` and SysError's must agree: callers compare them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants } from 'node:os';
import { errnoName } from '../../src/linux/errno';
import { SysError } from '../../src/linux/libc';

test('every errno node:os knows has the same name in the table', () => {
  const nodes: Record<number, string> = {};
  for (const [name, num] of Object.entries(constants.errno)) nodes[num] ??= name;
  const differ = Object.entries(nodes).filter(([num, name]) => errnoName(Number(num)) !== name);
  assert.equal(differ, []);
  assert.ok(Object.keys(nodes).length > 70);
});

test('names Node lacks come from the kernel; unknown numbers read E<n>', () => {
  assert.is(errnoName(126), 'ENOKEY');
  assert.is(errnoName(15), 'ENOTBLK');
  assert.is(errnoName(58), 'E58'); // EDEADLOCK is EDEADLK (35) on x86-64: 58 is unused
  assert.is(errnoName(0), 'E0');
  assert.is(errnoName(4095), 'E4095');
  assert.is(new SysError('openat', '/x', 2).code, 'ENOENT');
});

test.run();
