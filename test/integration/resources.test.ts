// Resources on real cgroups, on either layout (CGROUP_V2 in test/helpers.ts):
// v1 hybrid (the project's machines: cgroup2 at /sys/fs/cgroup/unified with only
// hugetlb) or unified (systemd hosts: one cgroup2 tree at /sys/fs/cgroup). Limits
// observed from inside the container and from the host, update, pause/resume,
// events, ps, kill --all, failures that leave nothing behind, and the v2 driver's
// kernel-facing parts (freeze, BPF device filter, create/destroy) on the host's
// real cgroup2 mount. Where the two layouts name a file differently, both are asserted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deadline, CGROUP2_MOUNT, CGROUP_V2, cgroupDir, cgroup2ToyrunControllers, FIXTURES, leftovers, TOYRUN, Toyrun, uniqueId, waitFor } from '../helpers';
import { blkioToIoWeight, CgroupV2, sharesToWeight } from '../../src/linux/cgroups/v2';
import { startMoveGracePeriod } from '../../src/linux/cgroups/join';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('resources');
const CG = '/sys/fs/cgroup';
const MiB = 1024 * 1024;

function res(spec: Spec): NonNullable<NonNullable<Spec['linux']>['resources']> {
  spec.linux ??= {};
  spec.linux.resources ??= {};
  return spec.linux.resources;
}

/** A file of the container's cgroup: v1 in the controller's hierarchy, else the cgroup2 directory. */
function cgFile(controller: string, id: string, file: string): string {
  return readFileSync(join(cgroupDir(controller, `toyrun/${id}`), file), 'utf8').trim();
}
/** v1 and v2 names of the same value: [v1 controller, v1 file, v2 file]. */
function cgValue(v1: [string, string], v2: string, id: string): string {
  return CGROUP_V2 ? cgFile('', id, v2) : cgFile(v1[0], id, v1[1]);
}


function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** `create` hands its stdio to the container: with pipes, spawnSync would wait
 * for the container to exit. Give it a log file instead. */
function tryCreate(args: string[], id: string): { status: number | null; output: string } {
  const log = join(t.tempDir('toyrun-res-log-'), 'out');
  const fd = openSync(log, 'w');
  try {
    t.track(id);
    const r = spawnSync(TOYRUN, ['--root', t.root, ...args], { stdio: ['ignore', fd, fd], env: {}, cwd: '/', timeout: deadline(60000) });
    return { status: r.status, output: readFileSync(log, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

function create(args: string[], id: string): void {
  const r = tryCreate(args, id);
  if (r.status !== 0) throw new Error(`toyrun ${args.join(' ')} exited ${r.status}: ${r.output}`);
}

/** create + start a container running `sh -c script`, with a host dir bound at /home. */
function startSh(script: string, edit: (s: Spec) => void = () => undefined): { id: string; dir: string } {
  const dir = t.tempDir('toyrun-res-');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', script];
    s.mounts = [...(s.mounts ?? []), { destination: '/home', type: 'bind', source: dir, options: ['rbind', 'rw'] }];
    edit(s);
  });
  const id = uniqueId('res');
  create(['create', '--bundle', bundle, id], id);
  t.ok(['start', id]);
  return { id, dir };
}

function pidAlive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX]/.test(st);
  } catch {
    return false;
  }
}

