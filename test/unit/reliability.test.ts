// Unit tests for the pieces reliability rests on: the cgroup directories a
// create records before making them must be exactly the ones it makes, and the
// fuzzer must be deterministic per seed and really produce hostile input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { plannedDirs } from '../../src/linux/cgroups/layout';
import type { Hierarchy } from '../../src/linux/cgroups/types';
import { CgroupV1 } from '../../src/linux/cgroups/v1';
import { mutate, rng, type FuzzEnv, type Json } from '../reliability';

test('plannedDirs(path) names exactly the directories CgroupV1.create(path) makes', () => {
  const base = mkdtempSync('/tmp/toyrun-cgdirs-');
  try {
    const hierarchies: Hierarchy[] = [
      { controllers: ['memory'], mountpoint: join(base, 'memory'), root: '/', version: 1 },
      { controllers: ['cpu', 'cpuacct'], mountpoint: join(base, 'cpu,cpuacct'), root: '/', version: 1 },
      { controllers: ['pids'], mountpoint: join(base, 'pids'), root: '/sub', version: 1 },
      { controllers: ['unified'], mountpoint: join(base, 'unified'), root: '/', version: 2 },
    ];
    for (const h of hierarchies) mkdirSync(h.mountpoint);
    const own = { memory: '/user.slice', cpu: '/cpu-own', cpuacct: '/cpu-own', pids: '/sub/p', unified: '/u' };
    const driver = new CgroupV1(hierarchies, () => own);
    for (const path of ['/toyrun/a', 'relative/b', '/sub/c', '/sub', 'x']) {
      assert.equal(plannedDirs(path, hierarchies, own), driver.create(path).paths, path);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('the config fuzzer is deterministic per seed and covers every kind of hostile input', () => {
  const env: FuzzEnv = { hostileRootfs: '/r', linkToRootfs: '/l', linkLoop: '/loop', fifo: '/f', regularFile: '/file', emptyDir: '/e' };
  const base = { ociVersion: '1.2.0', process: { cwd: '/', args: ['sh'], env: ['A=b'], user: { uid: 0, gid: 0 } }, root: { path: '/r' }, mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] } as Json;
  const run = (seed: number): string[] => {
    const rand = rng(seed);
    return Array.from({ length: 400 }, () => mutate(base, rand, env).name);
  };
  assert.equal(run(42), run(42));
  assert.not.equal(run(42), run(43));
  const names = run(1).join('\n');
  for (const kind of [/→/, /deleted/, /null/, /array of/, /nested/, /string of/, /"\.\./, /NUL/, /invalid UTF-8/, /truncated/, /\/loop/]) {
    assert.match(names, kind);
  }
  // the bytes really are what the name says
  const rand = rng(5);
  for (let i = 0; i < 400; i++) {
    const c = mutate(base, rand, env);
    if (c.name.includes('invalid UTF-8')) assert.is(Buffer.from(c.bytes.toString('utf8')).equals(c.bytes), false, c.name);
    if (c.name.includes('NUL inside')) assert.ok(c.bytes.includes('\\u0000'), c.name);
  }
});

test.run();
