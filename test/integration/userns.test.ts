// User namespaces: what the container's processes see inside (id -u, uid_map),
// what the host sees of their files and processes, joining a namespace by path,
// and bad mappings refused with nothing left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addCaps, deadline, BUSYBOX_ROOTFS, consoleReceiver, leftovers, REPO, sh, statusField, Toyrun, TOYRUN, uniqueId, drainPty, USERNS_MAP, withUserns } from '../helpers';
import type { IdMapping, Spec } from '../../src/spec/types';

const t = new Toyrun('userns');
const HOST = 300000; // host ids of the container's root
const MAP = USERNS_MAP; // root is host uid HOST
// An existing directory of the read-only busybox rootfs: the mapped root can't
// create mount points in a rootfs owned by the host's root.
const VOL = '/home';


/** A copy of the busybox rootfs owned by the mapped range, in a directory anyone can search. */
function chownedRootfs(hostRoot: number): string {
  const dir = mkdtempSync('/tmp/toyrun-userns-rootfs-');
  chmodSync(dir, 0o755);
  const rootfs = join(dir, 'rootfs');
  const r = sh('/bin/cp', ['-a', BUSYBOX_ROOTFS, rootfs]);
  assert.is(r.status, 0, r.stderr);
  const c = sh('/bin/chown', ['-R', '-h', `${hostRoot}:${hostRoot}`, rootfs]);
  assert.is(c.status, 0, c.stderr);
  return dir;
}

/** A host directory for a volume, searchable by the mapped root. */
function volume(owner: number, mode: number): string {
  const dir = t.tempDir('toyrun-userns-vol-');
  chownSync(dir, owner, owner);
  chmodSync(dir, mode);
  return dir;
}

/** create + start a long-running container (helpers collect output through files). */
function startSleeper(id: string, bundle: string): number {
  t.ok(['create', '--bundle', bundle, id]);
  t.ok(['start', id]);
  return t.state(id).pid as number;
}

function createFails(fn: (s: Spec) => void, expect: RegExp): void {
  const id = uniqueId('bad');
  const r = t.run(['create', '--bundle', t.bundle(fn), id]);
  assert.is.not(r.status, 0, 'create should fail');
  assert.match(r.stderr, expect);
  assert.equal(leftovers(t, id), []);
}

test('root inside is uid 0; uid_map and gid_map show the configured ranges', () => {
  const uid: IdMapping[] = [
    { containerID: 0, hostID: HOST, size: 1000 },
    { containerID: 1000, hostID: HOST + 50000, size: 2000 },
  ];
  const gid: IdMapping[] = [
    { containerID: 0, hostID: HOST + 10000, size: 100 },
    { containerID: 100, hostID: HOST + 20000, size: 10 },
  ];
  const r = t.sh('id -u; id -g; echo --; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups', (s) => withUserns(s, uid, gid));
  assert.is(r.status, 0, r.stderr);
  const [ids, uidMap, gidMap, setgroups] = r.stdout.split('--\n');
  assert.ok(setgroups !== undefined, r.stdout);
  assert.is(ids, '0\n0\n');
  const rows = (text: string | undefined): string[] => (text ?? '').trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.equal(rows(uidMap), ['0 300000 1000', '1000 350000 2000']);
  assert.equal(rows(gidMap), ['0 310000 100', '100 320000 10']);
  // written by a privileged parent: setgroups stays allowed (process.user.additionalGids need it)
  assert.is(setgroups?.trim(), 'allow');
});

test('the host sees the container process under the mapped uid, in the container cgroup, as the pid in state', () => {
  const id = uniqueId('hostview');
  const bundle = t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  });
  const pid = startSleeper(id, bundle);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.is(statusField(status, 'Uid').split(/\s+/)[0], String(HOST));
  assert.is(statusField(status, 'Gid').split(/\s+/)[0], String(HOST));
  assert.is(statusField(status, 'NSpid').split(/\s+/)[1], '1', 'PID 1 of its own PID namespace');
  assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `/toyrun/${id}\n`);
  assert.is.not(readlinkSync(`/proc/${pid}/ns/user`), readlinkSync('/proc/self/ns/user'));
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
});

