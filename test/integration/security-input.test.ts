// Hostile input and containment, the medium and low items of issue #12: the
// caller's session keyring, ids that wrap to root, gzip bombs, a forged
// state.json, huge configs, and a failing init writing to a closed pipe. Each
// test plays the attacker and must not win; each leaves nothing behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Header } from 'tar';
import { REPO, TOYRUN, Toyrun, leftovers, sh, uniqueId, waitFor } from '../helpers';
import * as libc from '../../src/linux/libc';
import { processStartTime, type ContainerRecord } from '../../src/container/store';
import { removeCgroupDir } from '../../src/linux/cgroups/files';
import { hostHierarchies } from '../../src/linux/cgroups/layout';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('security-input');
const hostProcs: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
test.after(() => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      // best effort
    }
  }
  for (const p of hostProcs) p.kill('SIGKILL');
  t.cleanup();
});

function withoutKeysMask(s: Spec): void {
  // runc's default spec masks /proc/keys; the test reads it to see what the container possesses
  s.linux!.maskedPaths = (s.linux!.maskedPaths ?? []).filter((p) => p !== '/proc/keys');
}

// ---- 6. the caller's session keyring --------------------------------------------

test('keyring: the container and its exec do not possess the caller\'s session keyring; --no-new-keyring shares it (as runc)', () => {
  // A session keyring of our own (on this, the main thread, which spawns toyrun),
  // holding a key only its possessors can see: /proc/keys lists it only to them.
  libc.keyctlJoinSessionKeyring(`toyrun-test-${process.pid}`);
  const desc = `host-secret-${process.pid}`;
  const key = libc.addKey('user', desc, Buffer.from('s3cret'), libc.KEY_SPEC_SESSION_KEYRING);
  cleanups.push(() => libc.keyctlInvalidate(key));
  libc.keyctlSetperm(key, 0x3f000000); // possessor: all; user, group, other: nothing
  assert.match(readFileSync('/proc/keys', 'utf8'), new RegExp(desc)); // we possess it

  const id = uniqueId('keys');
  const r = t.sh('cat /proc/keys', withoutKeysMask, []);
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout, new RegExp(desc), 'the container sees the caller\'s key');
  assert.match(r.stdout, /keyring\s+_ses\.sh-/); // its own, named as runc names it

  const shared = t.sh('cat /proc/keys', withoutKeysMask, ['--no-new-keyring']);
  assert.is(shared.status, 0, shared.stderr);
  assert.match(shared.stdout, new RegExp(desc)); // what the flag asks for
  assert.not.match(shared.stdout, /_ses\.sh-/);

  // exec joins the container's keyring by name, never the caller's
  for (const flags of [[], ['--no-new-keyring']]) {
    const cid = `${id}${flags.length}`;
    const bundle = t.bundle((s) => {
      s.process!.args = ['sleep', '60'];
      withoutKeysMask(s);
    });
    t.ok(['create', ...flags, '--bundle', bundle, cid]);
    t.ok(['start', cid]);
    const e = t.run(['exec', cid, 'cat', '/proc/keys']);
    assert.is(e.status, 0, e.stderr);
    if (flags.length === 0) {
      assert.not.match(e.stdout, new RegExp(desc), 'exec sees the caller\'s key');
      assert.match(e.stdout, new RegExp(`keyring\\s+_ses\\.${cid}:`));
    } else {
      assert.match(e.stdout, new RegExp(desc));
    }
    t.ok(['delete', '--force', cid]);
    assert.equal(leftovers(t, cid), []);
  }
});

// ---- 7. ids that become root -----------------------------------------------------