test('memory.limit 8 MiB and 6 MiB: the init joins first, so `true` still runs', () => {
  for (const limit of [8 * MiB, 6 * MiB]) {
    const bundle = t.bundle((s) => {
      (s.process as NonNullable<Spec['process']>).args = ['true'];
      res(s).memory = { limit };
    });
    const r = t.run(['run', '--bundle', bundle, uniqueId('m')]);
    assert.is(r.status, 0, `limit ${limit}: ${r.stderr}`);
  }
  const r = t.sh(CGROUP_V2 ? 'cat /sys/fs/cgroup/memory.max' : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes', (s) => (res(s).memory = { limit: 8 * MiB }));
  assert.is(r.stdout.trim(), String(8 * MiB), 'the limit is in force inside the container');
});

test('the container sees its own cgroup at / (cgroup namespace), and delete removes it', () => {
  const { id } = startSh('sleep 1000');
  const dir = cgroupDir('memory', `toyrun/${id}`);
  assert.ok(existsSync(dir));
  const pids = JSON.parse(t.ok(['ps', '--format', 'json', id]).stdout) as number[];
  const host = readFileSync(`/proc/${pids[0]}/cgroup`, 'utf8');
  if (!CGROUP_V2) assert.match(host, `:memory:/toyrun/${id}\n`);
  assert.match(host, `0::/toyrun/${id}\n`);
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

test('a created init is in every hierarchy of its cgroup before start (cgroup2 moved by create, v1 by itself)', () => {
  const bundle = t.bundle((s) => ((s.process as NonNullable<Spec['process']>).args = ['true']));
  const id = uniqueId('join');
  create(['create', '--bundle', bundle, id], id);
  const pid = (JSON.parse(t.ok(['state', id]).stdout) as { pid: number }).pid;
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const own = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  assert.is(lines.length, own.length, 'as many hierarchies as the host has');
  for (const l of lines) assert.ok(l.endsWith(`/toyrun/${id}`), l);
  assert.ok(lines.includes(`0::/toyrun/${id}`), lines.join('\n'));
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

test('the head start on the cgroup2 grace period moves nothing', async () => {
  const before = readFileSync('/proc/self/cgroup', 'utf8');
  startMoveGracePeriod();
  // the no-op write runs on a worker thread: give it the time of a grace period or two
  await new Promise((r) => setTimeout(r, 60));
  assert.is(readFileSync('/proc/self/cgroup', 'utf8'), before);
});

test('cgroup namespace view from inside: every hierarchy at /', () => {
  const r = t.sh('cat /proc/self/cgroup');
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length >= (CGROUP_V2 ? 1 : 2), r.stdout);
  for (const l of lines) assert.ok(l.endsWith(':/'), l);
});

test('a 32 MiB memory limit OOM-kills a 64 MiB allocation; events streams the OOM', async () => {
  const { id, dir } = startSh('while [ ! -e /home/go ]; do sleep 0.05; done; dd if=/dev/zero of=/dev/null bs=64M count=1; echo "dd=$?" > /home/dd; sleep 1000', (s) => {
    res(s).memory = { limit: 32 * MiB };
  });
  const ev = spawn(TOYRUN, ['--root', t.root, 'events', '--interval', '200ms', id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  ev.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const lines = (): { type: string; id: string; data?: Record<string, unknown> }[] =>
    out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; id: string });
  try {
    // the first stats line means the OOM eventfd is registered: now allocate
    await until(() => lines().some((l) => l.type === 'stats'), 'first stats line');
    writeFileSync(join(dir, 'go'), '');
    await until(() => lines().some((l) => l.type === 'oom'), 'oom event');
    await until(() => existsSync(join(dir, 'dd')), 'dd to finish');
    assert.is(readFileSync(join(dir, 'dd'), 'utf8').trim(), 'dd=137', 'dd was SIGKILLed by the OOM killer');
    assert.equal(lines().find((l) => l.type === 'oom'), { type: 'oom', id });
    assert.match(cgValue(['memory', 'memory.oom_control'], 'memory.events', id), /oom_kill [1-9]/);
    const stats = JSON.parse(t.ok(['events', '--stats', id]).stdout) as { data: { memory: { usage: { limit: number; failcnt: number } } } };
    assert.is(stats.data.memory.usage.limit, 32 * MiB);
    assert.ok(stats.data.memory.usage.failcnt > 0);
  } finally {
    t.run(['delete', '--force', id]);
    // events ends by itself once the container is gone
    await until(() => ev.exitCode !== null, 'events to exit');
  }
  assert.is(ev.exitCode, 0);
  assert.equal(leftovers(t, id), []);
});

async function until(fn: () => boolean, what: string, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('pids.limit 10: the 11th process cannot be forked', () => {
  // busybox sh gives up on a failed fork, so an inner shell does the forking;
  // counting uses shell builtins only (any command would be a fork too).
  // outer sh + inner sh + 8 sleeps = 10 processes: the 9th sleep is the 11th.
  const script = 'sh -c "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1000 & echo started \\$i; done"; '
    + 'n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo "procs=$n"';
  const r = t.sh(script, (s) => (res(s).pids = { limit: 10 }));
  const started = r.stdout.split('\n').filter((l) => l.startsWith('started '));
  assert.is(started.length, 8, r.stdout);
  assert.match(r.stdout, /procs=9\n/, 'the inner shell died; the 8 sleeps and the outer shell remain');
  assert.match(r.stderr, /can't fork: Resource temporarily unavailable/);
});

test('cpu quota 20% keeps a busy loop near 20% of one CPU', () => {
  const { id } = startSh('while :; do :; done', (s) => (res(s).cpu = { quota: 20000, period: 100000 }));
  try {
    const usage = (): number => (CGROUP_V2 ? Number(/usage_usec (\d+)/.exec(cgFile('', id, 'cpu.stat'))?.[1]) * 1000 : Number(cgFile('cpuacct', id, 'cpuacct.usage')));
    sleep(300);
    const u0 = usage(), t0 = process.hrtime.bigint();
    sleep(2000);
    const u1 = usage(), t1 = process.hrtime.bigint();
    const share = (u1 - u0) / Number(t1 - t0);
    assert.ok(share > 0.05 && share < 0.3, `busy loop used ${(share * 100).toFixed(1)}% of a CPU`);
    assert.match(cgFile('cpu', id, 'cpu.stat'), /nr_throttled [1-9]/);
    assert.is(cgValue(['cpu', 'cpu.cfs_quota_us'], 'cpu.max', id), CGROUP_V2 ? '20000 100000' : '20000');
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('pause freezes a counter, state says paused, resume continues it', () => {
  const { id, dir } = startSh('i=0; while :; do i=$((i+1)); echo $i > /home/n.tmp; mv /home/n.tmp /home/n; done');
  const count = (): number => Number(readFileSync(join(dir, 'n'), 'utf8'));
  try {
    waitFor(() => existsSync(join(dir, 'n')) && count() > 10, 'counter to run');
    t.ok(['pause', id]);
    assert.is(t.state(id).status, 'paused');
    assert.is(cgValue(['freezer', 'freezer.state'], 'cgroup.freeze', id), CGROUP_V2 ? '1' : 'FROZEN');
    const frozen = count();
    sleep(300);
    assert.is(count(), frozen, 'no progress while paused');
    assert.match(t.run(['pause', id]).stderr, /container not running/);
    t.ok(['resume', id]);
    assert.is(t.state(id).status, 'running');
    waitFor(() => count() > frozen, 'counter to continue');
    assert.match(t.run(['resume', id]).stderr, /container not paused/);
  } finally {
    t.ok(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

test('a created container can be paused (state: paused), resumed (created) and then started', () => {
  const id = uniqueId('pc');
  const dir = t.tempDir('toyrun-res-');
  const b = t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', 'echo started > /home/out'];
    s.mounts = [...(s.mounts ?? []), { destination: '/home', type: 'bind', source: dir, options: ['rbind', 'rw'] }];
  });
  create(['create', '--bundle', b, id], id);
  try {
    t.ok(['pause', id]);
    assert.is(t.state(id).status, 'paused');
    assert.match(t.run(['start', id]).stderr, /cannot start an already paused container/);
    t.ok(['resume', id]);
    assert.is(t.state(id).status, 'created');
    t.ok(['start', id]);
    waitFor(() => existsSync(join(dir, 'out')), 'the process to run');
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('delete --force of a paused container kills and removes everything', () => {
  const { id } = startSh('sleep 1000 & sleep 1000');
  t.ok(['pause', id]);
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

test('update changes the limits of a running container (flags, --resources FILE and -)', () => {
  const { id } = startSh('sleep 1000', (s) => {
    res(s).memory = { limit: 32 * MiB };
    res(s).pids = { limit: 50 };
  });
  try {
    const memLimit = (): string => cgValue(['memory', 'memory.limit_in_bytes'], 'memory.max', id);
    // v2 keeps swap apart from memory: memory.swap.max = OCI swap (memory+swap) - limit
    const memSwap = (): string => cgValue(['memory', 'memory.memsw.limit_in_bytes'], 'memory.swap.max', id);
    const quota = (): string => cgValue(['cpu', 'cpu.cfs_quota_us'], 'cpu.max', id);
    t.ok(['update', '--memory', '64m', '--pids-limit=20', '--cpu-share', '512', id]);
    assert.is(memLimit(), String(64 * MiB));
    assert.is(cgFile('pids', id, 'pids.max'), '20');
    assert.is(cgValue(['cpu', 'cpu.shares'], 'cpu.weight', id), CGROUP_V2 ? String(sharesToWeight(512)) : '512');
    // podman's file (memory + swap, shares)
    const file = join(FIXTURES, 'podman-update-resources.json');
    t.ok(['update', `--resources=${file}`, id]);
    assert.is(memLimit(), '100663296');
    assert.is(memSwap(), CGROUP_V2 ? String(201326592 - 100663296) : '201326592');
    // containerd's stdin form
    t.ok(['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 7 }, cpu: { quota: 50000, period: 100000 } }) });
    assert.is(cgFile('pids', id, 'pids.max'), '7');
    assert.is(quota(), CGROUP_V2 ? '50000 100000' : '50000');
    // what the container sees
    const inside = t.ok(['events', '--stats', id]).stdout;
    assert.match(inside, /"pids":\{"current":1,"limit":7\}/);
    // the stored config follows, so a later update merges with it
    const stored = JSON.parse(readFileSync(join(t.root, id, 'config.json'), 'utf8')) as Spec;
    assert.equal(stored.linux?.resources?.memory, { limit: 100663296, swap: 201326592 });
    assert.equal(stored.linux?.resources?.pids, { limit: 7 });
    // runc's "-1" = unlimited, given as a separate argument
    t.ok(['update', '--memory-swap', '-1', '--cpu-quota', '-1', id]);
    assert.is(memSwap(), CGROUP_V2 ? 'max' : '9223372036854771712');
    assert.is(quota(), CGROUP_V2 ? 'max 100000' : '-1');
    // bad input: clear errors, nothing changed
    let r = t.run(['update', '--resources', '-', id], { input: '{"memory":{"limit":"lots"}}' });
    assert.is(r.status, 1);
    assert.match(r.stderr, /<stdin>: \/memory\/limit must be integer/);
    r = t.run(['update', '--memory', 'lots', id]);
    assert.match(r.stderr, /invalid value for --memory: \\?"lots/);
    if (!CGROUP_V2) {
      // (v2's memory.max takes any value and reclaims, then OOM-kills, to meet it)
      r = t.run(['update', '--memory', '1k', id]);
      assert.is(r.status, 1, 'below current usage: the kernel refuses');
      assert.match(r.stderr, /memory\.limit_in_bytes.*EBUSY/);
      assert.is(memLimit(), '100663296');
    }
  } finally {
    t.ok(['delete', '--force', id]);
  }
  const r = t.run(['update', '--memory', '1m', id]);
  assert.match(r.stderr, /does not exist/);
});

test('ps lists the container\'s PIDs (json exactly, and table)', () => {
  const { id } = startSh('sleep 1000 & sleep 1000 & sleep 1000');
  try {
    const expected = waitFor(() => {
      const procs = readFileSync(join(cgroupDir('pids', `toyrun/${id}`), 'cgroup.procs'), 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
      return procs.length === 3 && procs;
    }, 'three processes');
    const r = t.ok(['ps', '--format', 'json', id]);
    assert.is(r.stdout, JSON.stringify(expected) + '\n');
    assert.is(r.stderr, '');
    const table = t.ok(['ps', id]).stdout.trim().split('\n');
    assert.match(table[0] as string, /PID/);
    assert.is(table.length, 4);
    for (const pid of expected) assert.ok(table.some((l) => l.split(/\s+/).includes(String(pid))), `pid ${pid} in table`);
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('kill --all reaches every process (container sharing the host PID namespace)', () => {
  const { id } = startSh('sleep 1000 & sleep 1000 & sleep 1000', (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
  });
  try {
    const pids = waitFor(() => {
      const p = JSON.parse(t.ok(['ps', '--format', 'json', id]).stdout) as number[];
      return p.length === 3 && p;
    }, 'three processes');
    const init = t.state(id).pid as number;
    // without --all only the init is signalled: its children survive
    t.ok(['kill', id, 'KILL']);
    waitFor(() => !pidAlive(init), 'the init to die');
    const rest = pids.filter((p) => p !== init);
    assert.ok(rest.every(pidAlive), 'children survive a plain kill without a PID namespace');
    assert.is(t.state(id).status, 'stopped');
    // --all of the stopped container still reaches them (runc; containerd's shim sends it when the init exits)
    t.ok(['kill', '--all', id, '9']);
    waitFor(() => rest.every((p) => !pidAlive(p)), 'the children to die');
  } finally {
    t.ok(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);

  const { id: id2 } = startSh('sleep 1000 & sleep 1000 & sleep 1000', (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
  });
  try {
    const pids = waitFor(() => {
      const p = JSON.parse(t.ok(['ps', '--format', 'json', id2]).stdout) as number[];
      return p.length === 3 && p;
    }, 'three processes');
    t.ok(['kill', '--all', id2, '9']);
    waitFor(() => pids.every((p) => !pidAlive(p)), 'every process to die');
    waitFor(() => readFileSync(join(cgroupDir('pids', `toyrun/${id2}`), 'cgroup.procs'), 'utf8').trim() === '', 'an empty cgroup');
  } finally {
    t.ok(['delete', '--force', id2]);
  }
  assert.equal(leftovers(t, id2), []);
});

test('events --stats prints one JSON line shaped like runc\'s', () => {
  const { id } = startSh('sleep 1000', (s) => (res(s).memory = { limit: 48 * MiB }));
  try {
    const r = t.ok(['events', '--stats', id]);
    assert.is(r.stdout.split('\n').length, 2, 'one line');
    const got = JSON.parse(r.stdout) as { type: string; id: string; data: Record<string, Record<string, unknown>> };
    // runc 1.1.5's output on this layout (the v2 one captured on a Debian 12 host)
    const ref = JSON.parse(readFileSync(join(FIXTURES, CGROUP_V2 ? 'runc-events-stats-v2.json' : 'runc-events-stats.json'), 'utf8')) as typeof got;
    assert.is(got.type, 'stats');
    assert.is(got.id, id);
    assert.equal(Object.keys(got.data).sort(), Object.keys(ref.data).sort());
    // omitempty fields (Go) may come and go with the values: compare the rest
    const omitempty = new Set(['cpus', 'mems', 'percpu', 'percpu_kernel', 'percpu_user', 'total', 'cache', 'usage', 'max']);
    const keys = (o: unknown): string[] => Object.keys(o as object).filter((k) => !omitempty.has(k)).sort();
    for (const k of ['cpu', 'cpuset', 'memory']) assert.equal(keys(got.data[k]), keys(ref.data[k]), k);
    assert.equal(keys(got.data.cpu!.usage), keys(ref.data.cpu!.usage), 'cpu.usage');
    for (const k of ['usage', 'swap', 'kernel', 'kernelTCP']) assert.equal(keys(got.data.memory![k]), keys(ref.data.memory![k]), `memory.${k}`);
    assert.ok('usage' in got.data.memory!, 'memory.usage');
    assert.equal(Object.keys(got.data.memory!.usage as object).filter((k) => k !== 'max'), ['limit', 'usage', 'failcnt']);
    assert.is((got.data.memory!.usage as { limit: number }).limit, 48 * MiB);
    const swap = got.data.memory!.swap as { limit: number; usage?: number };
    if (CGROUP_V2) {
      // runc reports v2 swap as memory+swap, like v1's memsw
      assert.ok((swap.usage ?? 0) >= ((got.data.memory!.usage as { usage: number }).usage ?? 0), 'swap usage includes memory');
    }
    assert.equal(got.data.pids, { current: 1 });
    assert.ok((got.data.cpu!.usage as { total: number }).total > 0);
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('cgroupsPath: an absolute path lands below each hierarchy\'s root, removed by delete', () => {
  const id = uniqueId('cgp');
  const b = t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
    s.linux!.cgroupsPath = `/toyrun-abs/${id}`;
    res(s).pids = { limit: 33 };
  });
  create(['create', '--bundle', b, id], id);
  assert.is(readFileSync(join(cgroupDir('pids', `toyrun-abs/${id}`), 'pids.max'), 'utf8').trim(), '33');
  assert.ok(existsSync(join(CGROUP2_MOUNT, 'toyrun-abs', id)));
  if (!CGROUP_V2) assert.ok(existsSync(join(CG, 'systemd', 'toyrun-abs', id)));
  t.ok(['delete', '--force', id]);
  assert.not.ok(existsSync(cgroupDir('pids', `toyrun-abs/${id}`)));
  for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified', '']) {
    try {
      rmdirSync(join(CG, c, 'toyrun-abs'));
    } catch {
      // shared parent: another test may still use it
    }
  }
});
// --systemd-cgroup: test/integration/systemd.test.ts

test('every resource lands in its file (v1 or v2 names); podman\'s and containerd\'s resources are accepted', () => {
  // On a unified host a controller is there only if the parent (systemd's root, or a
  // /toyrun made earlier) enables it: toyrun never enables one in a cgroup it did not create.
  const v2has = (c: string): boolean => !CGROUP_V2 || cgroup2ToyrunControllers().includes(c);
  const { id } = startSh('sleep 1000', (s) => {
    const r = res(s);
    r.memory = CGROUP_V2
      ? { limit: 64 * MiB, reservation: 32 * MiB, swap: 96 * MiB, kernel: 16 * MiB } // swappiness and disableOOMKiller are v1-only
      : { limit: 64 * MiB, reservation: 32 * MiB, swap: 96 * MiB, swappiness: 10, disableOOMKiller: true, kernel: 16 * MiB };
    r.cpu = { shares: 256, quota: 30000, period: 60000, idle: 0, ...(v2has('cpuset') ? { cpus: '0', mems: '0' } : {}) };
    r.pids = { limit: 64 };
    if (v2has('io')) r.blockIO = { weight: 200 };
  });
  try {
    const expect: [string, string, string | RegExp][] = CGROUP_V2
      ? [
          ['', 'memory.max', String(64 * MiB)],
          ['', 'memory.low', String(32 * MiB)],
          ['', 'memory.swap.max', String(32 * MiB)],
          ['', 'cpu.weight', String(sharesToWeight(256))],
          ['', 'cpu.max', '30000 60000'],
          ['', 'cpu.idle', '0'],
          ['', 'pids.max', '64'],
          ...(v2has('cpuset') ? [['', 'cpuset.cpus', '0'], ['', 'cpuset.mems', '0']] as [string, string, string][] : []),
        ]
      : [
          ['memory', 'memory.limit_in_bytes', String(64 * MiB)],
          ['memory', 'memory.soft_limit_in_bytes', String(32 * MiB)],
          ['memory', 'memory.memsw.limit_in_bytes', String(96 * MiB)],
          ['memory', 'memory.swappiness', '10'],
          ['memory', 'memory.oom_control', /^oom_kill_disable 1$/m],
          ['cpu', 'cpu.shares', '256'],
          ['cpu', 'cpu.cfs_quota_us', '30000'],
          ['cpu', 'cpu.cfs_period_us', '60000'],
          ['cpu', 'cpu.idle', '0'],
          ['cpuset', 'cpuset.cpus', '0'],
          ['cpuset', 'cpuset.mems', '0'],
          ['pids', 'pids.max', '64'],
          ['blkio', 'blkio.bfq.weight', /^(default )?200$/m],
        ];
    if (CGROUP_V2 && v2has('io')) {
      // BFQ takes the blkio scale as it is, io.weight (iocost) its own 1..10000
      expect.push(existsSync(join(cgroupDir('', `toyrun/${id}`), 'io.bfq.weight')) ? ['', 'io.bfq.weight', /^default 200$/m] : ['', 'io.weight', new RegExp(`^default ${blkioToIoWeight(200)}$`, 'm')]);
    }
    for (const [c, f, want] of expect) {
      const got = cgFile(c, id, f);
      if (typeof want === 'string') assert.is(got, want, f);
      else assert.match(got, want, f);
    }
    // the container reads its own limits through its cgroup namespace
    const inside = t.ok(['events', '--stats', id]).stdout;
    if (v2has('cpuset')) assert.match(inside, /"cpuset":\{"cpus":\[0\],/);
  } finally {
    t.ok(['delete', '--force', id]);
  }
  for (const f of ['podman-config.json', 'containerd-config.json']) {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Spec;
    const r = t.sh(CGROUP_V2 ? 'cat /sys/fs/cgroup/pids.max' : 'cat /sys/fs/cgroup/pids/pids.max', (s) => (s.linux!.resources = fixture.linux!.resources));
    assert.is(r.status, 0, `${f}: ${r.stderr}`);
    assert.is(r.stdout.trim(), String(fixture.linux!.resources!.pids?.limit ?? 'max'), f);
  }
});

test('values the host lacks fail clearly, and the failed create leaves nothing behind', () => {
  const cases: [string, (s: Spec) => void, RegExp][] = CGROUP_V2
    ? [
        ['net_cls', (s) => (res(s).network = { classID: 0x100001 }), /linux\.resources\.network.*not supported on cgroup v2/],
        ['hugetlb size', (s) => (res(s).hugepageLimits = [{ pageSize: '3MB', limit: 0 }]), /hugetlb(\.3MB| controller is not available)/],
        ['rt runtime', (s) => (res(s).cpu = { realtimeRuntime: 10_000_000, realtimePeriod: 1_000_000 }), /realtimeRuntime\/realtimePeriod.*not supported on cgroup v2/],
        ['swappiness', (s) => (res(s).memory = { swappiness: 10 }), /swappiness is not supported on cgroup v2/],
        ['unified: no such file', (s) => (res(s).unified = { 'pids.nosuch': '1' }), /linux\.resources\.unified\.pids\.nosuch: no such cgroup file/],
        ['schema', (s) => (res(s).memory = { limit: 'lots' as unknown as number }), /\/linux\/resources\/memory\/limit must be integer/],
      ]
    : [
        ['net_cls', (s) => (res(s).network = { classID: 0x100001 }), /linux\.resources\.network\.classID: the net_cls cgroup controller is not mounted/],
        ['hugetlb size', (s) => (res(s).hugepageLimits = [{ pageSize: '3MB', limit: 0 }]), /hugetlb\.3MB/],
        ['rt runtime', (s) => (res(s).cpu = { realtimeRuntime: 10_000_000, realtimePeriod: 1_000_000 }), /cpu\.rt_(period|runtime)_us.*EINVAL/],
        ['unified on v1', (s) => (res(s).unified = { 'memory.high': '1' }), /linux\.resources\.unified\.memory\.high: the memory controller is not on this host's cgroup2 hierarchy/],
        ['schema', (s) => (res(s).memory = { limit: 'lots' as unknown as number }), /\/linux\/resources\/memory\/limit must be integer/],
      ];
  for (const [name, edit, re] of cases) {
    const id = uniqueId('bad');
    const b = t.bundle((s) => {
      (s.process as NonNullable<Spec['process']>).args = ['true'];
      edit(s);
    });
    const r = tryCreate(['create', '--bundle', b, id], id);
    assert.is(r.status, 1, name);
    assert.match(r.output, re, name);
    assert.equal(leftovers(t, id), [], name);
  }
});

test('blockIO weight and throttling, and ps with ps(1) options after the id', () => {
  const dev = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')?.split(' ')[2];
  const [major, minor] = (dev ?? '0:0').split(':').map(Number) as [number, number];
  const io = !CGROUP_V2 || cgroup2ToyrunControllers().includes('io');
  const { id } = startSh('sleep 1000', (s) => {
    if (io) res(s).blockIO = { weight: 500, throttleReadBpsDevice: [{ major, minor, rate: 1048576 }], throttleWriteIOPSDevice: [{ major, minor, rate: 100 }] };
  });
  try {
    if (!CGROUP_V2) {
      // this host has BFQ's files (no CFQ): the weight goes there
      assert.match(cgFile('blkio', id, 'blkio.bfq.weight'), /^(default )?500$/m);
      assert.is(cgFile('blkio', id, 'blkio.throttle.read_bps_device'), `${major}:${minor} 1048576`);
      assert.is(cgFile('blkio', id, 'blkio.throttle.write_iops_device'), `${major}:${minor} 100`);
    } else if (io) {
      const bfq = existsSync(join(cgroupDir('', `toyrun/${id}`), 'io.bfq.weight'));
      assert.match(cgFile('', id, bfq ? 'io.bfq.weight' : 'io.weight'), new RegExp(`^default ${bfq ? 500 : blkioToIoWeight(500)}$`, 'm'));
      assert.match(cgFile('', id, 'io.max'), new RegExp(`^${major}:${minor} rbps=1048576 wbps=max riops=max wiops=100`, 'm'));
    }
    const pid = t.state(id).pid as number;
    waitFor(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep', 'sh to exec sleep');
    const table = t.ok(['ps', '--format', 'table', id, '-eo', 'pid,comm']).stdout.trim().split('\n');
    assert.equal(table.map((l) => l.trim().split(/\s+/)), [['PID', 'COMMAND'], [String(pid), 'sleep']]);
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('v1 devices: rules start from deny-all (as runc), then the container\'s, then the defaults', () => {
  // 42:x has no driver: an open the device cgroup allows fails with ENXIO, a denied one with EPERM
  const r = t.sh('(: < /dev/fa) 2>&1; (: > /dev/fa) 2>&1; (: < /dev/fb) 2>&1; : > /dev/null && echo null-ok', (s) => {
    s.linux!.devices = [
      { path: '/dev/fa', type: 'c', major: 42, minor: 0 },
      { path: '/dev/fb', type: 'c', major: 42, minor: 1 },
    ];
    // no deny-all in the spec: the runtime supplies it
    res(s).devices = [{ allow: true, type: 'c', major: 42, minor: 0, access: 'r' }];
  });
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 4, r.stdout + r.stderr);
  assert.match(lines[0] as string, /\/dev\/fa.*No such device or address/, 'read allowed');
  assert.match(lines[1] as string, /\/dev\/fa.*Operation not permitted/, 'write denied');
  assert.match(lines[2] as string, /\/dev\/fb.*Operation not permitted/, 'no rule: denied');
  assert.is(lines[3], 'null-ok', 'default devices stay usable');
});

test('hybrid host: hugepageLimits go to the cgroup2 side when hugetlb lives there', () => {
  if (CGROUP_V2 || !readFileSync(join(CG, 'unified', 'cgroup.controllers'), 'utf8').includes('hugetlb') || existsSync(join(CG, 'hugetlb'))) {
    console.log('  (skipped: this host has no cgroup2-only hugetlb)');
    return;
  }
  const { id } = startSh('sleep 1000', (s) => (res(s).hugepageLimits = [{ pageSize: '2MB', limit: 4 * 2 * MiB }]));
  try {
    assert.is(readFileSync(join(CG, 'unified', 'toyrun', id, 'hugetlb.2MB.max'), 'utf8').trim(), String(8 * MiB));
    const stats = JSON.parse(t.ok(['events', '--stats', id]).stdout) as { data: { hugetlb: Record<string, unknown> } };
    assert.ok('2MB' in stats.data.hugetlb);
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('a pids limit of 1 to 4 never kills the init (run, and create → start); runc runs them too', () => {
  // The init joins with its engine's threads (cgroup2 moves all of them); a limit
  // written before would refuse the engine's next thread and abort it.
  for (const limit of [1, 2, 3, 4]) {
    const bundle = t.bundle((s) => {
      (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', `cat ${CGROUP_V2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max'}`];
      res(s).pids = { limit };
    });
    const r = t.run(['run', '--bundle', bundle, uniqueId('pl')]);
    assert.is(r.status, 0, `run, limit ${limit}: ${r.stdout}${r.stderr}`);
    assert.is(r.stdout.trim(), String(limit), `limit ${limit} in force inside`);
    const id = uniqueId('plc');
    create(['create', '--bundle', bundle, id], id);
    const init = t.state(id).pid as number;
    assert.ok(pidAlive(init), `created init alive, limit ${limit}`);
    assert.is(cgFile('pids', id, 'pids.max'), String(limit));
    t.ok(['start', id]);
    waitFor(() => t.state(id).status === 'stopped', 'the process to finish');
    t.ok(['delete', id]);
    assert.equal(leftovers(t, id), []);
    const rc = spawnSync('runc', ['--root', join(t.root, 'runc'), 'run', '--bundle', bundle, uniqueId('runc')], { encoding: 'utf8', timeout: deadline(60000) });
    assert.is(rc.status, 0, `runc, limit ${limit}: ${rc.stderr}`);
  }
});

test('blockIO.weightDevice on a device without BFQ or iocost: a warning in the log, the container runs (as runc)', () => {
  const dev = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')?.split(' ')[2] ?? '0:0';
  const [major, minor] = dev.split(':').map(Number) as [number, number];
  const sched = (() => {
    try {
      return readFileSync(`/sys/dev/block/${major}:${minor}/queue/scheduler`, 'utf8');
    } catch {
      return ''; // a partition: ask its disk
    }
  })() || (() => {
    try {
      return readFileSync(`/sys/dev/block/${major}:${minor}/../queue/scheduler`, 'utf8');
    } catch {
      return '';
    }
  })();
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['true'];
    res(s).blockIO = { weightDevice: [{ major, minor, weight: 300 }] };
  });
  const log = join(t.tempDir('toyrun-wd-'), 'log');
  const r = t.run(['--log', log, 'run', '--bundle', bundle, uniqueId('wd')]);
  assert.is(r.status, 0, r.stderr);
  const warned = existsSync(log) && /weightDevice\[0\]: device \d+:\d+ takes no I\/O weight/.test(readFileSync(log, 'utf8'));
  if (/\[bfq\]/.test(sched)) assert.not.ok(warned, 'BFQ on the device: the weight is applied');
  else assert.ok(warned, `scheduler ${sched.trim()}: the warning names the entry and the device`);
  // runc 1.1.5 ignores such weights on cgroup2 (it writes them only where BFQ is);
  // on v1 it fails create with EOPNOTSUPP, where toyrun warns on both layouts.
  const rc = spawnSync('runc', ['--root', join(t.root, 'runc'), 'run', '--bundle', bundle, uniqueId('runc')], { encoding: 'utf8', timeout: deadline(60000) });
  if (CGROUP_V2) assert.is(rc.status, 0, `runc: ${rc.stderr}`);
});

// ---- the v2 driver on this host's real cgroup2 mount -----------------------

const UNIFIED = CGROUP2_MOUNT;

test('v2 driver (real cgroup2): create, freeze a live process, BPF device filter, destroy', () => {
  const d = new CgroupV2(UNIFIED);
  const path = `/toyrun-v2test-${process.pid}/c1`;
  const rec = d.create(path);
  const dir = rec.paths.unified as string;
  try {
    assert.ok(existsSync(join(dir, 'cgroup.procs')));
    d.applyDevices(rec, [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }]);
    // a process moves itself in, then tries devices: the BPF program decides
    const probe = [
      `echo $$ > ${dir}/cgroup.procs`,
      'dd if=/dev/kmsg count=0 2>/dev/null && echo kmsg-read-ok || echo kmsg-read-denied',
      'echo x 2>/dev/null > /dev/kmsg && echo kmsg-write-ok || echo kmsg-write-denied',
      'dd if=/dev/vda count=0 2>/dev/null && echo vda-ok || echo vda-denied',
      'echo x > /dev/null && echo null-ok || echo null-denied',
    ].join('; ');
    const r = spawnSync('/bin/sh', ['-c', probe], { encoding: 'utf8' });
    assert.equal(r.stdout.trim().split('\n'), ['kmsg-read-ok', 'kmsg-write-denied', 'vda-denied', 'null-ok'], r.stderr);
    // update replaces the program: now deny everything but the defaults
    d.applyDevices(rec, [{ allow: false, access: 'rwm' }]);
    const r2 = spawnSync('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs; dd if=/dev/kmsg count=0 2>/dev/null && echo ok || echo denied`], { encoding: 'utf8' });
    assert.is(r2.stdout.trim(), 'denied');

    // freeze: a live counter stops, cgroup.events reports it, thaw resumes
    const sleeper = spawn('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs; exec sleep 1000`], { stdio: 'ignore' });
    const pid = sleeper.pid as number;
    waitFor(() => readFileSync(join(dir, 'cgroup.procs'), 'utf8').includes(String(pid)) && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('sleep'), 'sleeper in cgroup');
    d.freeze(rec);
    assert.ok(d.isFrozen(rec));
    assert.match(readFileSync(join(dir, 'cgroup.events'), 'utf8'), /frozen 1/);
    d.thaw(rec);
    assert.not.ok(d.isFrozen(rec));
    waitFor(() => /frozen 0/.test(readFileSync(join(dir, 'cgroup.events'), 'utf8')), 'thawed');
    sleeper.kill('SIGKILL');
    waitFor(() => readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() === '', 'cgroup empty');
  } finally {
    d.destroy(rec);
    rmdirSync(join(UNIFIED, `toyrun-v2test-${process.pid}`));
  }
  assert.not.ok(existsSync(dir));
});

test.after(() => t.cleanup());
test.run();
