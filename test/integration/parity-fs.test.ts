// runc parity (issue #14), filesystem, hooks and process setup. Every bundle
// starts from `runc spec` output (test/fixtures/runc-spec-config.json, made by
// Debian's runc 1.1.5), and where runc is the reference the same bundle is run
// with runc too and the outputs compared.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addCaps, deadline, BUSYBOX_ROOTFS, CGROUP2_MOUNT, CGROUP_V2, FIXTURES, Toyrun, leftovers, requireTool, sh, uniqueId, type Result } from '../helpers';
import type { Hook, Mount, Spec } from '../../src/spec/types';

const t = new Toyrun('parity-fs');
const RUNC = '/usr/sbin/runc';
const runcRoot = mkdtempSync('/run/toyrun-test/parity-fs-runc-');
const runcIds: string[] = [];
const hostCleanups: (() => void)[] = [];
test.after(() => {
  for (const id of runcIds) sh(RUNC, ['--root', runcRoot, 'delete', '--force', id]);
  rmSync(runcRoot, { recursive: true, force: true });
  for (const f of hostCleanups.reverse()) {
    try {
      f();
    } catch {
      // best effort
    }
  }
  t.cleanup();
});

type Edit = (s: Spec) => void;

let sharedRootfs: string | undefined;
/** `runc spec`'s config, made to run busybox without a terminal, edited by fn. The
 * rootfs is this file's own copy: the mount points these tests add are made in it,
 * never in bundles/busybox/rootfs, which other tests list. */
function runcSpec(fn: Edit): Spec {
  const spec = JSON.parse(readFileSync(join(FIXTURES, 'runc-spec-config.json'), 'utf8')) as Spec;
  spec.root = { path: (sharedRootfs ??= rootfsCopy()), readonly: true };
  const p = spec.process as NonNullable<Spec['process']>;
  p.terminal = false;
  fn(spec);
  return spec;
}

/** A bundle dir (searchable by anyone) holding runcSpec(fn). */
function bundle(fn: Edit): string {
  const dir = t.tempDir('toyrun-parity-bundle-');
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(runcSpec(fn), null, 2));
  return dir;
}

function args(s: Spec, script: string): void {
  (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', script];
}

function runc(cmd: string[], opts: Parameters<typeof sh>[2] = {}): Result {
  requireTool(RUNC, 'runc');
  const verb = cmd[0];
  if (verb === 'run' || verb === 'create') runcIds.push(cmd[cmd.length - 1] as string);
  return sh(RUNC, ['--root', runcRoot, ...cmd], { cwd: '/', ...opts });
}

/** `run` the bundle with toyrun and with runc. */
function runBoth(dir: string, extra: string[] = []): { toyrun: Result; runc: Result } {
  return {
    toyrun: t.run(['run', ...extra, '--bundle', dir, uniqueId('pfs')]),
    runc: runc(['run', ...extra, '--bundle', dir, uniqueId('pfs-runc')]),
  };
}

/** A private, writable copy of the busybox rootfs (for tests that change it). */
function rootfsCopy(): string {
  const dir = t.tempDir('toyrun-parity-rootfs-');
  chmodSync(dir, 0o755);
  const rootfs = join(dir, 'rootfs');
  const r = sh('/bin/cp', ['-a', BUSYBOX_ROOTFS, rootfs]);
  assert.is(r.status, 0, r.stderr);
  return rootfs;
}

// ---- 1. relative bind sources -------------------------------------------------------

test('a relative bind source is relative to the bundle, not the host\'s / (as runc)', () => {
  const dir = bundle((s) => {
    s.mounts = [
      ...(s.mounts ?? []),
      { destination: '/mnt/bundle', type: 'bind', source: '.', options: ['rbind', 'ro'] },
      { destination: '/mnt/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
    ];
    args(s, 'ls /mnt/bundle; cat /mnt/data/marker');
  });
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'marker'), 'bundle-data\n');
  const { toyrun: r, runc: ref } = runBoth(dir);
  assert.is(r.status, 0, r.stderr);
  // the bundle's entries, and none of the host root's (/work, /etc ...)
  assert.equal(r.stdout.split('\n').filter(Boolean), ['config.json', 'data', 'bundle-data']);
  assert.is(ref.status, 0, ref.stderr);
  assert.is(r.stdout, ref.stdout);
});