test('lifecycle: created (the init waits as the mapped root), started, killed, deleted', () => {
  const id = uniqueId('life');
  t.ok(['create', '--bundle', t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  }), id]);
  const st = t.state(id);
  assert.is(st.status, 'created');
  const pid = st.pid as number;
  assert.is(statusField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'Uid').split(/\s+/)[0], String(HOST), 'the waiting init already runs as the mapped root');
  const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
  assert.not.ok(fds.some((l) => l.startsWith('user:[')), `no user namespace fd reaches the init: ${fds.join(' ')}`);
  t.ok(['start', id]);
  assert.is(t.state(id).status, 'running');
  t.ok(['kill', id, '9']);
  const gone = sh('/bin/sh', ['-c', `while [ -e /proc/${pid}/status ] && ! grep -q "^State:.*Z" /proc/${pid}/status; do sleep 0.05; done`], { timeout: 10000 });
  assert.is(gone.status, 0);
  assert.is(t.state(id).status, 'stopped');
  t.ok(['delete', id]);
  assert.equal(leftovers(t, id), []);
});

test('a rootfs chowned to the mapped range is writable by the container root', () => {
  const dir = chownedRootfs(HOST);
  try {
    const r = t.sh('echo hi > /root/made-inside && id -u && ls -n /root/made-inside', (s) => {
      withUserns(s);
      s.root = { path: join(dir, 'rootfs'), readonly: false };
    });
    assert.is(r.status, 0, r.stderr);
    const st = statSync(join(dir, 'rootfs', 'root', 'made-inside'));
    assert.is(st.uid, HOST);
    assert.is(st.gid, HOST);
    assert.match(r.stdout, /^0\n-rw-r--r-- +1 0 +0 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file created in a bind-mounted host dir is owned by the mapped host uid', () => {
  const vol = volume(HOST, 0o777);
  const r = t.sh(`touch ${VOL}/by-root`, (s) => {
    withUserns(s);
    s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'rw'] }];
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(statSync(join(vol, 'by-root')).uid, HOST);
  assert.is(statSync(join(vol, 'by-root')).gid, HOST);
  // and a non-root process.user lands at its own offset in the range
  const r2 = t.sh(`id -u; touch ${VOL}/by-1000`, (s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).user = { uid: 1000, gid: 1000, additionalGids: [5] };
    s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'rw'] }];
  });
  assert.is(r2.status, 0, r2.stderr);
  assert.is(r2.stdout, '1000\n');
  assert.is(statSync(join(vol, 'by-1000')).uid, HOST + 1000);
  assert.is(statSync(join(vol, 'by-1000')).gid, HOST + 1000);
});

test('the container root cannot write a root-owned host file through a volume', () => {
  const vol = volume(0, 0o755);
  writeFileSync(join(vol, 'host-file'), 'host data\n', { mode: 0o644 });
  const r = t.sh(`id -u; echo evil > ${VOL}/host-file; echo "write=$?"; touch ${VOL}/new; echo "create=$?"; cat ${VOL}/host-file`, (s) => {
    withUserns(s);
    s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'rw'] }];
    // the container root has every capability the runtime gives, DAC_OVERRIDE included:
    // they do not count for inodes whose owner is outside the user namespace
    const caps = ['CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_CHOWN'];
    const p = s.process as NonNullable<Spec['process']>;
    p.capabilities = { bounding: caps, effective: caps, permitted: caps };
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^0\nwrite=1\ncreate=1\nhost data\n$/);
  assert.match(r.stderr, /Permission denied/);
  assert.is(readFileSync(join(vol, 'host-file'), 'utf8'), 'host data\n');
});

test('a read-only volume from a host mount with nosuid,nodev,noexec: the locked flags are kept on remount', () => {
  const vol = volume(0, 0o755);
  const m = sh('/bin/mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,mode=755', 'tmpfs', vol]);
  assert.is(m.status, 0, m.stderr);
  try {
    const r = t.sh(`grep " ${VOL} " /proc/self/mountinfo; touch ${VOL}/x`, (s) => {
      withUserns(s);
      s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'ro'] }];
    });
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stdout, new RegExp(` ${VOL} ro,nosuid,nodev,noexec`));
    assert.match(r.stderr, /Read-only file system/);
  } finally {
    sh('/bin/umount', [vol]);
  }
});

