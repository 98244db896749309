import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseMountOptions, resolveInRoot } from '../../src/linux/mounts';
import { MS } from '../../src/linux/libc';

test('flags, clearing flags, propagation and data are separated', () => {
  const o = parseMountOptions(['nosuid', 'noexec', 'nodev', 'ro', 'rw', 'rbind', 'rprivate', 'mode=755', 'size=65536k']);
  assert.is(o.flags, MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.BIND | MS.REC);
  assert.equal(o.propagation, [MS.PRIVATE | MS.REC]);
  assert.equal(o.data, ['mode=755', 'size=65536k']);
});

test('recursive attributes (rro, rnosuid) and tmpcopyup', () => {
  const o = parseMountOptions(['rro', 'rnosuid', 'tmpcopyup']);
  assert.is(o.recAttrSet, 0x1 | 0x2);
  assert.is(o.tmpcopyup, true);
  assert.is(o.flags, 0);
});

test('strictatime/relatime and defaults', () => {
  assert.is(parseMountOptions(['defaults', 'strictatime']).flags, MS.STRICTATIME);
  assert.is(parseMountOptions(['relatime', 'norelatime']).flags, 0);
});

test('resolveInRoot never leaves the root: absolute symlinks, .., loops', () => {
  const root = mkdtempSync('/tmp/toyrun-unit-root-');
  try {
    mkdirSync(join(root, 'real'));
    symlinkSync('/real', join(root, 'etc'));          // absolute: resolved from the root, not the host
    symlinkSync('../../../../tmp', join(root, 'up')); // climbs: clamped at the root
    symlinkSync('real', join(root, 'rel'));
    symlinkSync('loop', join(root, 'loop'));
    assert.is(resolveInRoot(root, '/etc/passwd'), join(root, 'real', 'passwd'));
    assert.is(resolveInRoot(root, '/up/x'), join(root, 'tmp', 'x'));
    assert.is(resolveInRoot(root, '/rel/a'), join(root, 'real', 'a'));
    assert.is(resolveInRoot(root, '/../../x'), join(root, 'x'));
    assert.throws(() => resolveInRoot(root, '/loop'), /ELOOP|too many/i);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