// ---- 5. user namespace + relative bind source --------------------------------------

test('user namespace + a relative bind source: create finishes and binds the bundle\'s directory', () => {
  const dir = bundle((s) => {
    const linux = s.linux ?? (s.linux = {});
    linux.namespaces = [...(linux.namespaces ?? []), { type: 'user' }];
    linux.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    linux.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    s.mounts = [...(s.mounts ?? []), { destination: '/home', type: 'bind', source: './data', options: ['rbind'] }];
    args(s, 'cat /home/marker');
  });
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'marker'), 'userns-data\n');
  // the deadline only stops a create that never ends (the bug walked dirname('.') forever);
  // generous: a user-namespaced create takes seconds under the cgroup2 VM's emulation
  const r = t.run(['run', '--bundle', dir, uniqueId('pfs-userns')], { timeout: deadline(120000) });
  assert.is(r.signal, null, 'create did not finish');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'userns-data\n');
});

// ---- 3. /proc or /sys a symlink (CVE-2023-28642) ---------------------------------

for (const dest of ['proc', 'sys']) {
  test(`CVE-2023-28642: a rootfs whose /${dest} is a symlink is refused, as runc does, and nothing is left`, () => {
    const rootfs = rootfsCopy();
    const target = join(rootfs, 'tmp', 'elsewhere');
    mkdirSync(target);
    rmdirSync(join(rootfs, dest));
    symlinkSync('/tmp/elsewhere', join(rootfs, dest));
    const dir = bundle((s) => {
      (s.root as NonNullable<Spec['root']>).path = rootfs;
      args(s, 'true');
    });
    const id = uniqueId('pfs-symlink');
    const r = t.run(['create', '--bundle', dir, id]);
    assert.is.not(r.status, 0, 'create accepted a symlinked /' + dest);
    assert.match(r.stderr, new RegExp(`"?${dest === 'proc' ? 'proc' : 'sysfs'}\\\\?" must be mounted on ordinary directory: /${dest} is a symlink`));
    assert.equal(leftovers(t, id), []);
    const ref = runc(['create', '--bundle', dir, uniqueId('pfs-runc-symlink')]);
    assert.is.not(ref.status, 0);
    assert.match(ref.stderr, /must be mounted on ordinary directory/);
  });
}

// ---- 4. hook working directories ------------------------------------------------------

