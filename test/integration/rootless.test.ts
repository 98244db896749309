// Rootless: toyrun run by an ordinary user, created by this suite (useradd of a
// throwaway user with its own /etc/subuid and /etc/subgid ranges, removed at the
// end by the name made here). The runtime is a private copy of the built tree
// (bin/, dist/, node_modules/) owned by that user: it can be reached whatever the
// checkout's permissions, and an attack on the engine has something to win (the
// user's own files), so the seal is what must stop it. runc, run the same way, is
// the reference.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_ROOTFS, CGROUP2_MOUNT, CGROUP_V2, requireTool, sh, waitFor, type Result } from '../helpers';
import { addTestUser, asUser as runAsUser, privateTree, removeTestUser, removeTree, runtimeDir, subRangeFor, type TestUser } from '../rootless-user';
import type { Spec } from '../../src/spec/types';
import { ATTACK_ENV, ATTACK_EXE, OVERLAYFS_SUPER_MAGIC, REOPEN, sealIsOverlay } from '../engine-attack';

requireTool('/usr/bin/newuidmap', 'uidmap');
requireTool('/usr/bin/setpriv', 'util-linux');
requireTool('/usr/sbin/runc', 'runc');

const tag = `${process.pid % 100000}`;
const SUB = subRangeFor();
const me = addTestUser(`toyrl${tag}`, SUB); // the user with subordinate ranges
const bare = addTestUser(`toyrn${tag}`); // a user without any
const XDG = runtimeDir(me);

function root(cmd: string, args: string[]): Result {
  const r = sh(cmd, args);
  assert.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r;
}

// everything the user reads or runs, in one private directory it can search
const base = mkdtempSync('/tmp/toyrun-rootless-');
const { cli: CLI } = privateTree(base, me);
const ENGINE = CLI;
const ROOTFS = join(base, 'rootfs');
root('/bin/cp', ['-a', BUSYBOX_ROOTFS, ROOTFS]);
root('/bin/chown', ['-R', `${me.uid}:${me.gid}`, ROOTFS]);

test.after(() => {
  // containers first (as the user), then what root made, then the users by name
  for (const id of ids) asUser([CLI, 'delete', '--force', id]);
  removeTree(base);
  removeTree(XDG);
  removeTestUser(me);
  removeTestUser(bare);
});

const ids = new Set<string>();
let n = 0;
function newId(prefix: string): string {
  const id = `${prefix}-${tag}-${++n}`;
  ids.add(id);
  return id;
}

/** Run argv as the test user (no groups, no capabilities), with a user's environment. */
function asUser(argv: string[], opts: { user?: TestUser; env?: Record<string, string>; cwd?: string } = {}): Result {
  const env = opts.env ?? { XDG_RUNTIME_DIR: XDG, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: base };
  return runAsUser(opts.user ?? me, argv, env, opts.cwd ?? base);
}