test('join an existing user namespace by path (and its PID namespace)', () => {
  const first = uniqueId('owner');
  const pid = startSleeper(first, t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  }));
  const r = t.sh('readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u; ps -o args | grep -c "^sleep 1000$"', (s) => {
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'pid');
    linux.namespaces.push({ type: 'user', path: `/proc/${pid}/ns/user` }, { type: 'pid', path: `/proc/${pid}/ns/pid` });
  });
  assert.is(r.status, 0, r.stderr);
  const [ns, map, uid, sleepers] = r.stdout.trim().split('\n');
  assert.is(ns, readlinkSync(`/proc/${pid}/ns/user`));
  assert.is(map?.trim().split(/\s+/).join(' '), `0 ${HOST} 65536`);
  assert.is(uid, '0');
  assert.is(sleepers, '1', 'the first container\'s process is visible in the joined PID namespace');
  // mappings given with a path must be those of the namespace joined
  createFails((s) => {
    withUserns(s, [{ containerID: 0, hostID: 400000, size: 10 }], MAP);
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.namespaces = (linux.namespaces ?? []).map((n) => (n.type === 'user' ? { type: 'user', path: `/proc/${pid}/ns/user` } : n));
  }, /\/linux\/uidMappings does not match the joined user namespace/);
  t.ok(['delete', '--force', first]);
});

test('a network namespace made by the host (podman/netavark style) is joined on the way in', () => {
  const name = `toyrun-userns-${process.pid}`;
  const add = sh('/usr/sbin/ip', ['netns', 'add', name]);
  assert.is(add.status, 0, add.stderr);
  try {
    const r = t.sh('readlink /proc/self/ns/net; id -u; cat /proc/self/uid_map', (s) => {
      withUserns(s);
      const linux = s.linux as NonNullable<Spec['linux']>;
      linux.namespaces = (linux.namespaces ?? []).map((n) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${name}` } : n));
    });
    assert.is(r.status, 0, r.stderr);
    const [net, uid] = r.stdout.split('\n');
    assert.is(net, `net:[${statSync(`/run/netns/${name}`).ino}]`);
    assert.is(uid, '0');
  } finally {
    sh('/usr/sbin/ip', ['netns', 'delete', name]);
  }
});

test('--preserve-fds reach the process through every stage', () => {
  const dir = t.tempDir('toyrun-userns-fds-');
  const file = join(dir, 'passed');
  writeFileSync(file, 'through the stages\n', { mode: 0o644 });
  const fd = openSync(file, 'r');
  try {
    const bundle = t.bundle((s) => {
      withUserns(s);
      (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', 'cat <&3; ls /proc/self/fd | sort -n | tr "\n" " "'];
    });
    const out = join(dir, 'out');
    const o = openSync(out, 'w');
    const id = uniqueId('fds');
    t.track(id);
    const r = spawnSync(TOYRUN, ['--root', t.root, 'run', '--preserve-fds', '1', '--bundle', bundle, id], {
      stdio: ['ignore', o, o, fd], env: {}, cwd: '/', timeout: deadline(60000),
    });
    closeSync(o);
    assert.is(r.status, 0, readFileSync(out, 'utf8'));
    // 0-2, the preserved fd 3, and the fd ls has open on its directory: no sync pipe, no namespace fd
    assert.match(readFileSync(out, 'utf8'), /^through the stages\n0 1 2 3 4 $/);
  } finally {
    closeSync(fd);
  }
});

test('toyrun exec into a user-namespaced container: its namespaces, root inside, the mapped uid outside, the exit status', () => {
  const id = uniqueId('exec-cli');
  const name = `toyrun-userns-x${process.pid}`;
  const add = sh('/usr/sbin/ip', ['netns', 'add', name]);
  assert.is(add.status, 0, add.stderr);
  try {
    const initPid = startSleeper(id, t.bundle((s) => {
      withUserns(s);
      (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
      // a network namespace made by the host, as podman's: joined on the way in by exec too
      const linux = s.linux as NonNullable<Spec['linux']>;
      linux.namespaces = (linux.namespaces ?? []).map((n) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${name}` } : n));
    }));
    const kinds = ['user', 'pid', 'mnt', 'net', 'ipc', 'uts', 'cgroup'];
    const r = t.run(['exec', id, 'sh', '-c', `id -u; cat /proc/self/uid_map; for n in ${kinds.join(' ')}; do readlink /proc/self/ns/$n; done; exit 5`]);
    assert.is(r.status, 5, r.stderr);
    const [uid, map, ...ns] = r.stdout.trim().split('\n');
    assert.is(uid, '0');
    assert.is(map?.trim().split(/\s+/).join(' '), `0 ${HOST} 65536`);
    assert.equal(ns, kinds.map((k) => readlinkSync(`/proc/${initPid}/ns/${k}`)));
    // detached, as conmon runs it: the pid file names a host PID running as the mapped uid, in the cgroup
    const pidFile = join(t.tempDir('toyrun-userns-exec-'), 'pid');
    const d = t.run(['exec', '--detach', '--pid-file', pidFile, '--user', '1000:1000', id, 'sleep', '1000']);
    assert.is(d.status, 0, d.stderr);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.is(statusField(status, 'Uid').split(/\s+/)[0], String(HOST + 1000));
    assert.is(statusField(status, 'NSpid').split(/\s+/).length, 2, 'in the container\'s PID namespace');
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `/toyrun/${id}\n`);
    t.ok(['delete', '--force', id]);
    assert.equal(leftovers(t, id), []);
  } finally {
    sh('/usr/sbin/ip', ['netns', 'delete', name]);
  }
});