test('hooks start where runc starts them: the bundle, the container\'s root (createContainer), process.cwd (startContainer)', () => {
  const rec = t.tempDir('toyrun-parity-hooks-');
  chmodSync(rec, 0o777);
  const rootfs = rootfsCopy();
  // `touch ./x`: a createContainer hook run with the host's / as cwd wrote there
  const script = '#!/bin/sh\necho "$1 $(pwd)" >> "$REC/cwd"\n[ "$1" = createContainer ] && touch ./hook-made-this\nexit 0\n';
  writeFileSync(join(rec, 'hook.sh'), script, { mode: 0o755 });
  writeFileSync(join(rootfs, 'hook.sh'), script, { mode: 0o755 });
  const hook = (name: string, inside = false): Hook[] => [
    { path: inside ? '/hook.sh' : join(rec, 'hook.sh'), args: ['hook.sh', name], env: ['PATH=/usr/bin:/bin', `REC=${inside ? '/rec' : rec}`] },
  ];
  const hostMarker = '/hook-made-this';
  hostCleanups.push(() => rmSync(hostMarker, { force: true }));
  const mk = (): string => bundle((s) => {
    (s.root as NonNullable<Spec['root']>) = { path: rootfs, readonly: false };
    (s.process as NonNullable<Spec['process']>).cwd = '/etc';
    args(s, 'true');
    s.mounts = [...(s.mounts ?? []), { destination: '/rec', type: 'bind', source: rec, options: ['rbind'] }];
    s.hooks = {
      prestart: hook('prestart'), createRuntime: hook('createRuntime'), createContainer: hook('createContainer'),
      startContainer: hook('startContainer', true), poststart: hook('poststart'), poststop: hook('poststop'),
    };
  });
  const lines = (b: string): string[] => readFileSync(join(rec, 'cwd'), 'utf8').trim().split('\n').map((l) => l.replace(b, '<bundle>').replace(rootfs, '<rootfs>'));

  const b1 = mk();
  const id = uniqueId('pfs-hooks');
  t.ok(['run', '--bundle', b1, id]); // run deletes the container at the end: poststop runs too
  const ours = lines(b1);
  assert.ok(existsSync(join(rootfs, 'hook-made-this')), 'createContainer hook\'s ./x is not in the rootfs');
  assert.not.ok(existsSync(hostMarker), 'createContainer hook wrote into the host\'s /');
  rmSync(join(rec, 'cwd'));
  rmSync(join(rootfs, 'hook-made-this'));
  assert.equal(ours, [
    'prestart <bundle>', 'createRuntime <bundle>', 'createContainer <rootfs>', 'startContainer /etc', 'poststart <bundle>', 'poststop <bundle>',
  ]);

  const b2 = mk();
  const ref = runc(['run', '--bundle', b2, uniqueId('pfs-runc-hooks')]);
  assert.is(ref.status, 0, ref.stderr);
  const theirs = lines(b2);
  // runc runs poststart after startContainer has returned too: compare as sets
  assert.equal([...theirs].sort(), [...ours].sort());
});

// ---- 6. a frozen cgroup ------------------------------------------------------------------

for (const version of [1, 2] as const) {
  test(`a cgroup frozen before create (v${version} freezer) is refused as runc refuses it, nothing of ours left`, () => {
    if (version === 1 && CGROUP_V2) {
      console.log('  (skipped: a cgroup2-only host has no v1 freezer; the v2 case below runs)');
      return;
    }
    const rel = `toyrun-test-frozen-${process.pid}-${version}`;
    const base = version === 1 ? '/sys/fs/cgroup/freezer' : CGROUP2_MOUNT;
    const dir = join(base, rel);
    mkdirSync(dir);
    hostCleanups.push(() => {
      writeFileSync(join(dir, version === 1 ? 'freezer.state' : 'cgroup.freeze'), version === 1 ? 'THAWED' : '0');
      rmdirSync(dir);
    });
    writeFileSync(join(dir, version === 1 ? 'freezer.state' : 'cgroup.freeze'), version === 1 ? 'FROZEN' : '1');
    const b = bundle((s) => {
      (s.linux as NonNullable<Spec['linux']>).cgroupsPath = `/${rel}`;
      args(s, 'sleep 100');
    });
    const id = uniqueId('pfs-frozen');
    // the deadline only stops the hang this test is about (a frozen init never reports)
    const r = t.run(['run', '-d', '--bundle', b, id], { timeout: deadline(120000) });
    assert.is(r.signal, null, 'run -d hung on a frozen cgroup');
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /container's cgroup unexpectedly frozen/);
    assert.equal(leftovers(t, id), []);
    assert.ok(existsSync(dir), 'the pre-made cgroup is not ours to remove');
    if (version === 1) {
      const ref = runc(['run', '-d', '--bundle', b, uniqueId('pfs-runc-frozen')], { timeout: deadline(120000) });
      assert.is.not(ref.status, 0);
      assert.match(ref.stderr, /container's cgroup unexpectedly frozen/);
    }
  });
}

// ---- 12. working directory entered before the user switch ---------------------------

test('a cwd only root can search (tmpfs mode=700) works for a non-root user, in run and exec, as with runc', () => {
  const b = bundle((s) => {
    s.mounts = [...(s.mounts ?? []), { destination: '/secret', type: 'tmpfs', source: 'tmpfs', options: ['mode=700'] }];
    const p = s.process as NonNullable<Spec['process']>;
    p.user = { uid: 1000, gid: 1000 };
    p.cwd = '/secret';
    args(s, 'pwd; id -u');
  });
  const { toyrun: r, runc: ref } = runBoth(b);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '/secret\n1000\n');
  assert.is(ref.status, 0, ref.stderr);
  assert.is(r.stdout, ref.stdout);

  const sleeper = bundle((s) => {
    s.mounts = [...(s.mounts ?? []), { destination: '/secret', type: 'tmpfs', source: 'tmpfs', options: ['mode=700'] }];
    args(s, 'sleep 100');
  });
  const id = uniqueId('pfs-cwd-exec');
  t.ok(['run', '-d', '--bundle', sleeper, id]);
  const e = t.run(['exec', '--user', '1000:1000', '--cwd', '/secret', id, 'pwd']);
  assert.is(e.status, 0, e.stderr);
  assert.is(e.stdout, '/secret\n');
  const rid = uniqueId('pfs-runc-cwd-exec');
  assert.is(runc(['run', '-d', '--bundle', sleeper, rid]).status, 0);
  assert.is(runc(['exec', '--user', '1000:1000', '--cwd', '/secret', rid, 'pwd']).stdout, e.stdout);
});

