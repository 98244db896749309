// cgroup logic that needs no kernel: layout parsing, path resolution, the v2
// driver against a temporary directory laid out like cgroup2 (this host is
// v1/hybrid), the v1/v2 stats readers on fake files, the BPF device-filter
// compiler, and the update/events flag parsers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDefaultDeviceRules } from '../../src/linux/cgroups/devices';
import { hostCgroupVersion, parseCgroupMounts, parseProcCgroup, resolveCgroupPath } from '../../src/linux/cgroups/layout';
import { cgroupDriver } from '../../src/linux/cgroups/manager';
import type { CgroupRecord } from '../../src/linux/cgroups/types';
import { CgroupV1 } from '../../src/linux/cgroups/v1';
import { blkioToIoWeight, CgroupV2, sharesToWeight, swapToV2 } from '../../src/linux/cgroups/v2';
import { keyValues, parseCpuList, statsV1, statsV2, toJson } from '../../src/linux/cgroups/stats';
import { accessMask, compileDeviceFilter, encodeInsns } from '../../src/linux/cgroups/bpf';
import { joinNegativeValues, parseBytes, resourcesFromFlags } from '../../src/update';
import { mergeResources } from '../../src/container/update';
import { parseDuration } from '../../src/events';
import { watchOomV2 } from '../../src/linux/cgroups/oom';
import * as libc from '../../src/linux/libc';
import type { Resources } from '../../src/spec/types';

const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const UNIFIED = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';

test('layout: hybrid mountinfo gives v1 hierarchies plus the cgroup2 mount', () => {
  const hs = parseCgroupMounts(HYBRID);
  assert.equal(hs.map((h) => h.controllers.join(',')), ['cpu', 'memory', 'freezer', 'name=systemd', 'unified']);
  assert.is(hostCgroupVersion(hs), 1);
  assert.ok(cgroupDriver(hs) instanceof CgroupV1);
});

// The one computation of a container's cgroup directories (layout.ts plannedDirs)
// must name what create() makes: delete, trust and the frozen check rely on it.
test('planned cgroup dirs are what create makes: v1/hybrid, on this host', () => {
  const driver = cgroupDriver();
  for (const path of [`/toyrun-plan-${process.pid}`, `toyrun-plan-rel-${process.pid}`]) {
    const planned = driver.plannedDirs(path);
    const rec = driver.create(path);
    try {
      assert.equal(rec.paths, planned, path);
      for (const d of Object.values(planned)) assert.ok(existsSync(d), d);
    } finally {
      driver.destroy(rec);
    }
  }
});

