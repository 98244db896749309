// Unit checks behind the runc-parity fixes of issue #14 (filesystem side).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { unreachableBy } from '../../src/linux/userns';
import { readonlyLater } from '../../src/linux/mounts';
import { parseMountInfo } from '../../src/linux/mountinfo';
import { resolveBindSources } from '../../src/container/create';
import type { Mount, Spec } from '../../src/spec/types';

const REPO = join(__dirname, '..', '..');

test('unreachableBy ends for relative paths (it walked dirname(".") forever)', () => {
  // In a child with a deadline: the old code never returned and grew without bound.
  const code = `const { unreachableBy } = require(${JSON.stringify(join(REPO, 'src/linux/userns.ts'))});
    for (const p of ['.', './data', 'data/x', '..', '', 'a/../../b']) unreachableBy(p, 0, 0);
    process.stdout.write('done');`;
  const bun = join(REPO, 'node_modules/@oven/bun-linux-x64/bin/bun');
  const r = spawnSync(bun, ['-e', code], { timeout: 10000, encoding: 'utf8' });
  assert.is(r.signal, null, 'unreachableBy did not return');
  assert.is(r.stdout, 'done', r.stderr);
});

test('unreachableBy checks every directory from / for a relative path too', () => {
  const cwd = process.cwd();
  process.chdir('/tmp');
  try {
    // uid 12345 with no mapping: /root (0700) on the way is reported
    assert.match(unreachableBy('../root/x', 12345, 12345) ?? '', /^\/root \(owner 0:0, mode 0700\)/);
    assert.is(unreachableBy('.', 0, 0), undefined);
  } finally {
    process.chdir(cwd);
  }
});

test('resolveBindSources: relative bind sources join the bundle; absolute ones and other types stay', () => {
  const spec: Spec = {
    ociVersion: '1.0.2',
    mounts: [
      { destination: '/a', type: 'bind', source: '.', options: ['rbind'] },
      { destination: '/b', source: 'data/x', options: ['bind'] },
      { destination: '/c', type: 'bind', source: '/abs', options: ['rbind'] },
      { destination: '/d', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/e', type: 'overlay', source: 'overlay', options: ['lowerdir=/l'] },
    ],
  };
  resolveBindSources(spec, '/bundles/b1');
  assert.equal(spec.mounts?.map((m) => m.source), ['/bundles/b1', '/bundles/b1/data/x', '/abs', 'tmpfs', 'overlay']);
});

test('readonlyLater: a read-only fresh filesystem with children waits; binds, rw and childless ones do not', () => {
  const mounts: Mount[] = [
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['ro'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts' },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
    { destination: '/ro-alone', type: 'tmpfs', source: 'tmpfs', options: ['ro'] },
    { destination: '/host', type: 'bind', source: '/srv', options: ['rbind', 'ro'] },
    { destination: '/host/sub', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/work', type: 'tmpfs', source: 'tmpfs', options: ['ro'] },
    { destination: '/devices', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'rw'] },
  ];
  assert.equal([...readonlyLater(mounts, ['/dev/null', '/work/dir'])].sort(), [0, 2, 7]);
  // a mount stacked at the same place is not a child; a sibling with a common prefix is not either
  assert.equal([...readonlyLater([{ destination: '/x', type: 'tmpfs', options: ['ro'] }, { destination: '/x', type: 'tmpfs' }, { destination: '/xy', type: 'tmpfs' }], [])], []);
});

test('parseMountInfo: ids, roots and mount points with escapes', () => {
  const text = '25 1 0:23 / /proc rw,nosuid - proc proc rw\n30 25 0:5 /sub /mnt/with\\040space rw shared:3 - sysfs sysfs rw\n';
  assert.equal(parseMountInfo(text), [
    { id: 25, root: '/', mountpoint: '/proc', fstype: 'proc', superOptions: 'rw' },
    { id: 30, root: '/sub', mountpoint: '/mnt/with space', fstype: 'sysfs', superOptions: 'rw' },
  ]);
});

test.run();
