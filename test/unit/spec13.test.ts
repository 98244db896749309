// runtime-spec 1.3 logic that needs no kernel feature this host lacks: Intel RDT
// against a temporary directory standing in for /sys/fs/resctrl (this VM has no
// resctrl), the v2 driver's 1.3 writes on a directory laid out like cgroup2 (this
// host is v1/hybrid), and the parsers and encoders behind the process fields.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  findResctrl, intelRdtProblems, joinIntelRdt, parseSchemata, rdtTasksFiles, removeIntelRdt, schemataLines, schemataMismatch, setupIntelRdt,
} from '../../src/linux/intelrdt';
import { CgroupV2 } from '../../src/linux/cgroups/v2';
import { atLeast, pidsMax, resourcesForVersion } from '../../src/linux/resources13';
import { cpuMask, ioprioValue, parseCpuList, schedAttr, schedulerProblems } from '../../src/linux/sched';
import { memoryPolicyProblems, nodemask } from '../../src/linux/mempolicy';
import { permanentGlobalAddresses } from '../../src/linux/netdev';
import { featuresDocument } from '../../src/features';
import { validateSpec, ValidationError } from '../../src/spec/validate';
import { defaultSpec } from '../../src/spec/default';
import type { Spec } from '../../src/spec/types';

function problems(fn: (s: Spec) => void): string[] {
  const spec = defaultSpec();
  fn(spec);
  try {
    validateSpec(spec, 'config.json');
    return [];
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
}

/** A resctrl root as the kernel lays it out: schemata and tasks at the root, mon_groups. */
function fakeResctrl(): { root: string; cleanup(): void } {
  const root = mkdtempSync('/tmp/toyrun-fake-resctrl-');
  writeFileSync(join(root, 'schemata'), 'L3:0=7ff;1=7ff\nMB:0=100;1=100\n');
  writeFileSync(join(root, 'tasks'), '');
  mkdirSync(join(root, 'mon_groups'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
/** rmdir on resctrl removes a group with its files; a plain directory needs a recursive remove. */
const fakeRmdir = (d: string): void => rmSync(d, { recursive: true });

test('intelRdt: no closID: a group named after the container, schemata in the spec\'s order, removed on delete', () => {
  const fx = fakeResctrl();
  try {
    const rec = setupIntelRdt(fx.root, 'ctr1', { l3CacheSchema: 'L3:0=7f0;1=1f', memBwSchema: 'MB:0=20;1=70', schemata: ['L2:0=f;1=f'] });
    assert.equal(rec, { dir: join(fx.root, 'ctr1'), removeOnDelete: true });
    assert.is(readFileSync(join(fx.root, 'ctr1', 'schemata'), 'utf8'), 'L3:0=7f0;1=1f\nMB:0=20;1=70\nL2:0=f;1=f\n');
    joinIntelRdt(rec, 4242);
    assert.is(readFileSync(join(fx.root, 'ctr1', 'tasks'), 'utf8'), '4242');
    removeIntelRdt(rec, fakeRmdir);
    assert.not.ok(existsSync(join(fx.root, 'ctr1')));
    // a group of that name already there is not ours to take
    mkdirSync(join(fx.root, 'ctr2'));
    assert.throws(() => setupIntelRdt(fx.root, 'ctr2', {}), /EEXIST/);
  } finally {
    fx.cleanup();
  }
});

test('intelRdt: closID given: made if missing (kept on delete), compared by value if present, error on mismatch', () => {
  const fx = fakeResctrl();
  try {
    const made = setupIntelRdt(fx.root, 'c1', { closID: 'gold', schemata: ['L3:0=f;1=f'] });
    assert.equal(made, { dir: join(fx.root, 'gold'), removeOnDelete: false });
    removeIntelRdt(made, fakeRmdir);
    assert.ok(existsSync(join(fx.root, 'gold')), 'named by the caller: not removed');
    // the kernel shows masks zero-padded: equal by value
    writeFileSync(join(fx.root, 'gold', 'schemata'), '    L3:0=00f;1=00f\n    MB:0=100;1=100\n');
    const same = setupIntelRdt(fx.root, 'c2', { closID: 'gold', l3CacheSchema: 'L3:0=f;1=f' });
    assert.is(same.dir, join(fx.root, 'gold'));
    assert.throws(() => setupIntelRdt(fx.root, 'c3', { closID: 'gold', l3CacheSchema: 'L3:0=3;1=f', memBwSchema: 'MB:0=100' }),
      /CLOS gold exists with a different schemata \(L3:0\)/);
    // closID without schemata: must be pre-configured
    assert.throws(() => setupIntelRdt(fx.root, 'c4', { closID: 'silver' }), /no pre-configured CLOS silver/);
    assert.equal(intelRdtProblems({ closID: 'silver' }, fx.root), ['/linux/intelRdt/closID: no pre-configured CLOS silver in ' + fx.root]);
    // "/" is the default CLOS: the root group, never removed
    const def = setupIntelRdt(fx.root, 'c5', { closID: '/' });
    assert.equal(rdtTasksFiles(def), [join(fx.root, 'tasks')]);
  } finally {
    fx.cleanup();
  }
});

test('intelRdt: enableMonitoring makes mon_groups/<id> (tasks joined after the CTRL_MON group), removed on delete', () => {
  const fx = fakeResctrl();
  try {
    const rec = setupIntelRdt(fx.root, 'm1', { closID: '/', enableMonitoring: true });
    assert.is(rec.monDir, join(fx.root, 'mon_groups', 'm1'));
    assert.equal(rdtTasksFiles(rec), [join(fx.root, 'tasks'), join(fx.root, 'mon_groups', 'm1', 'tasks')]);
    joinIntelRdt(rec, 77);
    assert.is(readFileSync(join(fx.root, 'mon_groups', 'm1', 'tasks'), 'utf8'), '77');
    removeIntelRdt(rec, fakeRmdir);
    assert.not.ok(existsSync(join(fx.root, 'mon_groups', 'm1')));
    assert.ok(existsSync(join(fx.root, 'tasks')), 'the default group stays');
  } finally {
    fx.cleanup();
  }
});

test('intelRdt: without a resctrl mount, a clear "not supported on this host"; mountinfo parsing', () => {
  assert.match(intelRdtProblems({ closID: 'x' }, undefined)[0] as string, /^\/linux\/intelRdt: not supported on this host: no resctrl filesystem is mounted/);
  assert.equal(intelRdtProblems(undefined, undefined), []);
  const mi = '36 25 0:31 / /sys/fs/resctrl rw,relatime shared:14 - resctrl resctrl rw\n37 25 0:32 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  assert.is(findResctrl(mi), '/sys/fs/resctrl');
  assert.is(findResctrl('37 25 0:32 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n'), undefined);
  assert.equal(schemataLines({ l3CacheSchema: 'L3:0=1', memBwSchema: '', schemata: ['MB:0=5'] }), ['L3:0=1', 'MB:0=5']);
  assert.equal([...(parseSchemata(['MB:0=20;1=70']).get('MB') ?? [])], [['0', 20], ['1', 70]]);
  assert.equal(schemataMismatch(['L3:0=ff'], ['L3:0=0ff;1=0ff']), []);
});

/** cgroup2 laid out as the kernel would, with hugetlb reservation files. */
function fakeCgroup2(): { root: string; leaf: string; cleanup(): void } {
  const root = mkdtempSync('/tmp/toyrun-fake-cgroup2-');
  const leaf = join(root, 'toyrun', 'c1');
  mkdirSync(leaf, { recursive: true });
  for (const d of [root, join(root, 'toyrun'), leaf]) {
    writeFileSync(join(d, 'cgroup.controllers'), 'cpu memory hugetlb pids\n');
    writeFileSync(join(d, 'cgroup.subtree_control'), '');
  }
  for (const f of ['hugetlb.2MB.max', 'hugetlb.2MB.rsvd.max', 'hugetlb.1GB.max', 'pids.max']) writeFileSync(join(leaf, f), 'max\n');
  return { root, leaf, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('v2 driver, 1.3: pids 0 is "0" and -1 "max"; hugepage limits set the reservation limit where it exists', () => {
  const fx = fakeCgroup2();
  try {
    const d = new CgroupV2(fx.root);
    const rec = d.create('/toyrun/c1');
    d.apply(rec, { pids: { limit: 0 }, hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }, { pageSize: '1GB', limit: 0 }] });
    assert.is(readFileSync(join(fx.leaf, 'pids.max'), 'utf8'), '0');
    assert.is(readFileSync(join(fx.leaf, 'hugetlb.2MB.rsvd.max'), 'utf8'), '4194304');
    assert.is(readFileSync(join(fx.leaf, 'hugetlb.2MB.max'), 'utf8'), '4194304');
    assert.is(readFileSync(join(fx.leaf, 'hugetlb.1GB.max'), 'utf8'), '0');
    assert.not.ok(existsSync(join(fx.leaf, 'hugetlb.1GB.rsvd.max')), 'no reservation file: only the fault limit');
    d.apply(rec, { pids: { limit: -1 } });
    assert.is(readFileSync(join(fx.leaf, 'pids.max'), 'utf8'), 'max');
  } finally {
    fx.cleanup();
  }
});

test('pids.limit by spec version: 0 is a zero limit from 1.3 on, "unset" (max) before', () => {
  assert.is(pidsMax(0), '0');
  assert.is(pidsMax(-5), 'max');
  assert.equal(resourcesForVersion({ pids: { limit: 0 } }, '1.2.0'), { pids: { limit: -1 } });
  assert.equal(resourcesForVersion({ pids: { limit: 0 } }, '1.3.0'), { pids: { limit: 0 } });
  assert.equal(resourcesForVersion({ pids: { limit: 0 } }, '1.10.0-rc.1'), { pids: { limit: 0 } });
  assert.ok(atLeast('1.3.0+dev', 3));
  assert.not.ok(atLeast('1.0.2-dev', 3));
});

test('encoders: sched_attr layout, ioprio value, CPU lists and masks, nodemask, address filter', () => {
  const a = schedAttr({ policy: 'SCHED_DEADLINE', flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM'], runtime: 10, deadline: 20, period: 30, nice: -3 });
  assert.is(a.readUInt32LE(0), 48);
  assert.is(a.readUInt32LE(4), 6);
  assert.is(a.readBigUInt64LE(8), 3n);
  assert.is(a.readInt32LE(16), -3);
  assert.equal([a.readBigUInt64LE(24), a.readBigUInt64LE(32), a.readBigUInt64LE(40)], [10n, 20n, 30n]);
  assert.is(ioprioValue({ class: 'IOPRIO_CLASS_BE', priority: 6 }), (2 << 13) | 6);
  assert.equal(parseCpuList('0-3,7'), [0, 1, 2, 3, 7]);
  assert.is(parseCpuList('3-1'), undefined);
  assert.is(parseCpuList('a'), undefined);
  assert.equal([...cpuMask([0, 9, 70])], [0x01, 0x02, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(nodemask([0]).maxnode, 65);
  assert.equal(memoryPolicyProblems({ mode: 'MPOL_LOCAL', nodes: '0' }), ['/linux/memoryPolicy/nodes must be empty for MPOL_LOCAL']);
  assert.equal(schedulerProblems({ policy: 'SCHED_ISO' }, '/p'), ['/p/policy: SCHED_ISO is not implemented by the Linux kernel']);
  const ipJson = JSON.stringify([{ addr_info: [
    { family: 'inet', local: '10.0.0.2', prefixlen: 24, scope: 'global' },
    { family: 'inet', local: '10.0.0.3', prefixlen: 24, scope: 'global', dynamic: true },
    { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
  ] }]);
  assert.equal(permanentGlobalAddresses(ipJson).map((x) => x.local), ['10.0.0.2']);
});

test('features: the 1.3 blocks, truthful to this build', () => {
  const f = featuresDocument() as { linux: Record<string, unknown>; potentiallyUnsafeConfigAnnotations?: string[] };
  assert.equal(f.linux.intelRdt, { enabled: true, schemata: true, monitoring: true });
  assert.equal(f.linux.netDevices, { enabled: true });
  const mp = f.linux.memoryPolicy as { modes: string[]; flags: string[] };
  assert.ok(mp.modes.includes('MPOL_BIND') && mp.modes.includes('MPOL_WEIGHTED_INTERLEAVE'));
  assert.equal(mp.flags.sort(), ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES']);
  assert.equal(f.potentiallyUnsafeConfigAnnotations, ['org.toyrun.idmap-rootfs']);
});

test('hostile names: a closID or device name cannot leave resctrl / become an ip option; bad 1.3 values name their path', () => {
  for (const closID of ['..', '.', '../../etc', 'a/b', 'x\n']) {
    assert.ok(problems((s) => (s.linux!.intelRdt = { closID })).some((p) => p.startsWith('/linux/intelRdt/closID')), JSON.stringify(closID));
  }
  assert.equal(problems((s) => (s.linux!.intelRdt = { closID: '/' })), []);
  assert.ok(problems((s) => (s.linux!.intelRdt = { memBwSchema: 'L3:0=1' })).some((p) => p.startsWith('/linux/intelRdt/memBwSchema')));
  assert.ok(problems((s) => (s.linux!.intelRdt = { schemata: ['L3:0=1\nMB:0=1'] })).some((p) => p.startsWith('/linux/intelRdt/schemata/0')));
  for (const name of ['-j', 'a/b', 'eth 0', 'x'.repeat(16)]) {
    assert.ok(problems((s) => (s.linux!.netDevices = { eth0: { name } })).some((p) => p.startsWith('/linux/netDevices/eth0/name')), name);
    assert.ok(problems((s) => (s.linux!.netDevices = { [name]: {} })).length > 0, name);
  }
  assert.ok(problems((s) => (s.process!.scheduler = { policy: 'SCHED_FIFO', priority: 100 })).some((p) => p.startsWith('/process/scheduler/priority')));
  assert.ok(problems((s) => (s.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 })).some((p) => p.startsWith('/process/ioPriority/priority')));
  assert.ok(problems((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_NOPE' })).some((p) => p.startsWith('/linux/memoryPolicy/mode')));
  assert.ok(problems((s) => (s.linux!.timeOffsets = { realtime: { secs: 1 } })).some((p) => p.startsWith('/linux/timeOffsets')));
  assert.ok(problems((s) => (s.linux!.personality = { domain: 'PER_BSD' })).some((p) => p.startsWith('/linux/personality/domain')));
});

test.run();
