// `toyrun exec`: the new process must be inside the running container (every
// namespace, the cgroup), shaped by its process spec (user, caps, rlimits,
// no_new_privs, cwd, env), with clean stdio/signals, and fail the way podman
// and containerd parse (exit 255, runc's texts, one JSON error line).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_V2, REPO, Toyrun, leftovers, sh, statusField, uniqueId } from '../helpers';
import { apparmorEnabled } from '../../src/linux/lsm';
import { toyrunWithFds } from '../spawn-fds';

const t = new Toyrun('exec');
let id = '';
let initPid = 0;

test.before(() => {
  id = uniqueId('exec');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['sleep', '1000'];
  });
  // the container keeps its stdio: not a pipe spawnSync would wait on
  t.ok(['run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
  initPid = t.state(id).pid as number;
});

test.after(() => t.cleanup());

function exec(args: string[], opts: Parameters<Toyrun['run']>[1] = {}): ReturnType<Toyrun['run']> {
  return t.run(['exec', ...args], opts);
}

test('exec joins every namespace of the container', () => {
  const kinds = ['mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup'];
  const r = exec([id, 'sh', '-c', kinds.map((k) => `readlink /proc/self/ns/${k}`).join('; ')]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), kinds.map((k) => readlinkSync(`/proc/${initPid}/ns/${k}`)));
});

test('exec joins the container cgroup, and sees it as its root', () => {
  const r = exec([id, 'sh', '-c', 'cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup']);
  assert.is(r.status, 0, r.stderr);
  const [mine, init] = r.stdout.split('---\n');
  assert.is(mine, init);
  assert.match(mine ?? '', CGROUP_V2 ? /^0::\/$/m : /^\d+:memory:\/$/m);
  const host = readFileSync(`/proc/${initPid}/cgroup`, 'utf8');
  const pids = t.ok(['ps', '--format', 'json', id]).stdout;
  assert.is(JSON.parse(pids).length, 1);
  assert.ok(host.includes(id), host);
});

test('exit status of the process is exec\'s exit status', () => {
  assert.is(exec([id, 'sh', '-c', 'exit 7']).status, 7);
  assert.is(exec([id, 'sh', '-c', 'kill -TERM $$']).status, 128 + 15);
});

test('--user, --cwd, --env, --cap', () => {
  const r = exec(['--user', '1000:1001', '--cwd', '/tmp', '--env', 'FOO=bar', '--cap', 'CAP_CHOWN', id, 'sh', '-c', 'id -u; id -g; pwd; echo $FOO; grep CapBnd /proc/self/status']);
  assert.is(r.status, 0, r.stderr);
  const [uid, gid, cwd, foo, bnd] = r.stdout.trim().split('\n');
  assert.is(uid, '1000');
  assert.is(gid, '1001');
  assert.is(cwd, '/tmp');
  assert.is(foo, 'bar');
  // busybox config: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE, plus CAP_CHOWN (bit 0)
  assert.is(statusField(bnd ?? '', 'CapBnd'), '0000000020000421');
});

test('--process FILE: user, capabilities, rlimits and no_new_privs from the file', () => {
  const dir = t.tempDir();
  const file = join(dir, 'process.json');
  writeFileSync(file, JSON.stringify({
    user: { uid: 65534, gid: 65534, additionalGids: [5] },
    args: ['sh', '-c', 'cat /proc/self/status; ulimit -n'],
    env: ['PATH=/bin'],
    cwd: '/',
    // a non-root uid keeps capabilities across execve only through the ambient set
    capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 512, soft: 256 }],
    noNewPrivileges: true,
  }));
  const r = exec(['--process', file, id]);
  assert.is(r.status, 0, r.stderr);
  assert.is(statusField(r.stdout, 'Uid'), '65534\t65534\t65534\t65534');
  assert.is(statusField(r.stdout, 'Groups'), '5');
  assert.is(statusField(r.stdout, 'CapEff'), '0000000000000020');
  assert.is(statusField(r.stdout, 'CapBnd'), '0000000000000020');
  assert.is(statusField(r.stdout, 'NoNewPrivs'), '1');
  assert.is(r.stdout.trim().split('\n').pop(), '256');
});