test('process.terminal: the runtime connects the console socket (in a root-only directory) for the mapped root', () => {
  const r = consoleReceiver(t.tempDir('toyrun-userns-tty-')); // 0700, host root's: the mapped root could not connect here
  const id = uniqueId('tty');
  try {
    const bundle = t.bundle((s) => {
      withUserns(s);
      const p = s.process as NonNullable<Spec['process']>;
      p.terminal = true;
      p.args = ['sh', '-c', 'tty; id -u'];
    });
    const c = t.run(['create', '--bundle', bundle, '--console-socket', r.path, id]);
    assert.is(c.status, 0, c.stderr);
    const m = r.accept();
    assert.is(m.payload.toString(), '/dev/ptmx');
    t.ok(['start', id]);
    const out = drainPty(m.fd);
    assert.is(out.replace(/\r/g, ''), '/dev/pts/0\n0\n');
  } finally {
    r.close();
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

test('exec --tty --console-socket into a user-namespaced container: the socket is connected by the runtime too', () => {
  const id = uniqueId('ttyexec');
  startSleeper(id, t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  }));
  const r = consoleReceiver(t.tempDir('toyrun-userns-tty-'));
  try {
    const e = t.run(['exec', '--tty', '--detach', '--console-socket', r.path, id, 'sh', '-c', 'tty; id -u']);
    assert.is(e.status, 0, e.stderr);
    const m = r.accept();
    const out = drainPty(m.fd);
    assert.is(out.replace(/\r/g, ''), '/dev/pts/0\n0\n');
  } finally {
    r.close();
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

test('exec: the new process enters the running container\'s user namespace, its other namespaces and its cgroup', () => {
  const id = uniqueId('exec');
  const initPid = startSleeper(id, t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  }));
  const pidFile = join(t.tempDir('toyrun-userns-exec-'), 'pid');
  t.ok(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '1000']);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    const want = ['user', 'pid', 'net', 'ipc', 'uts', 'cgroup', 'mnt'].map((n) => readlinkSync(`/proc/${initPid}/ns/${n}`));
    assert.equal(['user', 'pid', 'net', 'ipc', 'uts', 'cgroup', 'mnt'].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`)), want);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.is(statusField(status, 'Uid').split(/\s+/)[0], String(HOST), 'the mapped root outside');
    assert.is(statusField(status, 'NSpid').split(/\s+/).length, 2, 'a member of the container\'s PID namespace');
    assert.is(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), readFileSync(`/proc/${initPid}/cgroup`, 'utf8'), 'the init\'s cgroups');
    assert.is(readFileSync(`/proc/${pid}/uid_map`, 'utf8'), readFileSync(`/proc/${initPid}/uid_map`, 'utf8'));
  } finally {
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

test('a user namespace without its own network namespace gets the host /sys bound (sysfs needs the netns owner)', () => {
  const r = t.sh('grep " /sys " /proc/self/mountinfo; test -d /sys/kernel && echo has-kernel', (s) => {
    withUserns(s);
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'network');
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, / \/sys ro,nosuid,nodev,noexec/);
  assert.match(r.stdout, /has-kernel/);
});

test('device nodes are bind mounts of the host nodes (mknod is refused in a user namespace)', () => {
  const r = t.sh('echo data > /dev/null && head -c 4 /dev/zero | od -An -tx1 && grep -c " /dev/null " /proc/self/mountinfo', withUserns);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /00 00 00 00\n1\n$/);
});

test('a one-id map: devpts without its gid= (group 5 is not mapped), the process still runs as root', () => {
  const one: IdMapping[] = [{ containerID: 0, hostID: HOST, size: 1 }];
  const r = t.sh('id -u; cat /proc/self/uid_map; grep -c " /dev/pts " /proc/self/mountinfo', (s) => withUserns(s, one, one));
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^0\n +0 +300000 +1\n1\n$/);
});

test('run mirrors the exit status of the process in the user namespace', () => {
  const r = t.sh('exit 7', withUserns);
  assert.is(r.status, 7, r.stderr);
  // not PID 1 (signals from its own namespace would not kill it): no PID namespace,
  // and so no /proc either (proc needs a PID namespace owned by the user namespace)
  const k = t.sh('kill -TERM $$; sleep 5', (s) => {
    withUserns(s);
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'pid');
    s.mounts = (s.mounts ?? []).filter((m) => m.destination !== '/proc');
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
  });
  assert.is(k.status, 128 + 15, k.stderr);
});

test('bad mappings fail with the JSON path and leave nothing behind', () => {
  createFails((s) => withUserns(s, [
    { containerID: 0, hostID: HOST, size: 1000 },
    { containerID: 500, hostID: HOST + 5000, size: 10 },
  ]), /\/linux\/uidMappings\/1: container ids 500-509 overlap \/linux\/uidMappings\/0/);
  createFails((s) => withUserns(s, MAP, [
    { containerID: 0, hostID: HOST, size: 1000 },
    { containerID: 2000, hostID: HOST + 10, size: 10 },
  ]), /\/linux\/gidMappings\/1: host ids 300010-300019 overlap \/linux\/gidMappings\/0/);
  const many = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: HOST + i * 2, size: 1 }));
  createFails((s) => withUserns(s, many), /\/linux\/uidMappings must NOT have more than 340 items/);
  const wide = Array.from({ length: 200 }, (_, i) => ({ containerID: 1000000000 + i * 2, hostID: 2000000000 + i * 2, size: 1 }));
  createFails((s) => withUserns(s, [...MAP, ...wide]), /\/linux\/uidMappings is \d+ bytes as text: the kernel accepts less than 4096/);
  createFails((s) => {
    withUserns(s, [{ containerID: 0, hostID: HOST, size: 100 }]);
    (s.process as NonNullable<Spec['process']>).user = { uid: 1000, gid: 0 };
  }, /\/process\/user\/uid 1000 is not mapped in \/linux\/uidMappings/);
  createFails((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).user = { uid: 0, gid: 0, additionalGids: [70000] };
  }, /\/process\/user\/additionalGids\/0 70000 is not mapped/);
  createFails((s) => withUserns(s, [], MAP), /\/linux\/uidMappings is required with a new user namespace/);
  createFails((s) => {
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.uidMappings = MAP;
    linux.gidMappings = MAP;
  }, /need a user namespace/);
  createFails((s) => {
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.namespaces = [...(linux.namespaces ?? []), { type: 'user', path: '/proc/self/ns/net' }];
  }, /\/proc\/self\/ns\/net is not a user namespace/);
  // a PID namespace of the host can't be joined from inside a new user namespace
  createFails((s) => {
    withUserns(s);
    const linux = s.linux as NonNullable<Spec['linux']>;
    linux.namespaces = (linux.namespaces ?? []).map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${process.pid}/ns/pid` } : n));
  }, /pid namespace \/proc\/\d+\/ns\/pid: open .*permission denied.*only pid namespaces it can reach/);
});

