// Attacks on the host's devices and procfs (issue #12 items 3-5): a container
// with CAP_MKNOD reading the host's disk, a /dev/null swapped for a host file
// while masks are applied (CVE-2025-31133 shape), and a /proc swapped under the
// init's writes after pivot_root (CVE-2025-52881 / CVE-2019-19921 class).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addCaps, BUSYBOX_ROOTFS, CGROUP2_MOUNT, CGROUP_V2, REPO, Toyrun, leftovers, sh, uniqueId } from '../helpers';
import { CgroupV2 } from '../../src/linux/cgroups/v2';
import { removeCgroupDir } from '../../src/linux/cgroups/files';
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
  addCaps(s, ...MKNOD_CAPS);
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
  if (CGROUP_V2) {
    console.log('  (skipped: no v1 devices controller on a cgroup2-only host; the BPF program is tested below)');
    return;
  }
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
  if (CGROUP_V2) {
    console.log('  (skipped: no v1 devices.list on a cgroup2-only host)');
    return;
  }
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
    for (const c of readdirSync('/sys/fs/cgroup')) {
      const parent = join('/sys/fs/cgroup', c, 'toyrun-runc-ref');
      removeCgroupDir(join(parent, String(process.pid))); // waits out tasks still exiting
      spawnSync('rmdir', [parent]); // unless another run of this test is using it
    }
  }
});

test('devices (cgroup v2 BPF, real cgroup2): the default policy alone denies the host disk, allows the defaults', () => {
  const [major, minor] = blockTargets().find((x) => x.hostReadable)!.dev;
  const d = new CgroupV2(CGROUP2_MOUNT);
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
    spawnSync('rmdir', [join(CGROUP2_MOUNT, `toyrun-hostres-${process.pid}`)]);
  }
});

// ---- item 4: masks from a /dev/null someone swapped (CVE-2025-31133 shape) -----------

/** A writable copy of the busybox rootfs (the attacker writes it from the host). */
function rootfsCopy(): string {
  const dir = join(t.tempDir('toyrun-hostres-rootfs-'), 'rootfs');
  const r = sh('cp', ['-a', BUSYBOX_ROOTFS, dir]);
  assert.is(r.status, 0, r.stderr);
  return dir;
}

/** A host directory with a secret file, given to the container as a volume. */
function hostVolume(): { dir: string; secret: string } {
  const dir = t.tempDir('toyrun-hostres-vol-');
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'HOST-SECRET\n');
  return { dir, secret };
}

/** The spec of an image whose /dev is its own directory (no tmpfs), shared with
 * whoever writes rootfs: the files the masks cover are checked from inside. */
function maskSpec(s: Spec, rootfs: string, vol: string, script: string): void {
  s.root = { path: rootfs, readonly: true };
  s.process!.args = ['sh', '-c', script];
  s.mounts = (s.mounts ?? []).filter((m) => m.destination !== '/dev');
  s.mounts.push({ destination: '/hostvol', type: 'bind', source: vol, options: ['rbind', 'rw'] });
  s.linux!.maskedPaths = [...(s.linux!.maskedPaths ?? []), '/masked-file'];
}

// inside: what each mask shows, whether a write reaches anything, and its mount flags
// (never through /dev/null: the racing host process swaps the image's /dev/null while this runs)
const MASK_PROBE = [
  'for f in /masked-file /proc/timer_list; do',
  '  echo "$f:[$(cat $f 2>&1)]"; (echo PWNED >> $f) 2>/tmp/err; echo "$f-after:[$(cat $f 2>&1)]"',
  '  grep " $f " /proc/self/mountinfo | cut -d" " -f6 | sed "s|^|$f-opts:|"',
  'done',
].join('\n');

function checkMasks(out: string, what: string): void {
  assert.not.match(out, 'HOST-SECRET', `${what}: the host file showed through a mask`);
  for (const f of ['/masked-file', '/proc/timer_list']) {
    assert.ok(out.includes(`${f}:[]`), `${what}: ${f} is empty: ${out}`);
    assert.ok(out.includes(`${f}-after:[]`), `${what}: ${f} stays empty after a write: ${out}`);
    assert.match(out, new RegExp(`${f}-opts:ro,`), `${what}: ${f}'s mask is read-only: ${out}`);
  }
}