test('ids: uid/gid 4294967295 ("no change") and 4294967296 (wraps to 0) are refused in config.json, exec flags and --process files', () => {
  const cases: [string, (s: Spec) => void][] = [
    ['/process/user/uid', (s) => void (s.process!.user = { uid: 4294967295, gid: 1000 })],
    ['/process/user/gid', (s) => void (s.process!.user = { uid: 1000, gid: 4294967295 })],
    ['/process/user/uid', (s) => void (s.process!.user = { uid: 4294967296, gid: 1000 })],
    ['/process/user/additionalGids/1', (s) => void (s.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 4294967296] })],
    ['/linux/devices/0/uid', (s) => void (s.linux!.devices = [{ type: 'c', path: '/dev/evil', major: 1, minor: 3, uid: 4294967295, gid: 0 }])],
  ];
  for (const [path, edit] of cases) {
    const id = uniqueId('ids');
    const bundle = t.bundle((s) => {
      s.process!.args = ['id'];
      edit(s);
    });
    const r = t.run(['run', '--bundle', bundle, id]);
    assert.is.not(r.status, 0, `${path}: ran as ${r.stdout}`);
    assert.match(r.stderr, new RegExp(`${path} must be <= 2147483647`), r.stderr);
    assert.equal(leftovers(t, id), [], path);
  }

  const id = uniqueId('ids-exec');
  t.ok(['create', '--bundle', t.bundle((s) => void (s.process!.args = ['sleep', '60'])), id]);
  t.ok(['start', id]);
  const procs = (): string => t.ok(['ps', '--format', 'json', id]).stdout;
  const before = procs();
  for (const args of [['--user', '4294967296'], ['--user', '1000:4294967295'], ['--user', '4294967295:0'], ['--additional-gids', '4294967296']]) {
    const r = t.run(['exec', ...args, id, 'id']);
    assert.is.not(r.status, 0, `${args.join(' ')}: ran as ${r.stdout}`);
    assert.match(r.stderr, new RegExp(`invalid ${args[0]} .*ids must be 0-2147483647`), r.stderr);
  }
  const dir = t.tempDir('toyrun-ids-');
  for (const [field, user] of [['uid', { uid: 4294967295, gid: 0 }], ['gid', { uid: 0, gid: 4294967296 }]] as const) {
    const file = join(dir, `${field}.json`);
    writeFileSync(file, JSON.stringify({ args: ['id'], cwd: '/', user }));
    const r = t.run(['exec', '--process', file, id]);
    assert.is.not(r.status, 0, `--process ${field}: ran as ${r.stdout}`);
    assert.match(r.stderr, new RegExp(`/user/${field} must be <= 2147483647`), r.stderr);
  }
  assert.is(procs(), before); // no exec process was left in the container
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

// ---- 8. gzip bombs -----------------------------------------------------------------

const GiB = 1024 ** 3;

/** A gzip tar of one file of `size` zero bytes: ~1 MB on disk, `size` unpacked. */
function zerosLayer(dir: string, size: number): string {
  const header = Buffer.alloc(512);
  new Header({ path: 'zeros', type: 'File', mode: 0o644, uid: 0, gid: 0, size, mtime: new Date(0) }).encode(header, 0);
  writeFileSync(join(dir, 'header'), header);
  const out = join(dir, 'zeros.tar.gz');
  const r = sh('/bin/sh', ['-c', `(cat header; head -c ${size} /dev/zero; head -c 1024 /dev/zero) | gzip -1 > zeros.tar.gz`], { cwd: dir, timeout: 300000 });
  assert.is(r.status, 0, r.stderr);
  return out;
}

function imageBundle(on: Toyrun, layer: string): string {
  return on.bundle((s) => {
    s.root = { path: 'rootfs', readonly: false };
    s['org.toyrun.image'] = { layers: [join(REPO, 'bundles', 'layered', 'layers', 'base.tar'), layer] };
    s.process!.args = ['true'];
  });
}