test('a rootfs the mapped root cannot reach is refused up front, naming the directory', () => {
  const hidden = t.tempDir('toyrun-userns-hidden-'); // mkdtemp: 0700, owned by host root
  const r = sh('/bin/cp', ['-a', BUSYBOX_ROOTFS, join(hidden, 'rootfs')]);
  assert.is(r.status, 0, r.stderr);
  createFails((s) => {
    withUserns(s);
    s.root = { path: join(hidden, 'rootfs'), readonly: true };
  }, new RegExp(`/root/path .* is not reachable by the container's root: ${hidden} \\(owner 0:0, mode 0700\\)`));
});

test('under Node 20 too: the same stages with a Node engine', () => {
  const nodeBin = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
  assert.ok(nodeBin, 'node installed');
  const bundle = t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', 'id -u; cat /proc/self/uid_map; exit 4'];
  });
  const id = uniqueId('node');
  t.track(id);
  const r = sh(nodeBin as string, [join(REPO, 'dist', 'node', 'toyrun.js'), '--root', t.root, 'run', '--bundle', bundle, id], { env: {}, cwd: '/' });
  assert.is(r.status, 4, r.stderr);
  assert.match(r.stdout, /^0\n +0 +300000 +65536\n$/);
  assert.equal(leftovers(t, id), []);
});

