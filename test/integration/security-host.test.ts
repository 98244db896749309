// Attacks on the host's devices and procfs (issue #12 items 3-5): a container
// with CAP_MKNOD reading the host's disk, a /dev/null swapped for a host file
// while masks are applied (CVE-2025-31133 shape), and a /proc swapped under the
// init's writes after pivot_root (CVE-2025-52881 / CVE-2019-19921 class).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_ROOTFS, Toyrun, leftovers, sh, uniqueId } from '../helpers';
import { CgroupV2 } from '../../src/linux/cgroups-v2';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('security-host');
const hostFiles: string[] = [];
test.after(() => {
  t.cleanup();
  for (const f of hostFiles) rmSync(f, { recursive: true, force: true });
});

/** major:minor of the block device the host's / lives on. */
function hostRootDevice(): [number, number] {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const [major, minor] = (line?.split(' ')[2] ?? '').split(':').map(Number) as [number, number];
  assert.ok(existsSync(`/sys/dev/block/${major}:${minor}`), `host root device ${major}:${minor} is a block device`);
  return [major, minor];
}

/** Block devices to attack: the host's root disk, and (this VM's sandbox refuses even
 * host root a read of its root disk) the first block device the host itself can read,
 * so that the test fails wherever the device cgroup is what lets a read through. */
function blockTargets(): { dev: [number, number]; hostReadable: boolean }[] {
  const hostReads = (majMin: string): boolean => {
    const name = /^DEVNAME=(.*)$/m.exec(readFileSync(`/sys/dev/block/${majMin}/uevent`, 'utf8'))?.[1];
    if (!name) return false;
    try {
      closeSync(openSync(`/dev/${name}`, 'r'));
      return true;
    } catch {
      return false;
    }
  };
  const root = hostRootDevice();
  const out = [{ dev: root, hostReadable: hostReads(root.join(':')) }];
  if (!out[0]!.hostReadable) {
    const other = readdirSync('/sys/dev/block').find((d) => d !== root.join(':') && hostReads(d));
    if (other) out.push({ dev: other.split(':').map(Number) as [number, number], hostReadable: true });
  }
  assert.ok(out.some((o) => o.hostReadable), 'no block device on this host that host root can read');
  return out;
}

