// Whole containers on the v2 driver, on either layout: every toyrun call runs in a
// private mount namespace where /sys/fs/cgroup is the host's real cgroup2
// hierarchy alone (on a v1-hybrid host the one normally at /sys/fs/cgroup/unified;
// on a unified host the same tree as outside). toyrun reads that layout from
// mountinfo and picks CgroupV2 by itself. The hybrid machines' cgroup2 has no
// memory/cpu/io/pids controllers (only hugetlb): what needs those is covered by the
// unit tests on a fake tree, and for real on a unified host (integration/resources).
// Here: create/join, freeze, ps, kill --all, stats, the BPF device filter, delete,
// and where a relative cgroupsPath lands when the caller's cgroup holds processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deadline, CGROUP2_MOUNT, cgroup2RootControllers, cgroup2ToyrunControllers, sh, TOYRUN, Toyrun, uniqueId, type Result, waitFor } from '../helpers';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('cgroups-v2');
const UNIFIED = CGROUP2_MOUNT;
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
      stdio: ['ignore', fd, fd], env: {}, cwd: '/', timeout: deadline(60000),
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

test('v2 driver: hugetlb (where the parent enables it) is applied, a missing controller fails create cleanly', () => {
  const id = uniqueId('v2h');
  const huge = cgroup2ToyrunControllers().includes('hugetlb');
  const c = v2create(bundle('sleep 1000', (s) => (s.linux!.resources = { hugepageLimits: [{ pageSize: '2MB', limit: 2 * 1024 * 1024 }] })), id);
  if (huge) {
    assert.is(c.status, 0, c.output);
    try {
      assert.is(readFileSync(join(UNIFIED, 'toyrun', id, 'hugetlb.2MB.max'), 'utf8').trim(), String(2 * 1024 * 1024));
    } finally {
      v2ok(['delete', '--force', id]);
    }
  } else {
    assert.is(c.status, 1, c.output);
    assert.match(c.output, /linux\.resources\.hugepageLimits: the hugetlb controller is not available in cgroup v2/);
  }
  // a controller the parent does not enable for its children (toyrun never enables
  // one in a cgroup it did not create) is named; v1-only values always are
  const rootHas = cgroup2ToyrunControllers();
  for (const [what, res, re] of [
    ['pids', { pids: { limit: 10 } }, /linux\.resources\.pids: the pids controller is not available in cgroup v2/],
    ['memory', { memory: { limit: 8388608 } }, /linux\.resources\.memory: the memory controller is not available in cgroup v2/],
    ['swappiness', { memory: { swappiness: 10 } }, /the memory controller is not available|swappiness is not supported on cgroup v2/],
    ['net_cls', { network: { classID: 1 } }, /linux\.resources\.network.*not supported on cgroup v2/],
  ].filter(([what]) => !rootHas.includes(what as string)) as [string, NonNullable<Spec['linux']>['resources'], RegExp][]) {
    const bad = uniqueId('v2bad');
    const r = v2create(bundle('true', (s) => (s.linux!.resources = res)), bad);
    assert.is(r.status, 1, what);
    assert.match(r.output, re, what);
    assert.not.ok(existsSync(join(UNIFIED, 'toyrun', bad)), `${what}: no cgroup left`);
    assert.not.ok(existsSync(join(t.root, bad)), `${what}: no state dir left`);
  }
});

test('v2: a relative cgroupsPath lands beside the caller\'s cgroup (runc), which holds processes and is never written to', () => {
  // the caller runs in <base>/svc (as a systemd service does), next to a process of its own
  const base = join(UNIFIED, `toyrun-caller-${process.pid}`);
  const svc = join(base, 'svc');
  mkdirSync(svc, { recursive: true });
  // the base is the caller's to configure: it hands its controllers on (its own business, not toyrun's)
  const ctl = cgroup2RootControllers();
  if (ctl.length > 0) writeFileSync(join(base, 'cgroup.subtree_control'), ctl.map((c) => `+${c}`).join(' '));
  const hold = spawnSync('sh', ['-c', `echo $$ > ${svc}/cgroup.procs; sleep 1000 > /dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
  const holder = Number(hold.stdout.trim());
  const inSvc = (args: string[]): Result => sh('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c',
    `echo $$ > ${svc}/cgroup.procs && ${WRAP}`, TOYRUN, '--root', t.root, ...args], { env: {}, cwd: '/' });
  const id = uniqueId('v2rel');
  t.track(id);
  try {
    const ok = bundle('true', (s) => {
      s.linux!.cgroupsPath = `rel/${id}`;
      if (ctl.includes('pids')) s.linux!.resources = { pids: { limit: 20 } };
    });
    const c = inSvc(['create', '--bundle', ok, id]);
    assert.is(c.status, 0, c.stderr);
    const rec = JSON.parse(readFileSync(join(t.root, id, 'state.json'), 'utf8')) as { cgroup: { paths: Record<string, string> } };
    const leaf = `/sys/fs/cgroup/toyrun-caller-${process.pid}/rel/${id}`;
    assert.is(rec.cgroup.paths.unified, leaf, 'below the parent of the caller\'s cgroup, as seen in the cgroup2-only view');
    const init = JSON.parse(v2ok(['state', id]).stdout).pid as number;
    assert.match(readFileSync(`/proc/${init}/cgroup`, 'utf8'), `0::/toyrun-caller-${process.pid}/rel/${id}\n`);
    assert.not.ok(existsSync(join(svc, 'rel')), 'nothing made inside the caller\'s cgroup');
    assert.is(readFileSync(join(svc, 'cgroup.type'), 'utf8').trim(), 'domain', 'the caller\'s cgroup is still a plain domain');
    assert.is(readFileSync(join(svc, 'cgroup.subtree_control'), 'utf8').trim(), '', 'no controller enabled in the caller\'s cgroup');
    if (ctl.includes('pids')) assert.is(readFileSync(join(base, 'rel', id, 'pids.max'), 'utf8').trim(), '20');
    v2ok(['delete', '--force', id]);
    assert.not.ok(existsSync(join(base, 'rel', id)));
    rmdirSync(join(base, 'rel'));

    // a create that fails after making its cgroup leaves no level it made behind
    const bad = uniqueId('v2relbad');
    t.track(bad);
    const b = bundle('true', (s) => {
      s.linux!.cgroupsPath = `rel2/deeper/${bad}`;
      s.linux!.resources = { network: { classID: 1 } };
    });
    const f = inSvc(['create', '--bundle', b, bad]);
    assert.is(f.status, 1, f.stderr);
    assert.match(f.stderr, /linux\.resources\.network.*not supported on cgroup v2/);
    assert.not.ok(existsSync(join(base, 'rel2')), 'the levels the failed create made are gone');
    assert.not.ok(existsSync(join(t.root, bad)));
  } finally {
    spawnSync('kill', ['-9', String(holder)]);
    waitFor(() => readFileSync(join(svc, 'cgroup.procs'), 'utf8').trim() === '', 'the holder to leave');
    for (const d of [join(base, 'rel2', 'deeper'), join(base, 'rel2'), join(base, 'rel'), svc, base]) {
      try {
        rmdirSync(d);
      } catch {
        // not made, or removed above
      }
    }
  }
});

test.after(() => t.cleanup());
test.run();