test('features lists the user namespace and idmapped mounts', () => {
  const f = JSON.parse(t.ok(['features']).stdout) as { mountOptions: string[]; linux: { namespaces: string[]; mountExtensions: { idmap: { enabled: boolean } } } };
  assert.ok(f.linux.namespaces.includes('user'));
  assert.is(f.linux.mountExtensions.idmap.enabled, true);
  assert.ok(f.mountOptions.includes('idmap') && f.mountOptions.includes('ridmap'));
});

test('idmapped rootfs: an unchowned (host root) rootfs is owned by the container root inside', () => {
  const dir = mkdtempSync('/tmp/toyrun-userns-idmap-');
  try {
    chmodSync(dir, 0o755);
    const c = sh('/bin/cp', ['-a', BUSYBOX_ROOTFS, join(dir, 'rootfs')]);
    assert.is(c.status, 0, c.stderr);
    const r = t.sh('ls -ln /etc/passwd; echo hi > /root/made-inside && ls -ln /root/made-inside; grep -c idmapped /proc/self/mountinfo', (s) => {
      withUserns(s);
      s.root = { path: join(dir, 'rootfs'), readonly: false };
      s.annotations = { ...(s.annotations ?? {}), 'org.toyrun.idmap-rootfs': 'true' };
    });
    assert.is(r.status, 0, r.stderr);
    const [passwd, made, mnt] = r.stdout.split('\n');
    assert.match(passwd ?? '', /^-rw-r--r-- +1 0 +0 /);
    assert.match(made ?? '', /^-rw-r--r-- +1 0 +0 /);
    assert.is(mnt, '1', 'the root mount, idmapped');
    const st = statSync(join(dir, 'rootfs', 'root', 'made-inside'));
    assert.is(st.uid, 0, 'written through the idmapped mount: host root on disk');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idmapped volumes: the container\'s maps, or the mount\'s own', () => {
  const vol = volume(0, 0o755);
  writeFileSync(join(vol, 'host-file'), 'host data\n', { mode: 0o644 });
  const r = t.sh(`ls -ln ${VOL}/host-file; echo more >> ${VOL}/host-file && touch ${VOL}/new && ls -ln ${VOL}/new`, (s) => {
    withUserns(s);
    s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'rw', 'idmap'] }];
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^-rw-r--r-- +1 0 +0 .*\n-rw-r--r-- +1 0 +0 /);
  assert.is(readFileSync(join(vol, 'host-file'), 'utf8'), 'host data\nmore\n');
  assert.is(statSync(join(vol, 'new')).uid, 0);
  // the mount's own maps: host root's files appear as uid/gid 1000 inside
  const own: IdMapping[] = [{ containerID: 0, hostID: HOST + 1000, size: 1 }];
  const r2 = t.sh(`ls -ln ${VOL}/host-file`, (s) => {
    withUserns(s);
    s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'ro', 'idmap'], uidMappings: own, gidMappings: own }];
  });
  assert.is(r2.status, 0, r2.stderr);
  assert.match(r2.stdout, /^-rw-r--r-- +1 1000 +1000 /);
  createFails((s) => {
    withUserns(s);
    s.mounts = [...(s.mounts ?? []), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }];
  }, /\/mounts\/\d+\/options: idmap is only supported on bind mounts/);
});

