// The OCI lifecycle on real containers: create → start → state → kill → delete,
// run, list, and what the process inside sees.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, readlinkSync, existsSync, openSync, closeSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Spec } from '../../src/spec/types';
import { BUSYBOX_ROOTFS, Toyrun, TOYRUN, leftovers, sh, statusField, uniqueId, waitFor } from '../helpers';

const t = new Toyrun('lifecycle');
const test = suite('lifecycle');
let t0 = Date.now();
test.before.each((ctx) => { t0 = Date.now(); void ctx; });
test.after.each((ctx) => { if (process.env.TIMING) process.stderr.write(`${(ctx as { __test__: string }).__test__}: ${Date.now() - t0} ms\n`); });
test.after(() => t.cleanup());

function sleeper(): string {
  return t.bundle((s) => {
    s.process!.args = ['sleep', '300'];
  });
}

test('create leaves the init blocked on exec.fifo; start releases it; kill; delete', () => {
  const id = uniqueId('life');
  const pidFile = join(t.tempDir(), 'pid');
  t.ok(['create', '--bundle', sleeper(), '--pid-file', pidFile, id]);
  const created = t.state(id);
  assert.is(created.status, 'created');
  assert.is(created.id, id);
  const pid = created.pid as number;
  assert.ok(pid > 0);
  // pid-file: decimal, no newline (containerd's Atoi does not trim)
  assert.is(readFileSync(pidFile, 'utf8'), String(pid));
  // the init has not exec'd yet: it is still the engine, not sleep
  assert.not.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /sleep/);
  assert.ok(existsSync(join(t.root, id, 'exec.fifo')));

  t.ok(['start', id]);
  const running = t.state(id);
  assert.is(running.status, 'running');
  assert.is(running.pid, pid);
  assert.is(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'sleep\u0000300\u0000');
  assert.not.ok(existsSync(join(t.root, id, 'exec.fifo')));

  const again = t.run(['start', id]);
  assert.is.not(again.status, 0);
  assert.match(again.stderr, /cannot start an already running container/);

  t.ok(['kill', id, 'KILL']);
  waitFor(() => t.state(id).status === 'stopped', 'the container to stop');
  assert.is(t.state(id).pid, 0);

  const k = t.run(['kill', id, '15']);
  assert.is.not(k.status, 0);
  assert.match(k.stderr, /container not running/);
  const s = t.run(['start', id]);
  assert.match(s.stderr, /cannot start a container that has stopped/);

  t.ok(['delete', id]);
  const gone = t.run(['state', id]);
  assert.is(gone.status, 1);
  assert.match(gone.stderr, /does not exist/);
  assert.equal(leftovers(t, id), []);
});

test('state prints the OCI state document', () => {
  const id = uniqueId('st');
  const bundle = t.bundle((s) => {
    s.process!.args = ['sleep', '300'];
    s.annotations = { 'org.example.key': 'value' };
  });
  t.ok(['create', '--bundle', bundle, id]);
  const st = t.state(id);
  assert.is(st.ociVersion, '1.3.0');
  assert.is(st.bundle, bundle);
  assert.equal(st.annotations, { 'org.example.key': 'value' });
  assert.ok(typeof st.created === 'string' && !Number.isNaN(Date.parse(st.created as string)));
  assert.ok(typeof st.rootfs === 'string');
  t.ok(['delete', '--force', id]);
});