test('masks: every masked file is empty and its mount read-only (a plain container)', () => {
  const rootfs = rootfsCopy();
  writeFileSync(join(rootfs, 'masked-file'), 'image-content\n');
  const vol = hostVolume();
  const id = uniqueId('masks');
  const r = t.run(['run', '--bundle', t.bundle((s) => maskSpec(s, rootfs, vol.dir, MASK_PROBE)), id]);
  assert.is(r.status, 0, r.stderr);
  checkMasks(r.stdout, 'plain');
  assert.is(readFileSync(vol.secret, 'utf8'), 'HOST-SECRET\n');
});

test('CVE-2025-31133: a /dev/null swapped for a symlink to a host file (createRuntime hook) never backs a mask', () => {
  const rootfs = rootfsCopy();
  writeFileSync(join(rootfs, 'masked-file'), 'image-content\n');
  const vol = hostVolume();
  const id = uniqueId('devnull');
  const bundle = t.bundle((s) => {
    maskSpec(s, rootfs, vol.dir, MASK_PROBE);
    // after toyrun made /dev/null, before the masks: the symlink points at the volume's file
    s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `rm -f ${rootfs}/dev/null && ln -s /hostvol/secret ${rootfs}/dev/null`] }] };
  });
  const r = t.run(['run', '--bundle', bundle, id]);
  assert.is(readFileSync(vol.secret, 'utf8'), 'HOST-SECRET\n', 'the host file was written through a mask');
  if (r.status === 0) checkMasks(r.stdout, 'swapped');
  assert.not.match(r.stdout, 'HOST-SECRET', 'the host file showed through a mask');
  assert.is.not(r.status, 0, 'create goes on with a /dev/null that is a symlink');
  assert.match(r.stderr, /\/dev\/null in the container is not the 1:3 character device/);
  assert.equal(leftovers(t, id), []);
});

test('CVE-2025-31133: racing /dev/null between a file and a symlink to a host file, 200 creates', () => {
  const rootfs = rootfsCopy();
  writeFileSync(join(rootfs, 'masked-file'), 'image-content\n');
  const vol = hostVolume();
  // from the host: /dev/null becomes a regular file, then a symlink to the volume's secret, over and over
  const racer = spawn('/bin/sh', ['-c', `cd ${rootfs}/dev && while :; do rm -f null; echo HOST-SECRET > null; rm -f null; ln -s /hostvol/secret null; done`], { stdio: 'ignore' });
  let ran = 0;
  try {
    for (let i = 0; i < 200; i++) {
      const id = uniqueId('devnull-race');
      const r = t.run(['run', '--bundle', t.bundle((s) => maskSpec(s, rootfs, vol.dir, MASK_PROBE)), id]);
      if (r.status === 0) {
        ran++;
        checkMasks(r.stdout, `try ${i}`);
      } else {
        assert.not.match(r.stdout, 'HOST-SECRET', `try ${i}`);
        assert.equal(leftovers(t, id), [], `try ${i}`);
      }
      assert.is(readFileSync(vol.secret, 'utf8'), 'HOST-SECRET\n', `try ${i}: the host file was written`);
    }
  } finally {
    racer.kill('SIGKILL');
  }
  console.log(`  (${ran} of 200 creates won the race against the swapper and ran)`);
});

// ---- item 5: writes into a /proc someone swapped after it was mounted -----------------

/** A fake procfs tree in the rootfs: where a redirected write would land. */
function fakeProc(rootfs: string): string {
  const fake = join(rootfs, 'fakeproc');
  for (const d of ['sys/net/ipv4', 'sys/kernel', 'self', '1']) mkdirSync(join(fake, d), { recursive: true });
  for (const f of ['sys/net/ipv4/ip_forward', 'sys/kernel/domainname', 'self/oom_score_adj', '1/oom_score_adj']) writeFileSync(join(fake, f), 'sentinel\n');
  return fake;
}

function checkFakeProc(fake: string, what: string): void {
  for (const f of ['sys/net/ipv4/ip_forward', 'sys/kernel/domainname', 'self/oom_score_adj', '1/oom_score_adj']) {
    assert.is(readFileSync(join(fake, f), 'utf8'), 'sentinel\n', `${what}: a procfs write landed in ${f}`);
  }
}

// inside: every procfs the container can reach must have a read-only sys/; and the values toyrun
// set. Each directory is entered first (cd): a host process renaming it meanwhile changes nothing.
const PROC_PROBE = [
  'for d in /proc /proc.real /fakeproc; do',
  '  if (cd $d 2>/tmp/err && [ -e sys/kernel/domainname ] && echo probe > sys/kernel/domainname) 2>/tmp/err; then echo "WRITABLE:$d"; fi',
  'done',
  'for d in /proc /proc.real; do',
  '  if cd $d 2>/tmp/err && [ -e sys/kernel/ostype ]; then echo "forward=$(cat sys/net/ipv4/ip_forward) oom=$(cat 1/oom_score_adj)"; break; fi',
  'done',
].join('\n');