test('planned cgroup dirs are what create makes: v2, read from a mountinfo whose cgroup2 root is not "/"', () => {
  const base = mkdtempSync('/tmp/toyrun-plan-');
  try {
    // as inside a container: the host's /sub is what is mounted, and /proc/self/cgroup names host paths below it
    const mount = join(base, 'unified');
    mkdirSync(join(mount, 'service'), { recursive: true });
    const hs = parseCgroupMounts(`30 23 0:26 /sub ${mount} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw`);
    const own = { unified: '/sub/service/self' };
    const driver = cgroupDriver(hs, () => own);
    assert.ok(driver instanceof CgroupV2);
    for (const [path, want] of [['/sub/toyrun/a', 'toyrun/a'], ['rel/b', 'service/rel/b']] as const) {
      const planned = driver.plannedDirs(path);
      assert.equal(planned, { unified: join(mount, want) }, path);
      const rec = driver.create(path);
      assert.equal(rec.paths, planned, path);
      assert.ok(existsSync(join(mount, want)), want);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('layout: a unified host selects the v2 driver on its mount point', () => {
  const hs = parseCgroupMounts(UNIFIED);
  assert.is(hostCgroupVersion(hs), 2);
  const d = cgroupDriver(hs);
  assert.ok(d instanceof CgroupV2);
  assert.is((d as CgroupV2).mountpoint, '/sys/fs/cgroup');
  assert.is(d.version, 2);
});

test('layout: /proc/self/cgroup per controller, v2 entry as "unified"', () => {
  const own = parseProcCgroup('4:memory:/a/b\n3:cpu,cpuacct:/c\n1:name=systemd:/s\n0::/u\n');
  assert.equal(own, { memory: '/a/b', cpu: '/c', cpuacct: '/c', 'name=systemd': '/s', unified: '/u' });
});

/** The join files as each version's manager gives them. */
const joinFiles = (rec: CgroupRecord): ReturnType<CgroupV1['joinFiles']> => (rec.version === 2 ? new CgroupV2('/nonexistent') : new CgroupV1([])).joinFiles(rec);

test('joining: v1 tasks by the process itself; cgroup2 by the parent unless memory or pids could hold the booting engine', () => {
  const root = mkdtempSync('/tmp/toyrun-join-');
  try {
    const dir = (name: string, controllers: string): string => {
      const d = join(root, name);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'cgroup.controllers'), controllers);
      return d;
    };
    const cpu = dir('cpu,cpuacct', ''), mem = dir('memory', '');
    // hybrid: cgroup2 holds only hugetlb; cpu and cpuacct share a mount, joined once
    const hybrid = { version: 1 as const, paths: { cpu, cpuacct: cpu, memory: mem, unified: dir('unified', 'hugetlb\n') } };
    assert.equal(joinFiles(hybrid), { byParent: [join(root, 'unified', 'cgroup.procs')], bySelf: [join(cpu, 'tasks'), join(mem, 'tasks')] });
    // a controller-less cgroup2 side: by the parent as well
    assert.equal(joinFiles({ ...hybrid, paths: { ...hybrid.paths, unified: dir('bare', '') } }).byParent, [join(root, 'bare', 'cgroup.procs')]);
    // unified host with memory and pids: the process moves itself once booted
    const v2 = { version: 2 as const, paths: { unified: dir('v2', 'cpuset cpu io memory pids\n') } };
    assert.equal(joinFiles(v2), { byParent: [], bySelf: [join(root, 'v2', 'cgroup.procs')] });
    assert.equal(joinFiles({ version: 2, paths: { unified: dir('v2-pids', 'pids') } }).bySelf, [join(root, 'v2-pids', 'cgroup.procs')]);
    // pure v1: nothing for the parent
    assert.equal(joinFiles({ version: 1, paths: { memory: mem } }), { byParent: [], bySelf: [join(mem, 'tasks')] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroupsPath: absent, absolute, relative to our own cgroup', () => {
  assert.is(resolveCgroupPath(undefined, 'c1', false), '/toyrun/c1');
  assert.is(resolveCgroupPath('', 'c1', false), '/toyrun/c1');
  assert.is(resolveCgroupPath('/libpod_parent/libpod-c1', 'c1', false), '/libpod_parent/libpod-c1');
  assert.is(resolveCgroupPath('sub/c1', 'c1', false, '/user.slice/me'), '/user.slice/me/sub/c1');
  assert.is(resolveCgroupPath('sub/c1', 'c1', false), 'sub/c1', 'kept relative for the driver to join per hierarchy');
  assert.throws(() => resolveCgroupPath('/a/../b', 'c1', false), /must not contain "\.\."/);
});

test('cgroupsPath: a relative path joins the runtime\'s own cgroup of each v1 hierarchy (runc)', () => {
  const root = mkdtempSync('/tmp/toyrun-fake-v1-');
  try {
    for (const c of ['memory', 'pids', 'unified']) mkdirSync(join(root, c));
    const hs = [
      { controllers: ['memory'], mountpoint: join(root, 'memory'), root: '/', version: 1 as const },
      { controllers: ['pids'], mountpoint: join(root, 'pids'), root: '/', version: 1 as const },
      { controllers: ['unified'], mountpoint: join(root, 'unified'), root: '/', version: 2 as const },
    ];
    const own = (): Record<string, string> => ({ memory: '/svc/a', pids: '/', unified: '/svc' });
    const rec = new CgroupV1(hs, own).create('sub/c1');
    assert.equal(rec.paths, {
      memory: join(root, 'memory', 'svc/a/sub/c1'),
      pids: join(root, 'pids', 'sub/c1'),
      unified: join(root, 'unified', 'svc/sub/c1'),
    });
    assert.is(rec.path, '/svc/a/sub/c1');
    const abs = new CgroupV1(hs, own).create('/abs/c2');
    assert.is(abs.paths.memory, join(root, 'memory', 'abs/c2'));
    const fx = fakeCgroup2();
    try {
      // v2 (runc's fs2): below the *parent* of our own cgroup, which holds processes
      const v2 = new CgroupV2(fx.root, () => ({ unified: '/toyrun/caller.service' })).create('c1');
      assert.is(v2.paths.unified, fx.leaf);
      assert.is(v2.path, '/toyrun/c1');
    } finally {
      fx.cleanup();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('v1 apply on a fake hierarchy: weights need CFQ/BFQ files, missing controllers are named', () => {
  const root = mkdtempSync('/tmp/toyrun-fake-v1-');
  try {
    mkdirSync(join(root, 'blkio'));
    const hs = [{ controllers: ['blkio'], mountpoint: join(root, 'blkio'), root: '/', version: 1 as const }];
    const d = new CgroupV1(hs, () => ({}));
    const rec = d.create('/c1');
    d.apply(rec, { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 10 }] } });
    assert.is(readFileSync(join(root, 'blkio', 'c1', 'blkio.throttle.read_bps_device'), 'utf8'), '8:0 10');
    assert.throws(() => d.apply(rec, { blockIO: { weight: 500 } }), /blockIO\.weight: no blkio\.weight or blkio\.bfq\.weight/);
    assert.throws(() => d.apply(rec, { pids: { limit: 1 } }), /linux\.resources\.pids: the pids cgroup controller is not mounted/);
    assert.throws(() => d.apply(rec, { network: { classID: 1 } }), /the net_cls cgroup controller is not mounted/);
    d.apply(rec, { memory: {}, network: {}, blockIO: {}, hugepageLimits: [], cpu: {} }); // unset values need no controller
    writeFileSync(join(root, 'blkio', 'c1', 'blkio.bfq.weight'), '100');
    d.apply(rec, { blockIO: { weight: 500 } });
    assert.is(readFileSync(join(root, 'blkio', 'c1', 'blkio.bfq.weight'), 'utf8'), '500');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroupsPath: systemd slice:prefix:name maps onto cgroupfs paths', () => {
  assert.is(resolveCgroupPath('machine.slice:libpod:abc', 'abc', true), '/machine.slice/libpod-abc.scope');
  assert.is(resolveCgroupPath('a-b.slice:cri:x', 'x', true), '/a.slice/a-b.slice/cri-x.scope');
  assert.is(resolveCgroupPath(':toyrun:x', 'x', true), '/system.slice/toyrun-x.scope');
  assert.throws(() => resolveCgroupPath('/abs/path', 'x', true), /slice:prefix:name/);
});

test('v2 conversions: shares → weight, blkio weight → io.weight, swap', () => {
  assert.is(sharesToWeight(2), 1);
  assert.is(sharesToWeight(1024), 39);
  assert.is(sharesToWeight(262144), 10000);
  assert.is(blkioToIoWeight(10), 1);
  assert.is(blkioToIoWeight(500), 4950);
  assert.is(blkioToIoWeight(1000), 10000);
  assert.is(swapToV2(-1, 100), 'max');
  assert.is(swapToV2(300, 100), '200');
  assert.throws(() => swapToV2(50, 100), /must be >= memory.limit/);
  assert.throws(() => swapToV2(100, undefined), /without a memory limit/);
});

/** A directory laid out like a cgroup2 mount: root and every level list their
 * controllers (the kernel would create these files on mkdir). */
function fakeCgroup2(controllers = 'cpuset cpu io memory hugetlb pids rdma'): { root: string; leaf: string; cleanup(): void } {
  const root = mkdtempSync('/tmp/toyrun-fake-cgroup2-');
  const leaf = join(root, 'toyrun', 'c1');
  mkdirSync(leaf, { recursive: true });
  for (const d of [root, join(root, 'toyrun'), leaf]) {
    writeFileSync(join(d, 'cgroup.controllers'), controllers + '\n');
    writeFileSync(join(d, 'cgroup.subtree_control'), '');
  }
  writeFileSync(join(leaf, 'cpu.max'), 'max 100000\n');
  writeFileSync(join(leaf, 'memory.max'), 'max\n');
  writeFileSync(join(leaf, 'memory.swap.max'), 'max\n');
  writeFileSync(join(leaf, 'cgroup.freeze'), '0\n');
  return { root, leaf, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
const rd = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');

test('v2 create: never writes to a level that existed; records the levels it made', () => {
  const fx = fakeCgroup2();
  try {
    const d = new CgroupV2(fx.root);
    const rec = d.create('/toyrun/c1');
    assert.equal(rec, { version: 2, paths: { unified: fx.leaf }, path: '/toyrun/c1' });
    assert.is(rd(fx.root, 'cgroup.subtree_control'), '', 'the root is not ours');
    assert.is(rd(join(fx.root, 'toyrun'), 'cgroup.subtree_control'), '', 'a level that existed is not ours either');
    assert.is(rd(fx.leaf, 'cgroup.subtree_control'), '', 'the leaf holds processes: no controllers enabled below it');
    const fresh = d.create('/new/mid/c2');
    assert.equal(fresh.made, [join(fx.root, 'new'), join(fx.root, 'new', 'mid')], 'made above the leaf: removed by a failed create');
    // (enabling controllers in the levels made is checked on a real cgroup2: integration/cgroups-v2)
  } finally {
    fx.cleanup();
  }
});

test('v2 apply: every resource lands in its v2 file with the standard conversion', () => {
  const fx = fakeCgroup2();
  try {
    const d = new CgroupV2(fx.root);
    const rec = d.create('/toyrun/c1');
    d.apply(rec, {
      memory: { limit: 33554432, swap: 67108864, reservation: 16777216, kernel: 1 << 20 },
      cpu: { shares: 1024, quota: 20000, period: 50000, cpus: '0-1', mems: '0', idle: 1, burst: 1000 },
      pids: { limit: 10 },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
      rdma: { mlx4_0: { hcaHandles: 2, hcaObjects: 2000 } },
    });
    assert.is(rd(fx.leaf, 'memory.max'), '33554432');
    assert.is(rd(fx.leaf, 'memory.swap.max'), '33554432', 'swap.max = (memory+swap) - memory');
    assert.is(rd(fx.leaf, 'memory.low'), '16777216');
    assert.is(rd(fx.leaf, 'cpu.weight'), '39');
    assert.is(rd(fx.leaf, 'cpu.max'), '20000 50000');
    assert.is(rd(fx.leaf, 'cpu.max.burst'), '1000');
    assert.is(rd(fx.leaf, 'cpu.idle'), '1');
    assert.is(rd(fx.leaf, 'cpuset.cpus'), '0-1');
    assert.is(rd(fx.leaf, 'cpuset.mems'), '0');
    assert.is(rd(fx.leaf, 'pids.max'), '10');
    assert.is(rd(fx.leaf, 'io.weight'), 'default 4950');
    assert.is(rd(fx.leaf, 'io.max'), '8:0 rbps=1048576');
    assert.is(rd(fx.leaf, 'hugetlb.2MB.max'), '0');
    assert.is(rd(fx.leaf, 'rdma.max'), 'mlx4_0 hca_handle=2 hca_object=2000');
    // update-style partial writes: a new quota keeps the period, -1 means max
    d.apply(rec, { cpu: { quota: -1 }, pids: { limit: -1 }, memory: { limit: -1 } });
    assert.is(rd(fx.leaf, 'cpu.max'), 'max 50000');
    assert.is(rd(fx.leaf, 'pids.max'), 'max');
    assert.is(rd(fx.leaf, 'memory.max'), 'max');
  } finally {
    fx.cleanup();
  }
});

test('v2 apply: BFQ takes blkio weights unconverted', () => {
  const fx = fakeCgroup2();
  try {
    writeFileSync(join(fx.leaf, 'io.bfq.weight'), 'default 100\n');
    const d = new CgroupV2(fx.root);
    d.apply(d.create('/toyrun/c1'), { blockIO: { weightDevice: [{ major: 254, minor: 0, weight: 300 }] } });
    assert.is(rd(fx.leaf, 'io.bfq.weight'), '254:0 300');
  } finally {
    fx.cleanup();
  }
});

test('v2 apply: linux.resources.unified writes raw files, checked against the controllers', () => {
  const fx = fakeCgroup2('cpu memory pids');
  try {
    writeFileSync(join(fx.leaf, 'memory.high'), 'max\n');
    const d = new CgroupV2(fx.root);
    const rec = d.create('/toyrun/c1');
    d.apply(rec, { unified: { 'memory.high': '50331648' } });
    assert.is(rd(fx.leaf, 'memory.high'), '50331648');
    assert.throws(() => d.apply(rec, { unified: { 'io.max': '8:0 rbps=1' } }), /unified\.io\.max: the io controller is not available/);
    assert.throws(() => d.apply(rec, { unified: { 'memory.nosuch': '1' } }), /no such cgroup file/);
    assert.throws(() => d.apply(rec, { unified: { '../escape': '1' } }), /invalid file name/);
  } finally {
    fx.cleanup();
  }
});

test('v2 apply: missing controllers and v1-only values are named errors; unset values are fine', () => {
  const fx = fakeCgroup2('cpu memory');
  try {
    const d = new CgroupV2(fx.root);
    const rec = d.create('/toyrun/c1');
    d.apply(rec, { memory: {}, cpu: {}, network: {}, blockIO: {}, hugepageLimits: [] });
    const cases: [Resources, RegExp][] = [
      [{ pids: { limit: 5 } }, /linux\.resources\.pids: the pids controller is not available/],
      [{ blockIO: { weight: 100 } }, /the io controller is not available/],
      [{ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, /the hugetlb controller is not available/],
      [{ cpu: { cpus: '0' } }, /the cpuset controller is not available/],
      [{ memory: { swappiness: 10 } }, /swappiness is not supported on cgroup v2/],
      [{ memory: { disableOOMKiller: true } }, /disableOOMKiller is not supported on cgroup v2/],
      [{ cpu: { realtimeRuntime: 1000 } }, /realtimeRuntime\/realtimePeriod.*not supported on cgroup v2/],
      [{ network: { classID: 1 } }, /network.*not supported on cgroup v2/],
      [{ blockIO: { leafWeight: 10 } }, /leafWeight is not supported/],
      [{ memory: { limit: 100, swap: 50 } }, /must be >= memory.limit/],
    ];
    for (const [res, re] of cases) assert.throws(() => d.apply(rec, res), re, JSON.stringify(res));
  } finally {
    fx.cleanup();
  }
});

test('v2 freeze/thaw: cgroup.freeze, waiting for cgroup.events to report frozen', () => {
  const fx = fakeCgroup2();
  try {
    const d = new CgroupV2(fx.root);
    const rec = d.create('/toyrun/c1');
    assert.is(d.isFrozen(rec), false);
    writeFileSync(join(fx.leaf, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    d.freeze(rec);
    assert.is(rd(fx.leaf, 'cgroup.freeze'), '1');
    assert.is(d.isFrozen(rec), true);
    d.thaw(rec);
    assert.is(rd(fx.leaf, 'cgroup.freeze'), '0');
    assert.is(d.isFrozen(rec), false);
  } finally {
    fx.cleanup();
  }
});

test('stats v2: cpu.stat, memory.*, pids, io.stat in runc\'s events --stats shape', () => {
  const fx = fakeCgroup2();
  try {
    const f = (n: string, s: string): void => writeFileSync(join(fx.leaf, n), s);
    f('cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 2000\n');
    f('memory.current', '4096\n');
    f('memory.max', '33554432\n');
    f('memory.peak', '8192\n');
    f('memory.swap.current', '0\n');
    f('memory.swap.max', 'max\n');
    f('memory.stat', 'anon 4096\nfile 12288\n');
    f('memory.events', 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    f('pids.current', '2\n');
    f('pids.max', 'max\n');
    f('io.stat', '254:0 rbytes=1024 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n');
    f('cpuset.cpus.effective', '0-1\n');
    f('cpuset.mems.effective', '0\n');
    const s = statsV2(fx.leaf) as Record<string, unknown>;
    const j = JSON.parse(toJson(s)) as Record<string, Record<string, unknown>>;
    assert.equal(Object.keys(j), ['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
    assert.equal(j.cpu, { usage: { total: 1500000, kernel: 500000, user: 1000000 }, throttling: { periods: 10, throttled_periods: 4, throttled_time: 2000000 } });
    // runc's v2 block (test/fixtures/runc-events-stats-v2.json): the v1 shape, flags 0
    const runcV2 = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'runc-events-stats-v2.json'), 'utf8')) as { data: Record<string, Record<string, unknown>> };
    assert.equal(j.cpuset, { cpus: [0, 1], mems: [0], ...runcV2.data.cpuset });
    assert.equal(Object.keys(j.cpuset!), ['cpus', 'cpu_exclusive', 'mems', 'mem_hardwall', 'mem_exclusive', 'memory_migrate', 'memory_spread_page', 'memory_spread_slab', 'memory_pressure', 'sched_load_balance', 'sched_relax_domain_level']);
    // swap as memory+swap (runc): usage 4096 + 0; limit unlimited because swap is
    assert.equal(j.memory!.swap, { limit: 18446744073709551615, usage: 4096, failcnt: 0 });
    assert.equal(j.memory!.usage, { limit: 33554432, usage: 4096, max: 8192, failcnt: 3 });
    assert.is(j.memory!.cache, 12288);
    assert.ok(toJson(s).includes('"swap":{"limit":18446744073709551615,'), 'unlimited swap printed as the exact u64, not a float');
    f('memory.swap.max', '1048576\n');
    f('memory.swap.current', '512\n');
    assert.equal((JSON.parse(toJson(statsV2(fx.leaf))) as { memory: { swap: unknown } }).memory.swap, { limit: 33554432 + 1048576, usage: 4096 + 512, failcnt: 0 });
    assert.equal(j.pids, { current: 2 });
    assert.equal((j.blkio as Record<string, unknown>).ioServiceBytesRecursive, [{ major: 254, op: 'Read', value: 1024 }, { major: 254, op: 'Write' }]);
    assert.is(j.network_interfaces, null);
  } finally {
    fx.cleanup();
  }
});

test('stats v1: per-controller directories, fixture shape and omitempty rules', () => {
  const root = mkdtempSync('/tmp/toyrun-fake-v1-');
  try {
    const dir = (c: string): string => {
      mkdirSync(join(root, c), { recursive: true });
      return join(root, c);
    };
    const rec: CgroupRecord = { version: 1, paths: { cpu: dir('cpu'), cpuacct: dir('cpuacct'), memory: dir('memory'), pids: dir('pids'), cpuset: dir('cpuset') } };
    const f = (c: string, n: string, s: string): void => writeFileSync(join(root, c, n), s);
    f('cpuacct', 'cpuacct.usage', '8027270\n');
    f('cpuacct', 'cpuacct.usage_percpu', '6949639 1077631 \n');
    f('cpuacct', 'cpuacct.stat', 'user 3\nsystem 1\n');
    f('cpu', 'cpu.stat', 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n');
    f('memory', 'memory.usage_in_bytes', '1486848\n');
    f('memory', 'memory.limit_in_bytes', '9223372036854771712\n');
    f('memory', 'memory.max_usage_in_bytes', '2510848\n');
    f('memory', 'memory.failcnt', '0\n');
    f('memory', 'memory.stat', 'cache 1011712\nrss 49152\n');
    f('pids', 'pids.current', '1\n');
    f('pids', 'pids.max', 'max\n');
    f('cpuset', 'cpuset.cpus', '0-1\n');
    f('cpuset', 'cpuset.mems', '0\n');
    const text = toJson(statsV1(rec));
    const j = JSON.parse(text) as Record<string, Record<string, unknown>>;
    assert.equal(j.cpu, { usage: { total: 8027270, percpu: [6949639, 1077631], kernel: 10000000, user: 30000000 }, throttling: {} });
    assert.ok(text.includes('"usage":{"limit":9223372036854771712,"usage":1486848,"max":2510848,"failcnt":0}'), text);
    assert.is(j.memory!.cache, 1011712);
    assert.equal(j.pids, { current: 1 });
    assert.equal(j.blkio, {});
    assert.is(j.cpuset!.sched_relax_domain_level, 0);
    assert.equal(j.cpuset!.cpus, [0, 1]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('stats helpers: key/value files and cpu lists', () => {
  assert.equal(keyValues('a 1\nb 2\nc x\n'), { a: 1n, b: 2n });
  assert.equal(parseCpuList('0-2,4,6-7'), [0, 1, 2, 4, 6, 7]);
  assert.equal(parseCpuList(''), []);
});

test('BPF device filter: catch-all rule ends the program, jumps land on the next rule', () => {
  const prog = compileDeviceFilter([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
  ]);
  // 6 prologue insns; allow c 1:3 rw: JNE type, JSET access, JNE major, JNE minor, MOV, EXIT; deny-all: MOV, EXIT
  assert.is(prog.length, 6 + 6 + 2);
  const rule = prog.slice(6, 12);
  assert.equal(rule.map((i) => i.off), [5, 4, 3, 2, 0, 0]);
  assert.equal(rule.map((i) => i.imm), [2, 1 /* the m bit is outside "rw" */, 1, 3, 1, 0]);
  assert.equal(prog.slice(12).map((i) => [i.code, i.imm]), [[0xb7, 0], [0x95, 0]]);
  assert.is(encodeInsns(prog).length, prog.length * 8);
  // without a catch-all, an unmatched request is denied
  const open = compileDeviceFilter([{ allow: true, type: 'b', major: 8, minor: null, access: 'r' }]);
  assert.equal(open.slice(-2).map((i) => [i.code, i.imm]), [[0xb7, 0], [0x95, 0]]);
  assert.is(accessMask('rw'), 6);
  assert.throws(() => accessMask('rx'), /invalid access "rx"/);
});

/** Run a compiled device filter on one request (the few eBPF opcodes compileDeviceFilter emits). */
function runDeviceFilter(prog: ReturnType<typeof compileDeviceFilter>, type: 'b' | 'c', access: string, major: number, minor: number): number {
  const ctx = [(accessMask(access) << 16) | (type === 'b' ? 1 : 2), major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0; pc < prog.length; pc++) {
    const i = prog[pc]!;
    switch (i.code) {
      case 0x61: r[i.dst] = ctx[i.off / 4]!; break; // LDXW dst = *(u32 *)(ctx + off)
      case 0x57: r[i.dst] = (r[i.dst]! & i.imm) >>> 0; break;
      case 0x77: r[i.dst] = r[i.dst]! >>> i.imm; break;
      case 0xb7: r[i.dst] = i.imm; break;
      case 0xbf: r[i.dst] = r[i.src]!; break;
      case 0x55: if (r[i.dst] !== i.imm) pc += i.off; break;
      case 0x15: if (r[i.dst] === i.imm) pc += i.off; break;
      case 0x45: if ((r[i.dst]! & i.imm) !== 0) pc += i.off; break;
      case 0x95: return r[0]!;
      default: throw new Error(`opcode ${i.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('fell off the end of the program');
}

test('BPF device filter, default policy (no linux.resources.devices): runc\'s list and nothing else', () => {
  const prog = compileDeviceFilter(withDefaultDeviceRules(undefined));
  const allowed: [type: 'b' | 'c', access: string, major: number, minor: number][] = [
    ['c', 'rw', 1, 3], ['c', 'rw', 1, 5], ['c', 'rw', 1, 7], ['c', 'rw', 1, 8], ['c', 'rw', 1, 9],
    ['c', 'rw', 5, 0], ['c', 'rw', 5, 2], ['c', 'rw', 10, 200], ['c', 'rw', 136, 0], ['c', 'rwm', 136, 7],
    ['b', 'm', 254, 0], ['c', 'm', 4, 1], ['b', 'm', 8, 0], // mknod of anything
  ];
  const denied: typeof allowed = [
    ['b', 'r', 254, 0], ['b', 'w', 8, 0], ['b', 'rm', 7, 0], // the host's disks and loop devices
    ['c', 'r', 1, 1], ['c', 'w', 1, 2], // /dev/mem, /dev/kmem
    ['c', 'w', 5, 1], // the host's console
    ['c', 'rw', 4, 1], ['c', 'r', 10, 229], ['c', 'r', 1, 11], // tty1, fuse, kmsg
  ];
  for (const a of allowed) assert.is(runDeviceFilter(prog, ...a), 1, `allowed ${a.join(' ')}`);
  for (const d of denied) assert.is(runDeviceFilter(prog, ...d), 0, `denied ${d.join(' ')}`);
  // an empty list and no list get the same program
  assert.equal(compileDeviceFilter(withDefaultDeviceRules([])), prog);
  // the container's own rules come after deny-all
  const extra = compileDeviceFilter(withDefaultDeviceRules([{ allow: true, type: 'b', major: 254, minor: 0, access: 'r' }]));
  assert.is(runDeviceFilter(extra, 'b', 'r', 254, 0), 1);
  assert.is(runDeviceFilter(extra, 'b', 'w', 254, 0), 0);
});

test('update flags: runc names, sizes with units, merge keeps what is not named', () => {
  assert.is(parseBytes('64m', 'memory'), 67108864);
  assert.is(parseBytes('1.5g', 'memory'), 1610612736);
  assert.is(parseBytes('1024', 'memory'), 1024);
  assert.is(parseBytes('-1', 'memory-swap'), -1);
  assert.throws(() => parseBytes('lots', 'memory'), /invalid value for --memory: "lots"/);
  assert.equal(resourcesFromFlags({ memory: '32m', 'cpu-share': '512', 'pids-limit': '10', 'cpuset-cpus': '0', 'cpu-quota': '-1' }), {
    memory: { limit: 33554432 }, cpu: { shares: 512, quota: -1, cpus: '0' }, pids: { limit: 10 },
  });
  assert.equal(resourcesFromFlags({ 'cpu-shares': '256' }), { cpu: { shares: 256 } });
  assert.equal(joinNegativeValues(['--memory-swap', '-1', '--cpu-quota', '-1', '--memory', '1m', 'id'], ['memory-swap', 'cpu-quota', 'memory']),
    ['--memory-swap=-1', '--cpu-quota=-1', '--memory', '1m', 'id']);
  assert.throws(() => resourcesFromFlags({ 'pids-limit': 'ten' }), /--pids-limit: "ten"/);
  assert.equal(
    mergeResources({ memory: { limit: 1, swap: 2 }, pids: { limit: 5 }, devices: [{ allow: false }] }, { memory: { limit: 3 } }),
    { memory: { limit: 3, swap: 2 }, pids: { limit: 5 }, devices: [{ allow: false }] },
  );
});

test('events on v2: inotify on memory.events wakes up, oom_kill increments are counted', () => {
  const fx = fakeCgroup2();
  try {
    const ev = join(fx.leaf, 'memory.events');
    writeFileSync(ev, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
    const w = watchOomV2(fx.leaf);
    assert.ok(w);
    try {
      assert.is(libc.pollOne(w!.fd, libc.POLLIN, 0), 0, 'quiet before any change');
      writeFileSync(ev, 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n');
      assert.ok(libc.pollOne(w!.fd, libc.POLLIN, 1000) & libc.POLLIN);
      assert.is(w!.consume(), 2);
      writeFileSync(ev, 'low 0\nhigh 1\nmax 4\noom 2\noom_kill 2\n');
      assert.ok(libc.pollOne(w!.fd, libc.POLLIN, 1000) & libc.POLLIN);
      assert.is(w!.consume(), 0, 'a change that is not an OOM kill');
    } finally {
      w!.close();
    }
    assert.is(watchOomV2(join(fx.root, 'toyrun')), undefined, 'no memory controller: no watch');
  } finally {
    fx.cleanup();
  }
});

test('events --interval: Go durations', () => {
  assert.is(parseDuration('5s'), 5000);
  assert.is(parseDuration('100ms'), 100);
  assert.is(parseDuration('1m30s'), 90000);
  assert.throws(() => parseDuration('5'), /invalid --interval/);
  assert.throws(() => parseDuration('0s'), /invalid --interval/);
});

test.run();