/** A bundle owned by the user from `toyrun spec --rootless`, edited by fn. */
function bundle(fn: (s: Spec) => void = () => undefined, owner = me): string {
  const dir = mkdtempSync(join(base, 'bundle-'));
  chmodSync(dir, 0o755);
  chownSync(dir, owner.uid, owner.gid);
  const r = asUser([CLI, 'spec', '--rootless', '--bundle', dir], { user: owner });
  assert.is(r.status, 0, r.stderr);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
  spec.root = { path: ROOTFS, readonly: true };
  spec.process!.terminal = false;
  fn(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}

/** A directory the container's processes write into (any of its ids may). */
function volume(): string {
  const dir = mkdtempSync(join(base, 'vol-'));
  chmodSync(dir, 0o777);
  return dir;
}

function bind(s: Spec, source: string, destination = '/mnt'): void {
  s.mounts!.push({ destination, type: 'bind', source, options: ['rbind', 'rw'] });
}

function stateDir(runtime: string, id: string): string {
  return join(XDG, runtime === 'runc' ? 'runc' : 'toyrun', id);
}

/** A path in a directory of the user's own (for --log and redirections run as the user). */
let userDir: string | undefined;
function userFile(name: string): string {
  if (!userDir) {
    userDir = mkdtempSync(join(base, 'user-'));
    chownSync(userDir, me.uid, me.gid);
  }
  return join(userDir, name);
}

const RUNTIMES: [string, string][] = [['toyrun', CLI], ['runc', '/usr/sbin/runc']];

// ---- the spec and the default root ------------------------------------------------

test('rootless: `spec --rootless` as an ordinary user is byte for byte runc\'s', () => {
  const a = mkdtempSync(join(base, 'spec-'));
  const b = mkdtempSync(join(base, 'spec-'));
  for (const d of [a, b]) chownSync(d, me.uid, me.gid);
  assert.is(asUser([CLI, 'spec', '--rootless', '--bundle', a]).status, 0);
  assert.is(asUser(['/usr/sbin/runc', 'spec', '--rootless', '--bundle', b]).status, 0);
  const mine = readFileSync(join(a, 'config.json'), 'utf8');
  assert.is(mine, readFileSync(join(b, 'config.json'), 'utf8'));
  const s = JSON.parse(mine) as Spec;
  assert.equal(s.linux!.uidMappings, [{ containerID: 0, hostID: me.uid, size: 1 }]);
  assert.ok(!s.linux!.namespaces!.some((x) => x.type === 'network'), 'no network namespace');
  assert.ok(s.mounts!.some((m) => m.destination === '/sys' && m.type === 'none' && m.options!.includes('rbind') && m.options!.includes('ro')));
  assert.ok(!s.mounts!.find((m) => m.destination === '/dev/pts')!.options!.includes('gid=5'));
  assert.is(s.linux!.resources, undefined);
});

for (const [name, cli] of RUNTIMES) {
  test(`rootless (${name}): root inside is the user outside; a bind-mounted directory gets the user's files; the default root is $XDG_RUNTIME_DIR`, () => {
    const vol = mkdtempSync(join(base, 'vol-'));
    chownSync(vol, me.uid, me.gid);
    const id = newId('basic');
    const b = bundle((s) => {
      s.process!.args = ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; echo hi > /mnt/f; ls /sys/fs/cgroup'];
      bind(s, vol);
    });
    const r = asUser([cli, 'run', '--bundle', b, id]); // no --root: the default
    assert.is(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.is(lines[0], '0');
    assert.is(lines[1], '0');
    assert.equal(lines[2]!.trim().split(/\s+/), ['0', String(me.uid), '1']);
    const st = statSync(join(vol, 'f'));
    assert.equal([st.uid, st.gid], [me.uid, me.gid]);
    assert.ok(existsSync(join(XDG, name === 'runc' ? 'runc' : 'toyrun')), 'the default root was used');
    assert.not.ok(existsSync(stateDir(name, id)), 'run deleted the container');
  });

  test(`rootless (${name}): several ranges through newuidmap/newgidmap: a process as uid 1000 writes files the host sees as subordinate id ${SUB}+999`, () => {
    const vol = volume();
    const id = newId('multi');
    const b = bundle((s) => {
      const map = [{ containerID: 0, hostID: me.uid, size: 1 }, { containerID: 1, hostID: SUB, size: 65536 }];
      s.linux!.uidMappings = map;
      s.linux!.gidMappings = [{ containerID: 0, hostID: me.gid, size: 1 }, { containerID: 1, hostID: SUB, size: 65536 }];
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.args = ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /mnt/g'];
      bind(s, vol);
    });
    const r = asUser([cli, 'run', '--bundle', b, id]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^1000\n/);
    assert.match(r.stdout, new RegExp(`\\s1\\s+${SUB}\\s+65536`));
    const st = statSync(join(vol, 'g'));
    assert.equal([st.uid, st.gid], [SUB + 999, SUB + 999]);
  });
}

test('rootless: no XDG_RUNTIME_DIR and no --root is one clear error, and nothing is made', () => {
  const b = bundle();
  const r = asUser([CLI, 'run', '--bundle', b, newId('noxdg')], { env: { PATH: '/usr/bin:/bin' } });
  assert.is(r.status, 1);
  assert.match(r.stderr, /XDG_RUNTIME_DIR is not set/);
  assert.match(r.stderr, /--root/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

// ---- bad setups -------------------------------------------------------------------

test('rootless: a user without /etc/subuid ranges asking for several gets one error naming the file and the JSON path; nothing is left', () => {
  const b = bundle((s) => {
    s.linux!.uidMappings = [{ containerID: 0, hostID: bare.uid, size: 1 }, { containerID: 1, hostID: SUB, size: 1000 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: bare.gid, size: 1 }];
  }, bare);
  const stateRoot = mkdtempSync(join(base, 'root-'));
  chownSync(stateRoot, bare.uid, bare.gid);
  const id = newId('nosub');
  const r = asUser([CLI, '--root', stateRoot, 'create', '--bundle', b, id], { user: bare });
  assert.is(r.status, 1, r.stdout);
  assert.match(r.stderr, /\/linux\/uidMappings maps more than your own uid/);
  assert.match(r.stderr, /\/etc\/subuid has no range for user toyrn/);
  assert.not.ok(existsSync(join(stateRoot, id)), 'no state dir');
  // runc refuses it too (newuidmap's own words)
  const rr = asUser(['/usr/sbin/runc', '--root', stateRoot, 'create', '--bundle', b, newId('nosub-runc')], { user: bare });
  assert.is.not(rr.status, 0);
});

test('rootless: a range outside the user\'s own is named by its JSON path', () => {
  const b = bundle((s) => {
    s.linux!.uidMappings = [{ containerID: 0, hostID: me.uid, size: 1 }, { containerID: 1, hostID: SUB + 70000, size: 10 }];
  });
  const id = newId('outside');
  const r = asUser([CLI, 'create', '--bundle', b, id]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /\/linux\/uidMappings\/1: host uids \d+-\d+ are neither your own uid .* nor inside your \/etc\/subuid ranges/);
  assert.not.ok(existsSync(stateDir('toyrun', id)));
});

test('rootless: with user namespaces disabled (user.max_user_namespaces=0 in a user namespace of the test user) one clear error, nothing left', () => {
  const b = bundle((s) => {
    // the namespace below maps the user to root: the config's maps are relative to it
    s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
  });
  const stateRoot = mkdtempSync(join(base, 'root-'));
  chownSync(stateRoot, me.uid, me.gid);
  const id = newId('nouserns');
  const script = `echo 0 > /proc/sys/user/max_user_namespaces && exec ${CLI} --root ${stateRoot} create --bundle ${b} ${id}`;
  const r = asUser(['/usr/bin/unshare', '--user', '--map-root-user', '/bin/sh', '-c', script]);
  assert.is(r.status, 1, r.stdout);
  assert.match(r.stderr, /user namespaces are disabled here \(sysctl user.max_user_namespaces is 0\)/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(readdirSync(stateRoot).filter((f) => !f.startsWith('.')), []);
});

// ---- the lifecycle ------------------------------------------------------------------

test('rootless: create, start, state, exec, ps, kill --all, delete; pause names what is missing; resources asked for are warned about, one by one', () => {
  const id = newId('life');
  const b = bundle((s) => {
    s.process!.args = ['sleep', '3600'];
    s.linux!.resources = { memory: { limit: 64 << 20 }, pids: { limit: 100 } };
  });
  const log = userFile('life.log');
  const c = asUser([CLI, '--log', log, 'create', '--bundle', b, id]);
  assert.is(c.status, 0, c.stderr);
  // warnings go to --log only (containerd parses stderr)
  const warned = readFileSync(log, 'utf8');
  assert.match(warned, /level=warning msg="rootless: linux.resources.memory not applied/);
  assert.match(warned, /level=warning msg="rootless: linux.resources.pids not applied/);
  assert.is(asUser([CLI, 'start', id]).status, 0);
  const st = JSON.parse(asUser([CLI, 'state', id]).stdout) as { status: string; pid: number };
  assert.is(st.status, 'running');
  assert.is(statSync(`/proc/${st.pid}`).uid, me.uid, 'the init is the user\'s process');
  const e = asUser([CLI, 'exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
  assert.is(e.status, 0, e.stderr);
  assert.match(e.stdout, /^0\n/);
  const ps = asUser([CLI, 'ps', '--format', 'json', id]);
  assert.is(ps.status, 0, ps.stderr);
  assert.ok((JSON.parse(ps.stdout) as number[]).includes(st.pid), ps.stdout);
  const p = asUser([CLI, 'pause', id]);
  assert.is(p.status, 1);
  assert.match(p.stderr, /no freezer the caller may write/);
  assert.is(asUser([CLI, 'kill', '--all', id, 'KILL']).status, 0);
  waitFor(() => JSON.parse(asUser([CLI, 'state', id]).stdout).status === 'stopped', 'the container to stop');
  assert.is(asUser([CLI, 'delete', id]).status, 0);
  assert.not.ok(existsSync(stateDir('toyrun', id)));
});

test('rootless: --rootless false as an ordinary user is honoured (the cgroup is root\'s: refused); --rootless=bogus is a usage error', () => {
  const id = newId('forced');
  const r = asUser([CLI, '--rootless', 'false', 'create', '--bundle', bundle(), id]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /EACCES|permission denied/i);
  assert.not.ok(existsSync(stateDir('toyrun', id)));
  const f = asUser([CLI, '--rootless=true', 'features']);
  assert.match(f.stdout, /"org.toyrun.rootless.active": "true"/);
  const bad = asUser([CLI, '--rootless=bogus', 'features']);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /invalid --rootless value "bogus"/);
});

test('rootless: a delegated cgroup2 subtree (chown\'d to the user, the caller inside it) holds the container: membership, pause through cgroup.freeze, its controllers\' limits applied', () => {
  const deleg = join(CGROUP2_MOUNT, `toyrun-rootless-${tag}`);
  mkdirSync(deleg);
  const caller = join(deleg, 'caller');
  const id = newId('deleg');
  try {
    mkdirSync(caller);
    for (const p of [deleg, caller]) {
      for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(p, f), me.uid, me.gid);
    }
    const available = readFileSync(join(deleg, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    const hugetlb = available.includes('hugetlb');
    // memory on cgroup2 (a unified host): the delegated subtree offers it to its
    // children, as a delegating manager does before handing the subtree over
    const memory = CGROUP_V2 && available.includes('memory');
    const offered = [...(memory ? ['+memory'] : []), ...(hugetlb ? ['+hugetlb'] : [])];
    if (offered.length > 0) writeFileSync(join(deleg, 'cgroup.subtree_control'), offered.join(' '));
    const b = bundle((s) => {
      s.process!.args = ['sleep', '3600'];
      s.linux!.cgroupsPath = `/${deleg.slice(CGROUP2_MOUNT.length + 1)}/${id}`;
      s.linux!.resources = { memory: { limit: 64 << 20 }, ...(hugetlb ? { hugepageLimits: [{ pageSize: '2MB', limit: 4 << 21 }] } : {}) };
    });
    // as systemd's Delegate=yes: the user's process lives in the subtree (root moves it, then drops to the user)
    const inCaller = (argv: string[]): Result => sh('/bin/sh', ['-c', `echo $$ > ${caller}/cgroup.procs && exec "$@"`, 'sh', '/usr/bin/setpriv',
      `--reuid=${me.uid}`, `--regid=${me.gid}`, '--clear-groups', '--', ...argv], { env: { XDG_RUNTIME_DIR: XDG, PATH: '/usr/bin:/bin' }, cwd: base });
    const log = userFile('deleg.log');
    const r = inCaller([CLI, '--log', log, 'run', '--detach', '--bundle', b, id]);
    assert.is(r.status, 0, r.stderr);
    // v1 memory is root's (a hybrid host); the cgroup2 side has what the host put there
    if (memory) assert.is(readFileSync(join(deleg, id, 'memory.max'), 'utf8').trim(), String(64 << 20));
    else assert.match(readFileSync(log, 'utf8'), /rootless: linux.resources.memory not applied/);
    assert.not.match(readFileSync(log, 'utf8'), /hugepageLimits not applied/);
    const pid = JSON.parse(asUser([CLI, 'state', id]).stdout).pid as number;
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^0::/toyrun-rootless-${tag}/${id}$`, 'm'));
    if (hugetlb) assert.is(readFileSync(join(deleg, id, 'hugetlb.2MB.max'), 'utf8').trim(), String(4 << 21));
    assert.is(inCaller([CLI, 'pause', id]).status, 0);
    assert.is(JSON.parse(asUser([CLI, 'state', id]).stdout).status, 'paused');
    assert.is(inCaller([CLI, 'resume', id]).status, 0);
    assert.is(JSON.parse(asUser([CLI, 'state', id]).stdout).status, 'running');
    const ps = asUser([CLI, 'ps', '--format', 'json', id]);
    assert.equal(JSON.parse(ps.stdout), [pid]);
    assert.is(inCaller([CLI, 'delete', '--force', id]).status, 0);
    assert.not.ok(existsSync(join(deleg, id)), 'the container cgroup is removed');
  } finally {
    asUser([CLI, 'delete', '--force', id]); // a failed test's container first: its cgroup is below
    for (const p of [caller, deleg]) {
      try {
        rmdirSync(p);
      } catch {
        // a container still inside: cleanup deletes it
      }
    }
  }
});

// ---- the engine, attacked as the user's container ------------------------------------

// The private tree belongs to the user: the container's root *is* that user on the
// host, so only the seal (a read-only overlay made in a user namespace of the
// user's own, src/linux/rootless-seal.ts) keeps it from rewriting the engine.

test('rootless: a #!/proc/self/exe entrypoint cannot write the engine of a user-owned install (create + start, run --detach)', () => {
  const hash = (): string => root('/usr/bin/sha256sum', [ENGINE]).stdout;
  const before = hash();
  const img = join(base, `attack-rootfs-${tag}`);
  root('/bin/cp', ['-a', ROOTFS, img]);
  symlinkSync('usr/lib', join(img, 'lib'));
  symlinkSync('usr/lib64', join(img, 'lib64'));
  for (const d of ['usr/lib', 'usr/lib64']) mkdirSync(join(img, d), { recursive: true });
  writeFileSync(join(img, 'attack'), ATTACK_EXE, { mode: 0o755 });
  writeFileSync(join(img, 'reopen'), REOPEN, { mode: 0o755 });
  mkdirSync(join(img, 'tmp'), { recursive: true });
  root('/bin/chown', ['-R', '-h', `${me.uid}:${me.gid}`, img]);
  for (const flow of ['create + start', 'run --detach']) {
    const id = newId('selfexe');
    const out = userFile(`out-${id}`);
    const b = bundle((s) => {
      s.root = { path: img, readonly: true };
      for (const d of ['/usr/lib', '/usr/lib64']) s.mounts!.push({ destination: d, type: 'bind', source: d, options: ['rbind', 'ro'] });
      s.process!.args = ['/attack'];
      s.process!.env = [...(s.process!.env ?? []), ATTACK_ENV];
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
    });
    const r = flow === 'create + start'
      ? asUser(['/bin/sh', '-c', `${CLI} create --bundle ${b} ${id} >${out} 2>&1 && ${CLI} start ${id}`])
      : asUser(['/bin/sh', '-c', `${CLI} run --detach --bundle ${b} ${id} >${out} 2>&1`]);
    assert.is(r.status, 0, r.stderr + readFileSync(out, 'utf8'));
    waitFor(() => JSON.parse(asUser([CLI, 'state', id]).stdout).status === 'stopped', `${id} to stop`, 60000);
    const text = readFileSync(out, 'utf8');
    // overlayfs: the sealed view (a read-only bind clone where overlayfs refuses a detached layer)
    if (sealIsOverlay()) assert.match(text, `exe on fs ${OVERLAYFS_SUPER_MAGIC}`, text);
    else assert.match(text, /exe on fs 0x[0-9a-f]+/, text);
    assert.match(text, /self-exe append: (EROFS|ETXTBSY)/, text);
    assert.match(text, /self-exe rdwr: (EROFS|ETXTBSY)/, text);
    assert.match(text, /waited \d+/, text);
    // EROFS from the sealed view; ETXTBSY where the kernel checks the running file
    // first (the bind seal of 6.1, while this test's own `state` polls run the same
    // engine file): a refusal either way, and the hash below must not change
    assert.match(text, /append: .*(Read-only file system|Text file busy)/, text);
    assert.match(text, /rdwr: .*(Read-only file system|Text file busy)/, text);
    assert.not.match(text, /WROTE|OPENED/, text);
    assert.is(asUser([CLI, 'delete', id]).status, 0);
  }
  assert.is(hash(), before, 'the engine changed');
});

test.run();