function procSpec(s: Spec, rootfs: string): void {
  s.root = { path: rootfs, readonly: true };
  s.process!.args = ['sh', '-c', PROC_PROBE];
  s.process!.oomScoreAdj = 500;
  s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
}

test('CVE-2025-52881: sysctl and oom_score_adj land in the container\'s procfs (a plain container)', () => {
  const rootfs = rootfsCopy();
  const fake = fakeProc(rootfs);
  const r = t.run(['run', '--bundle', t.bundle((s) => procSpec(s, rootfs)), uniqueId('proc')]);
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout, 'WRITABLE');
  assert.match(r.stdout, 'forward=1 oom=500');
  checkFakeProc(fake, 'plain');
});

test('CVE-2025-52881: a createRuntime hook swapping /proc for a symlink gets no write and leaves no writable procfs', () => {
  const rootfs = rootfsCopy();
  const fake = fakeProc(rootfs);
  const id = uniqueId('proc-hook');
  const bundle = t.bundle((s) => {
    procSpec(s, rootfs);
    // the procfs toyrun mounted moves to /proc.real; /proc becomes a symlink to a plain directory
    s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `mv ${rootfs}/proc ${rootfs}/proc.real && ln -s /fakeproc ${rootfs}/proc`] }] };
  });
  const r = t.run(['run', '--bundle', bundle, id]);
  checkFakeProc(fake, 'hook');
  assert.not.match(r.stdout, 'WRITABLE', r.stdout);
  assert.is.not(r.status, 0, 'create goes on with /proc swapped for a symlink');
  assert.match(r.stderr, /\/proc is no longer the procfs mounted at create/);
  assert.equal(leftovers(t, id), []);
});

test('CVE-2025-52881: racing /proc between the procfs and a symlink to a fake tree, 200 creates', () => {
  const rootfs = rootfsCopy();
  const fake = fakeProc(rootfs);
  const racer = spawn('/bin/sh', ['-c', `cd ${rootfs} && while :; do mv proc proc.real 2>/dev/null; ln -s fakeproc proc 2>/dev/null; rm -f proc; mv proc.real proc 2>/dev/null; done`], { stdio: 'ignore' });
  let ran = 0;
  try {
    for (let i = 0; i < 200; i++) {
      const id = uniqueId('proc-race');
      const r = t.run(['run', '--bundle', t.bundle((s) => procSpec(s, rootfs)), id]);
      assert.not.match(r.stdout, 'WRITABLE', `try ${i}: ${r.stdout}`);
      if (r.status === 0) {
        ran++;
        // the probe may miss the procfs while the host renames it; what it reads must be ours
        const seen = /forward=(\S*) oom=(\S*)/.exec(r.stdout);
        if (seen) assert.equal([seen[1], seen[2]], ['1', '500'], `try ${i}: ${r.stdout}`);
      } else {
        assert.equal(leftovers(t, id), [], `try ${i}`);
      }
      checkFakeProc(fake, `try ${i}`);
    }
  } finally {
    racer.kill('SIGKILL');
  }
  console.log(`  (${ran} of 200 creates won the race against the swapper and ran)`);
});

// The caller's working directory is not toyrun's configuration: podman, conmon and
// containerd start it in directories others may write (a bundle, a cwd of the
// user's). Bun run as a script runner reads ./bunfig.toml (whose `preload` runs
// code) and ./.env (into the environment) from there; bin/toyrun is compiled
// without either (Makefile, COMPILE).
test('a bunfig.toml or .env in the caller\'s cwd changes nothing: no preload runs, no variable is set', () => {
  const dir = t.tempDir('toyrun-cwd-');
  const marker = join(dir, 'preloaded');
  writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["./evil.js"]\n');
  writeFileSync(join(dir, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran as ' + process.getuid());\n`);
  // a layer bound of 1 byte: any unpack would fail if toyrun read it
  writeFileSync(join(dir, '.env'), 'TOYRUN_MAX_LAYER_SIZE=1\n');
  const id = uniqueId('cwd');
  const r = t.run(['run', '--bundle', join(REPO, 'bundles', 'layered'), id], { cwd: dir });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'written by toyrun');
  assert.not.ok(existsSync(marker), 'bunfig.toml\'s preload ran in the CLI');
  t.run(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

test.run();