// ---- 13. read-only mounts that get children ------------------------------------------

test('a read-only /dev tmpfs is populated first and read-only after, as with runc', () => {
  const b = bundle((s) => {
    for (const m of s.mounts ?? []) if (m.destination === '/dev') m.options = [...(m.options ?? []), 'ro'];
    args(s, 'ls /dev | tr "\\n" " "; echo; awk \'$5=="/dev" || $5=="/dev/pts" {print $5, substr($6,1,2)}\' /proc/self/mountinfo; touch /dev/x 2>/dev/null || echo read-only');
  });
  const { toyrun: r, runc: ref } = runBoth(b);
  assert.is(r.status, 0, r.stderr);
  const [listing = '', ...rest] = r.stdout.split('\n');
  for (const dev of ['null', 'zero', 'ptmx', 'pts', 'shm', 'mqueue', 'stdin', 'fd']) assert.ok(listing.split(' ').includes(dev), `no /dev/${dev} in ${listing}`);
  assert.equal(rest.filter(Boolean), ['/dev ro', '/dev/pts rw', 'read-only']);
  assert.is(ref.status, 0, ref.stderr);
  assert.is(r.stdout, ref.stdout);
});

test('a read-only tmpfs with a submount below it: the mount point is made, then the tmpfs goes read-only', () => {
  const vol = t.tempDir('toyrun-parity-vol-');
  writeFileSync(join(vol, 'f'), 'vol\n');
  const b = bundle((s) => {
    const extra: Mount[] = [
      { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'nosuid', 'nodev'] },
      { destination: '/data/sub/vol', type: 'bind', source: vol, options: ['rbind', 'ro'] },
    ];
    s.mounts = [...(s.mounts ?? []), ...extra];
    args(s, 'cat /data/sub/vol/f; touch /data/x 2>/dev/null || echo read-only; awk \'$5=="/data" {print $6}\' /proc/self/mountinfo');
  });
  const r = t.run(['run', '--bundle', b, uniqueId('pfs-ro-sub')]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'vol\nread-only\nro,nosuid,nodev,relatime\n');
});

// ---- 17. rootfsPropagation ---------------------------------------------------------------

for (const [prop, tag] of [['shared', /shared:\d+/], ['rshared', /shared:\d+/], ['unbindable', /unbindable/], ['private', /^((?!shared|master|unbindable).)*$/]] as const) {
  test(`rootfsPropagation ${prop}: the container starts and its / is ${prop}`, () => {
    const b = bundle((s) => {
      (s.linux as NonNullable<Spec['linux']>).rootfsPropagation = prop;
      args(s, 'awk \'$5=="/" {print}\' /proc/self/mountinfo');
    });
    const r = t.run(['run', '--bundle', b, uniqueId('pfs-prop')]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout.split(' - ')[0] ?? '', tag);
  });
}

