// Whole containers on the v2 driver, on this v1-hybrid host: every toyrun call
// runs in a private mount namespace where /sys/fs/cgroup is the host's real
// cgroup2 hierarchy alone (the one normally at /sys/fs/cgroup/unified). toyrun
// reads that layout from mountinfo and picks CgroupV2 by itself. That cgroup2
// has no memory/cpu/io/pids controllers (only hugetlb), so what needs those is
// covered by the unit tests on a fake tree; everything else runs for real here:
// create/join, freeze, ps, kill --all, stats, the BPF device filter, delete.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, TOYRUN, Toyrun, uniqueId, type Result, waitFor } from '../helpers';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('cgroups-v2');
const UNIFIED = '/sys/fs/cgroup/unified';
const WRAP = 'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$0" "$@"';

/** toyrun on a cgroup2-only view of this host. */
function v2(args: string[], opts: SpawnSyncOptions = {}): Result {
  return sh('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', WRAP, TOYRUN, '--root', t.root, ...args], { env: {}, cwd: '/', ...opts });
}
function v2ok(args: string[]): Result {
  const r = v2(args);
  if (r.status !== 0) throw new Error(`toyrun ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

/** create hands its stdio to the container: give it a file, not a pipe. */
function v2create(bundle: string, id: string): { status: number | null; output: string; log: string } {
  t.track(id);
  const log = join(t.tempDir('toyrun-v2-log-'), 'out');
  const fd = openSync(log, 'w');
  try {
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', WRAP, TOYRUN, '--root', t.root, 'create', '--bundle', bundle, id], {
      stdio: ['ignore', fd, fd], env: {}, cwd: '/', timeout: 60000,
    });
    return { status: r.status, output: readFileSync(log, 'utf8'), log };
  } finally {
    closeSync(fd);
  }
}

function bundle(script: string, edit: (s: Spec) => void = () => undefined): string {
  return t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', script];
    edit(s);
  });
}


const procs = (id: string): number[] =>
  readFileSync(join(UNIFIED, 'toyrun', id, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);

test('v2 driver, real container: joins the cgroup2 leaf, pause/resume, ps, stats, kill --all, delete', () => {
  const id = uniqueId('v2');
  const c = v2create(bundle('sleep 1000 & sleep 1000 & sleep 1000'), id);
  assert.is(c.status, 0, c.output);
  const rec = JSON.parse(readFileSync(join(t.root, id, 'state.json'), 'utf8')) as { cgroup: { version: number; paths: Record<string, string> } };
  assert.is(rec.cgroup.version, 2);
  assert.equal(rec.cgroup.paths, { unified: `/sys/fs/cgroup/toyrun/${id}` }, 'paths as seen in the cgroup2-only view');
  const init = JSON.parse(v2ok(['state', id]).stdout).pid as number;
  assert.equal(procs(id), [init], 'the init joined the v2 leaf before anything ran');
  assert.match(readFileSync(`/proc/${init}/cgroup`, 'utf8'), `0::/toyrun/${id}\n`);
  v2ok(['start', id]);
  try {
    const pids = waitFor(() => procs(id).length === 3 && procs(id), 'three processes');
    assert.is(v2ok(['ps', '--format', 'json', id]).stdout, JSON.stringify(pids) + '\n');

    v2ok(['pause', id]);
    assert.is(JSON.parse(v2ok(['state', id]).stdout).status, 'paused');
    assert.is(readFileSync(join(UNIFIED, 'toyrun', id, 'cgroup.freeze'), 'utf8').trim(), '1');
    assert.match(readFileSync(join(UNIFIED, 'toyrun', id, 'cgroup.events'), 'utf8'), /^frozen 1$/m);
    v2ok(['resume', id]);
    assert.is(JSON.parse(v2ok(['state', id]).stdout).status, 'running');

    const stats = JSON.parse(v2ok(['events', '--stats', id]).stdout) as { type: string; data: { cpu: { usage: { total: number } }; network_interfaces: null } };
    assert.is(stats.type, 'stats');
    assert.ok(stats.data.cpu.usage.total > 0, 'cpu.stat usage_usec is read on v2');

    v2ok(['kill', '--all', id, '9']);
    waitFor(() => procs(id).length === 0, 'every process to die');
    assert.is(JSON.parse(v2ok(['state', id]).stdout).status, 'stopped');
  } finally {
    v2ok(['delete', '--force', id]);
  }
  assert.not.ok(existsSync(join(UNIFIED, 'toyrun', id)), 'delete removed the v2 cgroup');
  assert.not.ok(existsSync(join(t.root, id)));
});

test('v2 driver, real container: devices are enforced by the BPF program', () => {
  const id = uniqueId('v2dev');
  // 42:x has no driver: an open the filter allows fails with ENXIO, a denied one with EPERM
  const b = bundle('(: < /dev/fa) 2>&1; (: > /dev/fa) 2>&1; (: < /dev/fb) 2>&1; : > /dev/null && echo null-ok', (s) => {
    s.linux!.devices = [
      { path: '/dev/fa', type: 'c', major: 42, minor: 0 },
      { path: '/dev/fb', type: 'c', major: 42, minor: 1 },
    ];
    s.linux!.resources = { devices: [{ allow: true, type: 'c', major: 42, minor: 0, access: 'r' }] };
  });
  const c = v2create(b, id);
  assert.is(c.status, 0, c.output);
  try {
    v2ok(['start', id]);
    // the container writes to create's stdio: the log file
    const lines = waitFor(() => {
      const l = readFileSync(c.log, 'utf8').trim().split('\n');
      return l.includes('null-ok') && l;
    }, 'the probes to finish');
    assert.is(lines.length, 4, lines.join('\n'));
    assert.match(lines[0] as string, /\/dev\/fa.*No such device or address/, 'read allowed');
    assert.match(lines[1] as string, /\/dev\/fa.*Operation not permitted/, 'write denied');
    assert.match(lines[2] as string, /\/dev\/fb.*Operation not permitted/, 'no rule: denied');
  } finally {
    v2ok(['delete', '--force', id]);
  }
});

test('v2 driver: hugetlb (present) is applied, a missing controller fails create cleanly', () => {
  const id = uniqueId('v2h');
  const c = v2create(bundle('sleep 1000', (s) => (s.linux!.resources = { hugepageLimits: [{ pageSize: '2MB', limit: 2 * 1024 * 1024 }] })), id);
  assert.is(c.status, 0, c.output);
  try {
    assert.is(readFileSync(join(UNIFIED, 'toyrun', id, 'hugetlb.2MB.max'), 'utf8').trim(), String(2 * 1024 * 1024));
  } finally {
    v2ok(['delete', '--force', id]);
  }
  for (const [what, res, re] of [
    ['pids', { pids: { limit: 10 } }, /linux\.resources\.pids: the pids controller is not available in cgroup v2/],
    ['memory', { memory: { limit: 8388608 } }, /linux\.resources\.memory: the memory controller is not available in cgroup v2/],
    ['swappiness', { memory: { swappiness: 10 } }, /the memory controller is not available|swappiness is not supported on cgroup v2/],
    ['net_cls', { network: { classID: 1 } }, /linux\.resources\.network.*not supported on cgroup v2/],
  ] as [string, NonNullable<Spec['linux']>['resources'], RegExp][]) {
    const bad = uniqueId('v2bad');
    const r = v2create(bundle('true', (s) => (s.linux!.resources = res)), bad);
    assert.is(r.status, 1, what);
    assert.match(r.output, re, what);
    assert.not.ok(existsSync(join(UNIFIED, 'toyrun', bad)), `${what}: no cgroup left`);
    assert.not.ok(existsSync(join(t.root, bad)), `${what}: no state dir left`);
  }
});

test.after(() => t.cleanup());
test.run();