/** Run one container from a mount namespace whose "/" is rshared, as on every
 * systemd host (the project machine's is private, where no peer exists to leak
 * to); returns its result and the mountinfo of that namespace once it has exited. */
function runFromSharedRoot(bundle: string, id: string): { status: number; out: string; err: string; hostMounts: string[] } {
  t.track(id);
  const script = 'mount --make-rshared / || exit 99; "$0" --root "$1" run --bundle "$2" "$3"; echo "rc=$?"; cat /proc/self/mountinfo >&2';
  const r = sh('unshare', ['-m', '--propagation', 'unchanged', 'sh', '-c', script, TOYRUN, t.root, bundle, id]);
  const rc = /rc=(\d+)\n?$/.exec(r.stdout);
  assert.ok(rc, `${r.stdout}\n${r.stderr}`);
  const mountinfo = r.stderr.split('\n').filter((l) => / - \S+ /.test(l));
  const errLines = r.stderr.split('\n').filter((l) => !/ - \S+ /.test(l)).join('\n');
  return { status: Number(rc[1]), out: r.stdout.slice(0, rc.index), err: errLines, hostMounts: mountinfo.map((l) => l.split(' ')[4] as string) };
}

test('attack: on a host whose / is shared, nothing mounted on an idmapped rootfs or volume reaches the host', () => {
  // A clone of a shared mount is a peer of it: the init's proc, dev and sys, and
  // whatever the container's root mounts later, would appear in the host's
  // namespace below the rootfs and the volume (and pivot_root refuses a shared root).
  const dir = t.tempDir('toyrun-userns-idmap-shared-');
  chmodSync(dir, 0o755);
  const c = sh('/bin/cp', ['-a', BUSYBOX_ROOTFS, join(dir, 'rootfs')]);
  assert.is(c.status, 0, c.stderr);
  const vol = volume(0, 0o755);
  const attacker = `mkdir -p /pwn ${VOL}/pwn && mount -t tmpfs pwned /pwn && mount -t tmpfs pwned ${VOL}/pwn && grep -c pwned /proc/self/mountinfo`;
  const bundle = t.bundle((s) => {
    withUserns(s);
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', attacker];
    addCaps(s, 'CAP_SYS_ADMIN');
    s.root = { path: join(dir, 'rootfs'), readonly: false };
    s.annotations = { ...(s.annotations ?? {}), 'org.toyrun.idmap-rootfs': 'true' };
    s.mounts = [...(s.mounts ?? []), { destination: VOL, type: 'bind', source: vol, options: ['rbind', 'rw', 'idmap'] }];
  });
  const r = runFromSharedRoot(bundle, uniqueId('idshared'));
  const leaked = r.hostMounts.filter((m) => m.startsWith(`${dir}/`) || m === dir || m.startsWith(`${vol}/`));
  assert.equal(leaked, [], 'mounts of the container in the host namespace');
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), '2', 'the attacker\'s two mounts, inside');
});

test.after(() => t.cleanup());
test.run();
