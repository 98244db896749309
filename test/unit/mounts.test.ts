import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirInRoot, parseMountOptions } from '../../src/linux/mounts';
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

test('mkdirInRoot never leaves the root: absolute symlinks, .., loops', () => {
  const root = mkdtempSync('/tmp/toyrun-unit-root-');
  try {
    mkdirSync(join(root, 'real'));
    symlinkSync('/real', join(root, 'etc'));          // absolute: resolved from the root, not the host
    symlinkSync('../../../../tmp', join(root, 'up')); // climbs: clamped at the root
    symlinkSync('real', join(root, 'rel'));
    symlinkSync('loop', join(root, 'loop'));
    mkdirInRoot(root, '/etc/passwd');
    assert.ok(statSync(join(root, 'real', 'passwd')).isDirectory());
    mkdirInRoot(root, '/up/x');
    assert.ok(statSync(join(root, 'tmp', 'x')).isDirectory());
    mkdirInRoot(root, '/rel/a');
    assert.ok(statSync(join(root, 'real', 'a')).isDirectory());
    mkdirInRoot(root, '/../../x');
    assert.ok(statSync(join(root, 'x')).isDirectory());
    assert.throws(() => mkdirInRoot(root, '/loop/x'), /ELOOP|too many/i);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