/** Run toyrun as our own child and reap it with wait4: its exit status and peak RSS. */
function runMeasured(args: string[], env: string[] = []): { status: number; stderr: string; maxRssKiB: number } {
  const dir = t.tempDir('toyrun-rss-');
  const err = openSync(join(dir, 'err'), 'w+');
  const nul = openSync('/dev/null', 'r+');
  try {
    const pid = libc.posixSpawn(TOYRUN, [TOYRUN, ...args], env, [[nul, 0], [nul, 1], [err, 2]], '/');
    // Not wait4's ru_maxrss: posix_spawn is a vfork, and the kernel folds the high-water
    // mark of the mm the child leaves at execve — this test runner's — into the child's
    // (fs/exec.c, exec_mmap: setmax_mm_hiwater_rss), so it grew with the suite run before
    // it. VmHWM is the peak of the mm toyrun itself runs in; sampled until it exits.
    let peak = 0;
    for (;;) {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        // gone between two samples
      }
      const [got, status] = libc.waitpid(pid, 1 /* WNOHANG */);
      if (got === pid) return { status: (status >> 8) & 0xff, stderr: readFileSync(join(dir, 'err'), 'utf8'), maxRssKiB: peak };
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  } finally {
    closeSync(err);
    closeSync(nul);
  }
}

test('gzip layer: 1 GiB of zeros (a ~5 MB archive) unpacks within 200 MiB of RSS', () => {
  // The store holds the whole gibibyte: on a disk, as the README advises for big
  // images (/run is a tmpfs of 10% of RAM on Debian 12: ENOSPC in a 6 GiB VM).
  const big = new Toyrun('security-input-bomb', '/var/tmp');
  cleanups.push(() => big.cleanup());
  const layer = zerosLayer(big.tempDir('toyrun-bomb-'), GiB);
  const id = uniqueId('bomb');
  big.track(id);
  const r = runMeasured(['--root', big.root, 'create', '--bundle', imageBundle(big, layer), id]);
  assert.is(r.status, 0, r.stderr);
  console.log(`  (peak RSS of create: ${r.maxRssKiB} KiB)`);
  assert.ok(r.maxRssKiB < 200 * 1024, `peak RSS of create: ${r.maxRssKiB} KiB`);
  const stored = readdirSync(join(big.root, '.layers', 'sha256')).map((h) => join(big.root, '.layers', 'sha256', h, 'zeros')).find(existsSync);
  assert.ok(stored, 'the layer is in the store');
  big.ok(['delete', '--force', id]);
  assert.equal(leftovers(big, id), []);
});

test('gzip layer: past TOYRUN_MAX_LAYER_SIZE it is refused, and the store keeps no part of it', () => {
  const t2 = new Toyrun('security-input-limit'); // a store that has not unpacked it
  cleanups.push(() => t2.cleanup());
  const layer = zerosLayer(t.tempDir('toyrun-bomb-'), 256 * 1024 ** 2);
  const id = uniqueId('bomb-limit');
  const r = t2.run(['create', '--bundle', imageBundle(t2, layer), id], { env: { TOYRUN_MAX_LAYER_SIZE: '64M' } });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /\/org\.toyrun\.image\/layers\/1: layer .*zeros\.tar\.gz: entry \\?"zeros\\?": the layer unpacks to more than 67108864 bytes/);
  assert.match(r.stderr, /TOYRUN_MAX_LAYER_SIZE/);
  // only the base layer was stored; nothing of the refused one, not even in tmp/
  const stored = readdirSync(join(t2.root, '.layers', 'sha256'));
  assert.is(stored.length, 1, stored.join(' '));
  assert.not.ok(existsSync(join(t2.root, '.layers', 'sha256', stored[0] as string, 'zeros')));
  assert.equal(readdirSync(join(t2.root, '.layers', 'tmp')), []);
  assert.equal(leftovers(t2, id), []);
  // a bad value is an error of its own, naming the variable
  const bad = t2.run(['create', '--bundle', imageBundle(t2, layer), id], { env: { TOYRUN_MAX_LAYER_SIZE: 'lots' } });
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /TOYRUN_MAX_LAYER_SIZE=\\?"lots\\?": expected a size/);
  assert.equal(leftovers(t2, id), []);
});

// ---- 9. a forged state.json ------------------------------------------------------------

function hostSleep(): { pid: number; alive: () => boolean } {
  const p = spawn('sleep', ['1000'], { stdio: 'ignore' });
  hostProcs.push(p);
  const pid = p.pid as number;
  const start = waitFor(() => processStartTime(pid), 'sleep to start');
  return { pid, alive: () => processStartTime(pid) === start };
}