const MKNOD_CAPS = ['CAP_MKNOD', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID'];
function withMknod(s: Spec): void {
  const c = s.process!.capabilities!;
  for (const set of ['bounding', 'effective', 'permitted'] as const) c[set] = [...(c[set] ?? []), ...MKNOD_CAPS];
}

// ---- item 3: the device cgroup without linux.resources.devices -----------------

const RUNC_DEFAULT_DEVICES_LIST = [
  'b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
  'c 5:0 rwm', 'c 5:2 rwm', 'c 10:200 rwm', 'c 136:* rwm',
];

for (const [name, resources] of [
  ['no linux.resources', undefined],
  ['memory only', { memory: { limit: 256 * 1024 * 1024 } }],
] as const) {
  test(`devices (${name}): a container with CAP_MKNOD cannot read the host's disks or /dev/kmsg`, () => {
    const targets = blockTargets();
    // /dev is a tmpfs without nodev: only the device cgroup stands in the way
    const script = [
      ...targets.map(({ dev: [ma, mi] }, i) => [
        `mknod /dev/disk${i} b ${ma} ${mi} && echo mknod${i}-ok`,
        `dd if=/dev/disk${i} of=/dev/null bs=512 count=1 2>&1 && echo READ${i}-OK`,
      ].join('; ')),
      'mknod /dev/kmsg c 1 11 && dd if=/dev/kmsg of=/dev/null count=0 2>&1 && echo KMSG-OK',
      'echo x > /dev/null && echo null-ok',
    ].join('; ');
    const id = uniqueId('mknod');
    const bundle = t.bundle((s) => {
      s.process!.args = ['sh', '-c', script];
      withMknod(s);
      if (resources) s.linux!.resources = JSON.parse(JSON.stringify(resources));
      else delete s.linux!.resources;
    });
    const r = t.run(['run', '--bundle', bundle, id]);
    targets.forEach((target, i) => {
      assert.match(r.stdout, `mknod${i}-ok`, r.stdout + r.stderr); // mknod stays allowed (b *:* m), as in runc
      assert.not.match(r.stdout, `READ${i}-OK`, `block device ${target.dev.join(':')} was readable: ${r.stdout}`);
      assert.match(r.stdout, new RegExp(`disk${i}.: Operation not permitted`), r.stdout);
    });
    assert.not.match(r.stdout, 'KMSG-OK', 'the host\'s /dev/kmsg was readable');
    assert.match(r.stdout, /kmsg.: Operation not permitted/);
    assert.match(r.stdout, 'null-ok');
    assert.equal(leftovers(t, id), []);
  });
}

test('devices: the v1 devices.list of a container without linux.resources is runc\'s default list', () => {
  const id = uniqueId('devlist');
  const bundle = t.bundle((s) => {
    s.process!.args = ['sleep', '1000'];
    delete s.linux!.resources;
  });
  t.ok(['run', '--detach', '--bundle', bundle, id]);
  try {
    const dir = join('/sys/fs/cgroup/devices/toyrun', id);
    const list = readFileSync(join(dir, 'devices.list'), 'utf8').trim().split('\n');
    assert.equal(list.sort(), [...RUNC_DEFAULT_DEVICES_LIST].sort());
  } finally {
    t.ok(['delete', '--force', id]);
  }
});

test('devices: runc 1.1.5 gives the same devices.list (reference)', () => {
  if (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc')) throw new Error('runc is missing: install the Debian package runc');
  const bundle = t.bundle((s) => {
    s.root = { path: BUSYBOX_ROOTFS, readonly: true };
    s.process!.args = ['sleep', '1000'];
    delete s.linux!.resources;
    s.linux!.cgroupsPath = `/toyrun-runc-ref/${process.pid}`;
  });
  const id = uniqueId('runc-ref');
  const r = sh('runc', ['run', '--detach', '--bundle', bundle, id], { cwd: '/' });
  try {
    assert.is(r.status, 0, r.stderr);
    const list = readFileSync(`/sys/fs/cgroup/devices/toyrun-runc-ref/${process.pid}/devices.list`, 'utf8').trim().split('\n');
    assert.equal(list.sort(), [...RUNC_DEFAULT_DEVICES_LIST].sort());
  } finally {
    sh('runc', ['delete', '--force', id]);
    spawnSync('rmdir', ['-p', `/sys/fs/cgroup/devices/toyrun-runc-ref/${process.pid}`]);
    for (const c of ['cpu,cpuacct', 'memory', 'pids', 'freezer', 'blkio', 'cpuset', 'net_cls,net_prio', 'perf_event', 'hugetlb', 'misc', 'rdma', 'systemd', 'unified']) {
      spawnSync('rmdir', [`/sys/fs/cgroup/${c}/toyrun-runc-ref/${process.pid}`, `/sys/fs/cgroup/${c}/toyrun-runc-ref`]);
    }
  }
});

test('devices (cgroup v2 BPF, real cgroup2): the default policy alone denies the host disk, allows the defaults', () => {
  const [major, minor] = blockTargets().find((x) => x.hostReadable)!.dev;
  const d = new CgroupV2('/sys/fs/cgroup/unified');
  const rec = d.create(`/toyrun-hostres-${process.pid}/c1`);
  const dir = rec.paths.unified as string;
  try {
    d.applyDevices(rec, undefined);
    const probe = [
      `echo $$ > ${dir}/cgroup.procs`,
      `mknod /dev/toyrun-hostdisk-${process.pid} b ${major} ${minor} 2>/dev/null && echo mknod-ok`,
      `dd if=/dev/toyrun-hostdisk-${process.pid} of=/dev/null count=1 2>/dev/null && echo READ-OK || echo read-denied`,
      `rm -f /dev/toyrun-hostdisk-${process.pid}`,
      'echo x > /dev/null && echo null-ok',
      'dd if=/dev/urandom of=/dev/null count=1 2>/dev/null && echo urandom-ok',
    ].join('; ');
    const r = spawnSync('/bin/sh', ['-c', probe], { encoding: 'utf8' });
    assert.equal(r.stdout.trim().split('\n'), ['mknod-ok', 'read-denied', 'null-ok', 'urandom-ok'], r.stderr);
  } finally {
    d.destroy(rec);
    spawnSync('rmdir', [join('/sys/fs/cgroup/unified', `toyrun-hostres-${process.pid}`)]);
  }
});

test.run();