test('delete refuses a running container without --force, and --force kills it', () => {
  const id = uniqueId('del');
  t.ok(['run', '--detach', '--bundle', sleeper(), id]);
  const pid = t.state(id).pid as number;
  const r = t.run(['delete', id]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /not stopped: running/);
  t.ok(['delete', '--force', id]);
  assert.not.ok(existsSync(`/proc/${pid}/cmdline`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'));
  assert.equal(leftovers(t, id), []);
});

test('delete of a created (never started) container works without --force', () => {
  const id = uniqueId('delc');
  t.ok(['create', '--bundle', sleeper(), id]);
  t.ok(['delete', id]);
  assert.equal(leftovers(t, id), []);
});

test('delete --force of an unknown id exits 0 silently; delete without --force says does not exist', () => {
  const r = t.run(['delete', '--force', 'no-such-container']);
  assert.is(r.status, 0);
  assert.is(r.stdout + r.stderr, '');
  const r2 = t.run(['delete', 'no-such-container']);
  assert.is(r2.status, 1);
  assert.match(r2.stderr, /container no-such-container does not exist/);
});

test('run waits and exits with the container status; 128+N when killed by signal N', () => {
  assert.is(t.sh('exit 7').status, 7);
  // PID 1 of a namespace ignores signals it has no handler for, even SIGKILL from
  // inside: share the host PID namespace so that the shell can kill itself.
  const noPidNs = (s: Spec): void => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
  };
  assert.is(t.sh('kill -9 $$', noPidNs).status, 137);
  const ok = t.sh('echo out; echo err >&2');
  assert.is(ok.status, 0);
  assert.is(ok.stdout, 'out\n');
  assert.is(ok.stderr, 'err\n');
});

test('namespaces: PID 1, own hostname, new mount/net/uts/ipc/pid/cgroup namespaces', () => {
  const r = t.sh('echo $$; hostname; for n in mnt net uts ipc pid cgroup; do readlink /proc/self/ns/$n; done', (s) => {
    s.hostname = 'box42';
  });
  assert.is(r.status, 0, r.stderr);
  const [pid, host, ...nss] = r.stdout.trim().split('\n');
  assert.is(pid, '1');
  assert.is(host, 'box42');
  const names = ['mnt', 'net', 'uts', 'ipc', 'pid', 'cgroup'];
  nss.forEach((ns, i) => assert.is.not(ns, readlinkSync(`/proc/self/ns/${names[i]}`), names[i]));
});

test('joining a namespace by path (network)', () => {
  // a network namespace held by a process we start, removed by its PID
  const holder = spawn('/usr/bin/unshare', ['--net', '--', '/bin/sleep', '60'], { stdio: 'ignore' });
  try {
    let target = '';
    for (let i = 0; i < 500; i++) {
      target = readlinkSync(`/proc/${holder.pid}/ns/net`);
      if (target !== readlinkSync('/proc/self/ns/net')) break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
    const r = t.sh('readlink /proc/self/ns/net', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${holder.pid}/ns/net` } : n));
    });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), target);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('root: pivot_root hides the host; only the container mounts are visible', () => {
  const r = t.sh('cat /proc/self/mountinfo; ls /');
  assert.is(r.status, 0, r.stderr);
  const mounts = r.stdout.split('\n').filter((l) => l.includes(' - ')).map((l) => l.split(' ')[4] as string);
  // mount points (field 5) are container paths; nothing of the host's tree is mounted
  for (const m of mounts) assert.not.match(m, /^\/(work|run\/toyrun|home|var|boot)/, m);
  assert.ok(mounts.length < 40, 'the host mount table is gone');
  assert.match(r.stdout, /\nbin\ndev\netc\nhome\nproc\n/);
  for (const m of ['/', '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/tmp']) assert.ok(mounts.includes(m), `${m} mounted`);
});

test('--no-pivot uses MS_MOVE + chroot and still runs', () => {
  const r = t.sh('echo $$; ls /bin/busybox', () => undefined, ['--no-pivot']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '1\n/bin/busybox\n');
});

test('root.readonly, readonlyPaths and maskedPaths', () => {
  const r = t.sh('(touch /x) 2>&1; touch /tmp/ok && echo tmp-ok; cat /proc/kcore | wc -c; (echo 1 > /proc/sys/kernel/ns_last_pid) 2>&1; true');
  assert.match(r.stdout, /^touch: \/x: Read-only file system\n/);
  assert.match(r.stdout, /\ntmp-ok\n/);
  assert.match(r.stdout, /\n0\n/); // /proc/kcore masked by /dev/null
  assert.match(r.stdout, /ns_last_pid: Read-only file system\n$/);
});

test('relative root.path resolves against the bundle', () => {
  const bundle = t.bundle((s) => {
    s.root = { path: 'rootfs' };
  });
  symlinkSync(BUSYBOX_ROOTFS, join(bundle, 'rootfs'));
  const r = t.run(['run', '--bundle', bundle, uniqueId('rel')]);
  assert.is(r.status, 0, r.stderr);
});

test('/dev: default devices, symlinks, linux.devices', () => {
  const r = t.sh('ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/mydev; for l in /dev/fd /dev/stdin /dev/ptmx; do readlink $l; done', (s) => {
    s.linux!.devices = [{ type: 'c', path: '/dev/mydev', major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 0 }];
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* \/dev\/null/);
  assert.match(r.stdout, /crw-r-----\s+1 root\s+root\s+1,\s+3 .* \/dev\/mydev/);
  assert.match(r.stdout, /\/proc\/self\/fd\n\/proc\/self\/fd\/0\npts\/ptmx/);
});

/** A copy of the busybox rootfs whose /<dir> is a symlink to a fresh host directory. */
function rootfsWithHostLink(dir: string): { rootfs: string; hostTarget: string } {
  const rootfs = t.tempDir('toyrun-evil-rootfs-');
  const hostTarget = t.tempDir('toyrun-host-target-');
  sh('/bin/cp', ['-a', `${BUSYBOX_ROOTFS}/.`, rootfs]);
  sh('/bin/rm', ['-rf', join(rootfs, dir)]);
  symlinkSync(hostTarget, join(rootfs, dir));
  return { rootfs, hostTarget };
}

test('/dev from the image (no tmpfs): a /dev symlinked to a host path gets its nodes inside the rootfs', () => {
  const { rootfs, hostTarget } = rootfsWithHostLink('dev');
  const r = t.sh('ls -l /dev/null /dev/mydev; readlink /dev/ptmx', (s) => {
    s.root = { path: rootfs };
    s.mounts = s.mounts!.filter((m) => m.destination !== '/dev');
    s.linux!.devices = [{ type: 'c', path: '/dev/mydev', major: 1, minor: 5, fileMode: 0o600, uid: 0, gid: 0 }];
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* \/dev\/null/);
  assert.match(r.stdout, /crw-------\s+1 root\s+root\s+1,\s+5 .* \/dev\/mydev/);
  assert.match(r.stdout, /pts\/ptmx\n$/);
  assert.equal(readdirSync(hostTarget), [], 'nothing created at the host target');
});

test('linux.devices over a directory of the image fails create clearly and leaves nothing', () => {
  const id = uniqueId('devdir');
  const bundle = t.bundle((s) => {
    s.linux!.devices = [{ type: 'c', path: '/dev/pts', major: 1, minor: 3 }];
  });
  const r = t.run(['create', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  assert.is(r.status, 1);
  assert.match(r.stderr, 'linux.devices: /dev/pts is a directory in the rootfs');
  assert.equal(leftovers(t, id), []);
});

test('bind mounts: rw and ro, file and directory; destinations created', () => {
  const dir = t.tempDir();
  writeFileSync(join(dir, 'f.txt'), 'host-file\n');
  // destinations under the container's /tmp (a tmpfs): created by the runtime, never in the shared rootfs
  const r = t.sh('cat /tmp/data/f.txt; echo new > /tmp/data/g.txt; cat /tmp/one/file.txt; (echo x > /tmp/ro/y) 2>&1; true', (s) => {
    s.mounts!.push(
      { destination: '/tmp/data', type: 'bind', source: dir, options: ['rbind', 'rw'] },
      { destination: '/tmp/one/file.txt', type: 'bind', source: join(dir, 'f.txt'), options: ['bind', 'ro'] },
      { destination: '/tmp/ro', type: 'bind', source: dir, options: ['bind', 'ro', 'nosuid'] },
    );
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^host-file\nhost-file\n.*Read-only file system/s);
  assert.is(readFileSync(join(dir, 'g.txt'), 'utf8'), 'new\n');
});

test('a mount destination symlinked out of the rootfs stays inside it', () => {
  // rootfs whose /etc is a symlink to a host path: the mount must land inside the rootfs
  const { rootfs, hostTarget } = rootfsWithHostLink('etc');
  const r = t.sh('echo ok', (s) => {
    s.root = { path: rootfs };
    s.mounts!.push({ destination: '/etc/inner', type: 'tmpfs', source: 'tmpfs' });
  });
  assert.is(r.status, 0, r.stderr);
  assert.not.ok(existsSync(join(hostTarget, 'inner')), 'nothing created at the host target');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.not.match(mounts, new RegExp(hostTarget));
});

test('process: env, cwd (created), user uid/gid/additionalGids, umask', () => {
  const r = t.sh('echo $FOO; pwd; id -u; id -g; id -G; umask', (s) => {
    s.process!.env = ['PATH=/bin', 'FOO=bar'];
    s.process!.cwd = '/tmp/work/dir';
    s.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 1002], umask: 0o027 };
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'bar\n/tmp/work/dir\n1000\n1001\n1001 5 1002\n0027\n');
});

test('rlimits are applied; one above the hard limit fails create with "operation not permitted"', () => {
  const r = t.sh('ulimit -n; ulimit -Hn', (s) => {
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 600 }];
  });
  assert.is(r.stdout, '512\n600\n');
  const hard = Number(sh('/bin/sh', ['-c', 'ulimit -Hn']).stdout.trim());
  const id = uniqueId('rlim');
  const bad = t.bundle((s) => {
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: hard + 1000, hard: hard + 1000 }];
  });
  const c = t.run(['create', '--bundle', bad, id]);
  // This machine kind has no CAP_SYS_RESOURCE: raising a hard limit is refused.
  const capEff = BigInt('0x' + statusField(readFileSync('/proc/self/status', 'utf8'), 'CapEff'));
  if ((capEff & (1n << 24n)) === 0n) {
    assert.is(c.status, 1);
    assert.match(c.stderr, /error setting rlimit type 7: operation not permitted/);
    assert.equal(leftovers(t, id), []);
  } else {
    assert.is(c.status, 0, c.stderr);
  }
});

test('only fds 0-2 (and --preserve-fds) reach the process; signals default, mask empty', () => {
  // the caller leaks fd 3 (like containerd's shim) and ignores SIGPIPE (like conmon)
  const bundle = t.bundle((s) => {
    // "; true" keeps sh from exec'ing grep in place: busybox sh as PID 1 ignores
    // SIGQUIT itself (runc shows the same), its children must start clean.
    s.process!.args = ['sh', '-c', 'ls /proc/self/fd; grep -E "^Sig(Ign|Blk)" /proc/self/status; true'];
  });
  const id = uniqueId('fds');
  t.track(id);
  const script = `trap '' PIPE; exec 3</etc/hostname 7</etc/hostname; exec ${TOYRUN} --root ${t.root} run --bundle ${bundle} --preserve-fds 1 ${id}`;
  const r = sh('/bin/bash', ['-c', script]);
  assert.is(r.status, 0, r.stderr);
  const fds = r.stdout.split('\n').filter((l) => /^\d+$/.test(l));
  // (ls opens one fd of its own for the listing: 4 here)
  assert.ok(fds.includes('3'), 'preserved fd 3 present');
  assert.not.ok(fds.includes('7'), 'fd 7 did not leak');
  assert.match(r.stdout, /SigIgn:\s+0000000000000000/, r.stdout);
  assert.match(r.stdout, /SigBlk:\s+0000000000000000/, r.stdout);
});

test('a duplicate id fails with "already exists" and leaves the first container intact', () => {
  const id = uniqueId('dup');
  t.ok(['create', '--bundle', sleeper(), id]);
  const pid = t.state(id).pid;
  const r = t.run(['create', '--bundle', sleeper(), id]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /already exists/);
  assert.is(t.state(id).status, 'created');
  assert.is(t.state(id).pid, pid);
  t.ok(['delete', '--force', id]);
});

test('list: table and json', () => {
  const id = uniqueId('list');
  t.ok(['create', '--bundle', sleeper(), id]);
  const json = JSON.parse(t.ok(['list', '--format', 'json']).stdout) as { id: string; status: string }[];
  assert.ok(json.some((s) => s.id === id && s.status === 'created'));
  const table = t.ok(['list']).stdout;
  assert.match(table, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n/);
  assert.match(table, new RegExp(`${id}\\s+\\d+\\s+created`));
  assert.match(t.ok(['list', '-q']).stdout, new RegExp(`^${id}$`, 'm'));
  t.ok(['delete', '--force', id]);
});

test('works with an empty environment from any cwd', () => {
  const r = sh(TOYRUN, ['--root', t.root, 'list', '--format', 'json'], { env: {}, cwd: '/proc' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim().startsWith('['), true);
});

test('--log with --log-format json: one JSON object per error line, bare message on stderr', () => {
  const log = join(t.tempDir(), 'log.json');
  const r = sh(TOYRUN, ['--root', t.root, '--log', log, '--log-format=json', 'delete', 'nope'], { env: {} });
  assert.is(r.status, 1);
  assert.is(r.stderr, 'container nope does not exist\n');
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.is(lines.length, 1);
  const obj = JSON.parse(lines[0]!) as Record<string, string>;
  assert.is(obj.level, 'error');
  assert.is(obj.msg, 'container nope does not exist');
  assert.ok(!Number.isNaN(Date.parse(obj.time!)));
  // without --log: a logrus-style line on stderr
  const r2 = sh(TOYRUN, ['--root', t.root, 'delete', 'nope'], { env: {} });
  assert.match(r2.stderr, /^time="[^"]+" level=error msg="container nope does not exist"\n$/);
});

test('spec writes a default config.json that runs; refuses to overwrite', () => {
  const dir = t.tempDir();
  t.ok(['spec', '--bundle', dir]);
  const r = t.run(['spec', '--bundle', dir]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /exists/);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.root.path = BUSYBOX_ROOTFS;
  spec.process.args = ['true'];
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  assert.is(t.run(['run', '--bundle', dir, uniqueId('spec')]).status, 0);
});

test('features is JSON and names what is implemented', () => {
  const f = JSON.parse(t.ok(['features']).stdout);
  assert.is(f.ociVersionMin, '1.0.0');
  assert.ok(f.hooks.includes('createRuntime'));
  assert.ok(f.linux.namespaces.includes('pid'));
  assert.ok(f.mountOptions.includes('rbind'));
  assert.ok(f.linux.capabilities.includes('CAP_SYS_ADMIN'));
});

test('--version', () => {
  const r = sh(TOYRUN, ['--version'], { env: {} });
  assert.is(r.status, 0);
  assert.match(r.stdout, /^toyrun version \d+\.\d+\.\d+\nspec: 1\.3\.0\n/);
});

test('a stray fd open in the caller (like containerd\'s socket) is not the container\'s', () => {
  const fd = openSync('/etc/hostname', 'r');
  try {
    const r = t.sh('ls /proc/self/fd | tr "\\n" " "');
    assert.is(r.status, 0);
    assert.match(r.stdout, /^0 1 2 3 $/); // 3 is ls's own directory fd
  } finally {
    closeSync(fd);
  }
});

test.run();