function forge(id: string, edit: (rec: ContainerRecord) => void): ContainerRecord {
  const file = join(t.root, id, 'state.json');
  const rec = JSON.parse(readFileSync(file, 'utf8')) as ContainerRecord;
  const original = structuredClone(rec);
  edit(rec);
  writeFileSync(file, JSON.stringify(rec));
  return original;
}

/** A host cgroup of the victim's own, in every hierarchy, as a state.json would
 * record it. Should the defence fail, `kill --all` hits the victim alone. */
function victimCgroup(pid: number): ContainerRecord['cgroup'] {
  const name = `toyrun-test-victim-${process.pid}`;
  const paths: Record<string, string> = {};
  for (const h of hostHierarchies()) {
    const dir = join(h.mountpoint, name);
    mkdirSync(dir, { recursive: true });
    cleanups.push(() => removeCgroupDir(dir));
    // v1's cpuset takes no task until these are set; cgroup2's root has no such files (a child inherits)
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if (existsSync(join(dir, f)) && existsSync(join(h.mountpoint, f))) writeFileSync(join(dir, f), readFileSync(join(h.mountpoint, f)));
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    for (const c of h.controllers) paths[c] = dir;
  }
  return { version: 1, paths, path: `/${name}` };
}

test('forged state.json: kill never signals a host process named by a forged pid, start time or cgroup', () => {
  const victim = hostSleep();
  const id = uniqueId('forge-kill');
  t.ok(['run', '--detach', '--bundle', t.bundle((s) => void (s.process!.args = ['sleep', '60'])), id]);
  const real = forge(id, (rec) => {
    rec.pid = victim.pid;
    rec.pidStartTime = processStartTime(victim.pid) as string;
  });
  for (const sig of ['KILL', 'TERM']) {
    const r = t.run(['kill', id, sig]);
    assert.is.not(r.status, 0, 'kill accepted a forged pid');
    assert.match(r.stderr, new RegExp(`container not running: state.json: pid ${victim.pid} is not this container's init`));
  }
  // the same with the cgroup pointed at a host cgroup that holds the victim
  const cg = victimCgroup(victim.pid);
  forge(id, (rec) => void (rec.cgroup = cg));
  for (const args of [['kill', id, 'KILL'], ['kill', '--all', id, 'KILL'], ['ps', id]]) {
    const r = t.run(args);
    assert.is.not(r.status, 0, `${args.join(' ')} accepted a forged cgroup`);
  }
  assert.ok(victim.alive(), 'the host process was killed');
  libc.kill(victim.pid, 9); // leaves the victim's cgroup empty, for its removal
  waitFor(() => !victim.alive(), 'the victim to exit');
  // the real container is still there to be cleaned up by its true record
  writeFileSync(join(t.root, id, 'state.json'), JSON.stringify(real));
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

test('forged state.json: delete removes nothing outside the state dir and kills nothing of the host', () => {
  const victim = hostSleep();
  const outside = t.tempDir('toyrun-forged-target-');
  mkdirSync(join(outside, 'empty-subdir')); // what a cgroup rmdir walk would take
  writeFileSync(join(outside, 'precious'), 'keep me');
  const id = uniqueId('forge-delete');
  t.ok(['run', '--detach', '--bundle', t.bundle((s) => void (s.process!.args = ['true'])), id]);
  waitFor(() => (t.state(id).status === 'stopped' ? true : undefined), 'the container to stop');
  const real = forge(id, (rec) => {
    rec.pid = victim.pid;
    rec.pidStartTime = processStartTime(victim.pid) as string;
    rec.cgroup = { version: 1, paths: { memory: outside, pids: join(outside, 'empty-subdir') }, path: outside };
    rec.imageMount = { target: outside, upper: outside, work: join(outside, 'empty-subdir'), persistent: false };
  });
  cleanups.push(() => Object.values(real.cgroup.paths).forEach((d) => removeCgroupDir(d)));
  const log = join(outside, '..', `${id}.log`);
  cleanups.push(() => rmSync(log, { force: true }));
  const r = t.run(['--log', log, 'delete', '--force', id]);
  assert.ok(existsSync(join(outside, 'empty-subdir')), 'delete removed a directory outside the state dir');
  assert.is(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');
  assert.ok(victim.alive(), 'delete killed a host process');
  assert.is(r.status, 0, r.stderr);
  assert.match(readFileSync(log, 'utf8'), /level=warning msg=".*state\.json: .*left alone/); // warnings go to --log, as runc's
  assert.not.ok(existsSync(join(t.root, id)));

  // a persistent upper's work dir is removed only if the mounted overlay names it
  const id2 = uniqueId('forge-delete2');
  t.ok(['run', '--detach', '--bundle', t.bundle((s) => void (s.process!.args = ['true'])), id2]);
  waitFor(() => (t.state(id2).status === 'stopped' ? true : undefined), 'the container to stop');
  const real2 = forge(id2, (rec) => void (rec.imageMount = { target: join(t.root, id2, 'rootfs'), upper: `${outside}/x`, work: outside, persistent: true }));
  cleanups.push(() => Object.values(real2.cgroup.paths).forEach((d) => removeCgroupDir(d)));
  assert.is(t.run(['delete', '--force', id2]).status, 0);
  assert.is(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');
  for (const d of Object.values(real2.cgroup.paths)) removeCgroupDir(d);
  for (const d of Object.values(real.cgroup.paths)) removeCgroupDir(d);
  assert.equal(leftovers(t, id), []);
  assert.equal(leftovers(t, id2), []);
});

// ---- 10. huge configs -----------------------------------------------------------------------

test('a 50 MB config.json (annotations, multibyte text) is accepted and reaches the init intact', () => {
  // Linear: the sync pipe scans each read once. And whole: multibyte characters
  // split between two 64 KiB reads used to be decoded half by half (U+FFFD).
  const values = Array.from({ length: 5 }, (_, i) => 'x'.repeat(i) + 'é✓'.repeat(25000));
  const id = uniqueId('huge');
  const bundle = t.bundle((s) => {
    s.annotations = {};
    for (let i = 0; i < 500; i++) s.annotations[`org.example.big${i}`] = `${i % 2 ? 'x' : ''}${'ünïcødé '.repeat(10000)}`;
    s.process!.env = [...(s.process!.env ?? []), ...values.map((v, i) => `BIG${i}=${v}`)];
    s.process!.args = ['sh', '-c', 'env | grep ^BIG | sort | md5sum'];
  });
  const size = readFileSync(join(bundle, 'config.json')).length;
  assert.ok(size > 50e6, `config.json is ${size} bytes`);
  const r = t.run(['run', '--bundle', bundle, id], { timeout: 600000 });
  if (r.status !== 0) {
    assert.match(r.stderr, /config\.json.*(too large|larger than)/, r.stderr); // a refusal must say why
  } else {
    const want = spawnSync('md5sum', { input: values.map((v, i) => `BIG${i}=${v}\n`).join('') }).stdout.toString();
    assert.is(r.stdout, want, 'the environment arrived altered');
  }
  assert.equal(leftovers(t, id), []);
});

// ---- 11. a failing init writing to a pipe create has closed ----------------------------------------

test('a failing prestart hook gives exactly one clean error line, 50 times out of 50', () => {
  const bundle = t.bundle((s) => void (s.hooks = { prestart: [{ path: '/bin/false' }] }));
  for (let i = 0; i < 50; i++) {
    const id = uniqueId('hookfail');
    const r = t.run(['create', '--bundle', bundle, id]);
    assert.is.not(r.status, 0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.is(lines.length, 1, `try ${i}: ${r.stderr}`);
    assert.match(lines[0] as string, /level=error msg=".*prestart/, r.stderr);
    assert.not.match(r.stderr, /EPIPE|broken pipe|at .*\.js/, r.stderr);
    assert.equal(leftovers(t, id), [], `try ${i}`);
  }
});

test.run();