test('Bidirectional volume (rshared bind, rootfsPropagation rshared, as containerd sets): mounts flow both ways', () => {
  const vol = t.tempDir('toyrun-parity-bidi-');
  // a shared mount on the host, as the kubelet's volume directories are
  assert.is(sh('/bin/mount', ['--bind', vol, vol]).status, 0);
  hostCleanups.push(() => sh('/bin/umount', ['-R', vol]));
  // a peer group of its own: on a systemd host / is shared, and a bind of a
  // directory on it would join /'s group (each mount below it then shows twice)
  assert.is(sh('/bin/mount', ['--make-private', vol]).status, 0);
  assert.is(sh('/bin/mount', ['--make-shared', vol]).status, 0);
  mkdirSync(join(vol, 'from-host'));
  mkdirSync(join(vol, 'from-ctr'));
  for (const prop of ['rshared', 'shared']) {
    const b = bundle((s) => {
      (s.linux as NonNullable<Spec['linux']>).rootfsPropagation = prop;
      s.mounts = [...(s.mounts ?? []), { destination: '/vol', type: 'bind', source: vol, options: ['rbind', 'rshared'] }];
      addCaps(s, 'CAP_SYS_ADMIN');
      args(s, 'sleep 100');
    });
    const id = uniqueId('pfs-bidi');
    t.ok(['run', '-d', '--bundle', b, id]);
    // host -> container
    assert.is(sh('/bin/mount', ['-t', 'tmpfs', 'pfs-host', join(vol, 'from-host')]).status, 0);
    const seen = t.run(['exec', id, 'awk', '$5=="/vol/from-host" {print $5}', '/proc/self/mountinfo']);
    assert.is(seen.stdout, '/vol/from-host\n', `${prop}: host mount not seen inside`);
    // container -> host
    const m = t.run(['exec', id, 'mount', '-t', 'tmpfs', 'pfs-ctr', '/vol/from-ctr']);
    assert.is(m.status, 0, m.stderr);
    const hostView = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === join(vol, 'from-ctr'));
    assert.is(hostView.length, 1, `${prop}: container's mount not seen on the host`);
    assert.is(sh('/bin/umount', [join(vol, 'from-host')]).status, 0);
    assert.is(sh('/bin/umount', [join(vol, 'from-ctr')]).status, 0);
    t.ok(['delete', '--force', id]);
    assert.equal(leftovers(t, id), []);
  }
});

// ---- 2. --no-pivot leaves no host procfs or sysfs in the container's mount namespace ----

test('--no-pivot: the host\'s /proc and /sys are detached from the container\'s mount namespace, as runc does', () => {
  requireTool('/usr/bin/nsenter', 'util-linux');
  const b = bundle((s) => args(s, 'sleep 100'));
  const look = (pid: number): string => {
    // Lift the container's root off the namespace's root (a throw-away container):
    // nsenter then lands on the host's old root, where the host's /proc and /sys were.
    assert.is(sh('/usr/bin/nsenter', ['-t', String(pid), '-m', '/bin/umount', '-l', '/']).status, 0);
    const r = sh('/usr/bin/nsenter', ['-t', String(pid), '-m', '/usr/bin/stat', '-f', '-c', '%T', '/proc', '/sys', '/work']);
    assert.is(r.status, 0, r.stderr);
    return r.stdout;
  };
  const id = uniqueId('pfs-nopivot');
  t.ok(['run', '-d', '--no-pivot', '--bundle', b, id]);
  const ours = look(t.state(id).pid as number);
  t.ok(['delete', '--force', id]);
  const lines = ours.trim().split('\n');
  assert.is(lines.length, 3);
  assert.is.not(lines[0], 'proc', 'the host\'s procfs is still mounted in the container\'s mount namespace');
  assert.is.not(lines[1], 'sysfs', 'the host\'s sysfs is still mounted in the container\'s mount namespace');
  const rid = uniqueId('pfs-runc-nopivot');
  assert.is(runc(['run', '-d', '--no-pivot', '--bundle', b, rid]).status, 0);
  const st = JSON.parse(runc(['state', rid]).stdout) as { pid: number };
  assert.is(look(st.pid), ours);
});

test.run();