test('default signal state and no stray descriptors, whatever the caller leaks', () => {
  const leak = openSync('/etc/hostname', 'r');
  try {
    const r = toyrunWithFds(t.root, ['exec', id, 'sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status; ls /proc/self/fd'], [leak, leak, leak]);
    assert.is(r.status, 0, r.stderr);
    // 0-2 and 3, the directory ls is reading
    assert.is(r.stdout, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n0\n1\n2\n3\n');
  } finally {
    closeSync(leak);
  }
});

test('--preserve-fds passes fds 3.. through', () => {
  const dir = t.tempDir();
  writeFileSync(join(dir, 'f'), 'preserved\n');
  const fd = openSync(join(dir, 'f'), 'r');
  try {
    const r = toyrunWithFds(t.root, ['exec', '--preserve-fds', '1', id, 'sh', '-c', 'cat <&3'], [fd]);
    assert.is(r.stdout, 'preserved\n', r.stderr);
  } finally {
    closeSync(fd);
  }
});

test('--detach --pid-file: returns at once, pid-file holds the decimal host PID, no newline', () => {
  const dir = t.tempDir();
  const pidFile = join(dir, 'exec.pid');
  const r = exec(['--detach', '--pid-file', pidFile, id, 'sleep', '1000']);
  assert.is(r.status, 0);
  assert.is(r.stdout + r.stderr, '', 'silent on success');
  const text = readFileSync(pidFile, 'utf8');
  assert.match(text, /^\d+$/);
  const pid = Number(text);
  assert.is(readlinkSync(`/proc/${pid}/ns/pid`), readlinkSync(`/proc/${initPid}/ns/pid`));
  assert.ok(JSON.parse(t.ok(['ps', '--format', 'json', id]).stdout).includes(pid));
  process.kill(pid, 'SIGKILL');
});

test('exec works with the Node 20 bundle too (only node: APIs and koffi)', () => {
  const node = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
  assert.ok(node, 'node is installed (.ci/run needs it for npm)');
  const r = sh(node as string, [join(REPO, 'dist', 'node', 'toyrun.js'), '--root', t.root, 'exec', id, 'sh', '-c', 'echo $$; exit 6'], { env: {}, cwd: '/' });
  assert.is(r.status, 6, r.stderr);
  assert.match(r.stdout, /^\d+\n$/);
});

test('the container\'s seccomp profile applies to exec\'d processes, with or without no_new_privs', () => {
  const sid = uniqueId('seccomp');
  const bundle = t.bundle((s) => {
    const p = s.process as NonNullable<typeof s.process>;
    p.args = ['sleep', '1000'];
    p.noNewPrivileges = false; // loading the filter then needs CAP_SYS_ADMIN, held only until the load
    s.linux = {
      ...s.linux,
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] },
    };
  });
  t.ok(['run', '--detach', '--bundle', bundle, sid]);
  try {
    for (const user of ['0:0', '1000:1000']) {
      const r = exec(['--user', user, sid, 'sh', '-c', 'grep -E "^(Seccomp|NoNewPrivs|CapEff):" /proc/self/status; mkdir /tmp/d; echo "mkdir=$?"']);
      assert.is(r.status, 0, r.stderr);
      assert.is(statusField(r.stdout, 'Seccomp'), '2');
      assert.is(statusField(r.stdout, 'NoNewPrivs'), '0');
      // root keeps the config's CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE; a non-root uid none; never CAP_SYS_ADMIN
      assert.is(statusField(r.stdout, 'CapEff'), user === '0:0' ? '0000000020000420' : '0000000000000000');
      assert.match(r.stdout, /mkdir=1/);
      assert.match(r.stderr, 'Operation not permitted');
    }
  } finally {
    t.run(['delete', '--force', sid]);
  }
  assert.equal(leftovers(t, sid), []);
});

test('a missing program fails with runc\'s texts and exit 255', () => {
  const a = exec([id, 'nonexistent-program']);
  assert.is(a.status, 255);
  assert.match(a.stderr, 'executable file not found in $PATH');
  const b = exec([id, '/nonexistent']);
  assert.is(b.status, 255);
  assert.match(b.stderr, 'no such file or directory');
  assert.is(JSON.parse(t.ok(['ps', '--format', 'json', id]).stdout).length, 1, 'no exec process left over');
});

test('--log with json format: exactly one error object per failure', () => {
  const dir = t.tempDir();
  const log = join(dir, 'log.json');
  const r = t.run(['--log-format', 'json', '--log', log, 'exec', id, '/nonexistent']);
  assert.is(r.status, 255);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.is(lines.length, 1);
  const obj = JSON.parse(lines[0] as string) as { level: string; msg: string };
  assert.is(obj.level, 'error');
  assert.match(obj.msg, /^exec failed: .*no such file or directory/);
  assert.is(r.stderr.trim(), obj.msg, 'stderr carries the bare message');
});

test('a bad --process file names the JSON path; nothing is started', () => {
  const dir = t.tempDir();
  const file = join(dir, 'process.json');
  writeFileSync(file, JSON.stringify({ args: 'sh', cwd: '/', user: { uid: 0, gid: 0 } }));
  const r = exec(['--process', file, id]);
  assert.is(r.status, 255);
  assert.match(r.stderr, '/args must be array');
  writeFileSync(file, JSON.stringify({ args: ['true'], cwd: '/', user: { uid: 0, gid: 0 }, apparmorProfile: 'toyrun-no-such-profile' }));
  const a = exec(['--process', file, id]);
  assert.is(a.status, 255);
  // the kernel's AppArmor is on in Debian's (the cgroup2 VM), off on the project machines
  assert.match(a.stderr, apparmorEnabled()
    ? '/apparmorProfile: AppArmor profile toyrun-no-such-profile is not loaded'
    : '/apparmorProfile: AppArmor is not available on this host');
  assert.is(JSON.parse(t.ok(['ps', '--format', 'json', id]).stdout).length, 1);
});

test('exec refuses what runc refuses', () => {
  assert.match(exec(['no-such-container', 'true']).stderr, 'does not exist');
  assert.match(exec([id]).stderr, 'args must not be empty');
  const tty = exec(['--tty', '--detach', id, 'sh']);
  assert.is(tty.status, 255);
  assert.match(tty.stderr, 'cannot allocate tty if toyrun will detach without setting console socket');
  const stoppedId = uniqueId('stopped');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['true'];
  });
  t.ok(['create', '--bundle', bundle, stoppedId], { stdio: 'ignore' });
  t.ok(['start', stoppedId]);
  for (let i = 0; i < 1000 && t.state(stoppedId).status !== 'stopped'; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  const r = exec([stoppedId, 'true']);
  assert.is(r.status, 255);
  assert.match(r.stderr, 'cannot exec in a stopped container');
  t.ok(['delete', stoppedId]);
  assert.equal(leftovers(t, stoppedId), []);
});

test('deleting the container leaves nothing behind', () => {
  t.ok(['delete', '--force', id]);
  assert.equal(leftovers(t, id), []);
  assert.not.ok(existsSync(join(t.root, id)));
  rmSync(join(t.root, id), { recursive: true, force: true });
});

test.run();
