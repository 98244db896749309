// The runtime CLI contract podman (conmon) and containerd (go-runc) rely on,
// item by item from the observed runtime CLI contract (what podman and containerd call): pid-file format,
// one JSON error per failure in --log, silence on success, the error words
// callers match, ps JSON, --version, empty env / any cwd, relative root.path,
// stray fds, and the container staying a child of the caller's subreaper.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../../src/linux/libc';
import { toyrunWithFds } from '../spawn-fds';
import { BUSYBOX_ROOTFS, TOYRUN, Toyrun, busyboxSpec, leftovers, statusField, uniqueId } from '../helpers';

const t = new Toyrun('contract');
test.after(() => t.cleanup());

function sleeper(): string {
  return t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['sleep', '1000'];
  });
}

/** Exit status and everything printed (t.run collects output through files). */
function quiet(args: string[]): { status: number; output: string } {
  const r = t.run(args);
  return { status: r.status, output: r.stdout + r.stderr };
}

test('create/start/kill/delete are silent on success; pid-file is the decimal PID without newline', () => {
  const id = uniqueId('quiet');
  const pidFile = join(t.tempDir(), 'init.pid');
  for (const args of [['create', '--bundle', sleeper(), '--pid-file', pidFile, id], ['start', id], ['kill', id, '9']]) {
    const r = quiet(args);
    assert.is(r.status, 0, r.output);
    assert.is(r.output, '', `toyrun ${args[0]} printed something`);
    if (args[0] === 'create') assert.is(readFileSync(pidFile, 'utf8'), String(t.state(id).pid));
  }
  for (let i = 0; i < 1000 && t.state(id).status !== 'stopped'; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  const k = t.run(['kill', id, '15']);
  assert.is(k.status, 1);
  assert.match(k.stderr, 'container not running');
  const d = quiet(['delete', id]);
  assert.is(d.output, '');
  assert.equal(leftovers(t, id), []);
});

test('unknown ids: state and delete say "does not exist"; delete --force is silent success', () => {
  for (const cmd of ['state', 'delete', 'kill']) {
    const r = t.run([cmd, 'no-such-id']);
    assert.is(r.status, 1);
    assert.match(r.stderr, 'does not exist');
  }
  const f = t.run(['delete', '--force', 'no-such-id']);
  assert.is(f.status, 0);
  assert.is(f.stdout + f.stderr, '');
});

test('--log --log-format json: one error object per failure, bare message on stderr', () => {
  const log = join(t.tempDir(), 'oci-log');
  const id = uniqueId('badcmd');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['/nonexistent'];
  });
  const r = t.run(['--log-format=json', '--log', log, 'create', '--bundle', bundle, id]);
  assert.is(r.status, 1);
  const text = readFileSync(log, 'utf8');
  const obj = JSON.parse(text) as { level: string; msg: string; time: string }; // the whole file is ONE object (podman)
  assert.is(obj.level, 'error');
  assert.match(obj.msg, 'no such file or directory');
  assert.is(r.stderr, obj.msg + '\n');
  assert.equal(leftovers(t, id), []);
});

test('ps --format json prints a JSON array only; --version exits 0', () => {
  const id = uniqueId('ps');
  t.ok(['run', '--detach', '--bundle', sleeper(), id], { stdio: 'ignore' });
  const r = t.run(['ps', '--format', 'json', id]);
  assert.is(r.stdout, `[${t.state(id).pid}]\n`);
  assert.is(r.stderr, '');
  t.ok(['delete', '--force', id]);
  const v = t.run(['--version']);
  assert.is(v.status, 0);
  assert.match(v.stdout, /^toyrun version \S+\nspec: \S+\n/);
});

test('empty environment, arbitrary cwd, relative --bundle and relative root.path', () => {
  const parent = t.tempDir();
  const bundle = join(parent, 'b');
  mkdirSync(bundle);
  symlinkSync(BUSYBOX_ROOTFS, join(bundle, 'rootfs'));
  const spec = busyboxSpec();
  spec.root = { path: 'rootfs', readonly: true };
  (spec.process as NonNullable<typeof spec.process>).args = ['cat', '/etc/hostname'];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const id = uniqueId('rel');
  const r = t.run(['run', '--bundle', 'b', id], { cwd: parent, env: {} });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'toyrun\n');
  assert.equal(leftovers(t, id), []);
});

test('fds the caller leaks (containerd\'s socket on fd 3) never reach the container', () => {
  const id = uniqueId('fds');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['ls', '/proc/self/fd'];
  });
  const leak = openSync('/etc/hostname', 'r');
  try {
    const r = toyrunWithFds(t.root, ['run', '--bundle', bundle, id], [leak, leak, leak]);
    assert.is(r.stdout, '0\n1\n2\n3\n', r.stderr); // 3: the directory ls reads
  } finally {
    closeSync(leak);
  }
});

test('signals the caller ignores (conmon ignores SIGPIPE) are default again in the container', () => {
  const id = uniqueId('sigs');
  t.track(id);
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status'];
  });
  const r = spawnSync('/bin/sh', ['-c', `trap '' PIPE HUP USR1; exec ${TOYRUN} --root ${t.root} run --bundle ${bundle} ${id}`], { encoding: 'utf8', env: {} });
  assert.is(r.stdout, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n', r.stderr);
  assert.equal(leftovers(t, id), []);
});

test('the container process stays a child of the caller\'s subreaper after create exits', () => {
  const PR_SET_CHILD_SUBREAPER = 36;
  libc.prctl(PR_SET_CHILD_SUBREAPER, 1);
  const id = uniqueId('reaper');
  try {
    const r = spawnSync(TOYRUN, ['--root', t.root, 'create', '--bundle', sleeper(), id], { stdio: 'ignore', env: {} });
    t.track(id);
    assert.is(r.status, 0);
    const pid = t.state(id).pid as number;
    assert.is(statusField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'PPid'), String(process.pid));
    // so does a process `exec --detach` started
    const pidFile = join(t.tempDir(), 'exec.pid');
    const e = spawnSync(TOYRUN, ['--root', t.root, 'exec', '--detach', '--pid-file', pidFile, id, 'sleep', '1000'], { stdio: 'ignore', env: {} });
    assert.is(e.status, 0);
    const execPid = Number(readFileSync(pidFile, 'utf8'));
    assert.is(statusField(readFileSync(`/proc/${execPid}/status`, 'utf8'), 'PPid'), String(process.pid));
    t.ok(['delete', '--force', id]);
    // ours to reap now; the exec'd one first: a dying PID 1 waits until every
    // other process of its namespace is reaped (zap_pid_ns_processes)
    libc.waitpid(execPid, 0);
    libc.waitpid(pid, 0);
  } finally {
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  assert.equal(leftovers(t, id), []);
});

test.run();
