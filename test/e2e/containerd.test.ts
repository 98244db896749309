// containerd 1.6 (its runc v2 shim, driven by ctr) runs toyrun, then runc with
// the same script. The containerd is private: its root, state and sockets live
// in a temp dir, and it is stopped by its PID when the suite ends.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processStartTime } from '../../src/container/store';
import { requireTool } from '../helpers';
import { CONTAINERS_CONF, ensurePodmanImage, IMAGE, inPty, printResults, run, registerScenarios, shellQuote, uniqueName, type Out, type Runtime, type Scenario } from './e2e';

const test = suite('e2e containerd');
const NS = 'toyrun-e2e';
const PATH_ENV = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';
let dir = '';
let sock = '';
let daemon: ChildProcess | undefined;
const live: { rt: Runtime; name: string }[] = [];

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function ctr(args: string[], opts: Parameters<typeof run>[2] = {}): Out {
  return run('/usr/bin/ctr', ['-a', sock, '-n', NS, ...args], opts);
}

function ok(args: string[]): Out {
  const r = ctr(args);
  assert.is(r.status, 0, `ctr ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

function runcRoot(rt: Runtime): string {
  return join(dir, `runc-root-${rt.name}`);
}

function runArgs(rt: Runtime, extra: string[], name: string, cmd: string[]): string[] {
  return ['run', ...extra, '--runc-binary', rt.path, '--runc-root', runcRoot(rt), '--env', PATH_ENV, IMAGE, name, ...cmd];
}

function taskStatus(name: string): string {
  const line = ok(['task', 'ls']).stdout.split('\n').find((l) => l.split(/\s+/)[0] === name);
  return line?.trim().split(/\s+/)[2] ?? 'none';
}

/** Wait for a state the daemon reaches asynchronously (bounded; not a timing assertion). */
function waitStatus(name: string, want: string): string {
  let s = taskStatus(name);
  for (let i = 0; i < 200 && s !== want; i++) {
    sleepMs(50);
    s = taskStatus(name);
  }
  return s;
}

function cleanupContainer(name: string): void {
  if (taskStatus(name) !== 'none') {
    ctr(['task', 'kill', '-s', 'SIGKILL', name]);
    waitStatus(name, 'STOPPED');
    ctr(['task', 'delete', name]);
  }
  ctr(['container', 'delete', name]);
}

function startContainerd(): void {
  requireTool('/usr/bin/containerd', 'containerd');
  requireTool('/usr/bin/ctr', 'containerd');
  dir = mkdtempSync('/tmp/toyrun-e2e-ctd-');
  sock = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(config, [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${sock}"`,
    '[ttrpc]',
    `  address = "${sock}.ttrpc"`,
    '',
  ].join('\n'));
  const log = openSync(join(dir, 'containerd.log'), 'a');
  daemon = spawn('/usr/bin/containerd', ['--config', config], { stdio: ['ignore', log, log] });
  closeSync(log);
  for (let i = 0; i < 200 && ctr(['version']).status !== 0; i++) sleepMs(50);
  assert.is(ctr(['version']).status, 0, 'private containerd did not come up');
}

function stopContainerd(): void {
  if (!daemon?.pid) return;
  try {
    process.kill(daemon.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  // gone or a zombie (reaped by the event loop once this hook returns)
  for (let i = 0; i < 200 && processStartTime(daemon.pid) !== undefined; i++) sleepMs(50);
  if (process.env.E2E_TIMES) process.stderr.write(`containerd ${daemon.pid} stopped\n`);
}

function setup(): void {
  startContainerd();
  // the image: built by podman from the busybox rootfs, saved, imported here
  const env = { ...process.env, CONTAINERS_CONF };
  ensurePodmanImage(env);
  const archive = join(dir, 'busybox.tar');
  const s = run('/usr/bin/podman', ['save', '--format', 'docker-archive', '-o', archive, IMAGE], { env });
  assert.is(s.status, 0, s.stderr);
  ok(['images', 'import', archive]);
}

/** One long-running container per runtime, used by the task scenarios in order. */
const taskName: Partial<Record<Runtime['name'], string>> = {};

const scenarios: Scenario[] = [
  {
    name: 'run --rm echo hi',
    fn: (rt) => {
      const r = ctr(runArgs(rt, ['--rm'], uniqueName('hi'), ['echo', 'hi']));
      assert.is(r.stdout, 'hi\n', r.stderr);
      assert.is(r.status, 0);
    },
  },
  {
    name: 'run --rm: exit code passthrough',
    fn: (rt) => assert.is(ctr(runArgs(rt, ['--rm'], uniqueName('rc'), ['sh', '-c', 'exit 7'])).status, 7),
  },
  {
    name: 'run -t (through script)',
    fn: (rt) => {
      const r = inPty(shellQuote(['/usr/bin/ctr', '-a', sock, '-n', NS, ...runArgs(rt, ['--rm', '-t'], uniqueName('tty'), ['sh', '-c', 'tty; echo rc=$?'])]), process.env);
      assert.match(r.stdout, /\/dev\/pts\/0\s+rc=0/, r.stdout + r.stderr);
    },
  },
  {
    name: 'run -t: an interactive shell (typed input, exit status)',
    fn: (rt) => {
      const cmd = shellQuote(['/usr/bin/ctr', '-a', sock, '-n', NS, ...runArgs(rt, ['--rm', '-t'], uniqueName('it'), ['sh'])]);
      const r = inPty(cmd, process.env, 'echo $((40+2))\nexit 3\n');
      assert.match(r.stdout.replace(/\r/g, ''), /\n42\n/, r.stdout + r.stderr);
      assert.is(r.status, 3);
    },
  },
  {
    name: 'run of a missing command fails with the errno text',
    fn: (rt) => {
      const n = uniqueName('miss');
      live.push({ rt, name: n });
      const r = ctr(runArgs(rt, ['--rm'], n, ['/nonexistent']));
      assert.is.not(r.status, 0);
      assert.match(r.stderr, /no such file or directory/);
    },
  },
  {
    name: 'run -d + task exec',
    fn: (rt) => {
      const n = uniqueName('task');
      taskName[rt.name] = n;
      live.push({ rt, name: n });
      ok(runArgs(rt, ['-d'], n, ['sleep', '1000']));
      assert.is(taskStatus(n), 'RUNNING');
      const r = ctr(['task', 'exec', '--exec-id', 'e1', n, 'sh', '-c', 'echo $((6*7)); exit 5']);
      assert.is(r.stdout, '42\n', r.stderr);
      assert.is(r.status, 5);
    },
  },
  {
    name: 'task exec -t (through script)',
    fn: (rt) => {
      const n = taskName[rt.name] as string;
      const r = inPty(shellQuote(['/usr/bin/ctr', '-a', sock, '-n', NS, 'task', 'exec', '-t', '--exec-id', 'e2', n, 'sh', '-c', 'tty; echo rc=$?']), process.env);
      assert.match(r.stdout, /\/dev\/pts\/\d+\s+rc=0/, r.stdout + r.stderr);
    },
  },
  {
    name: 'task exec of a missing command fails',
    fn: (rt) => {
      const r = ctr(['task', 'exec', '--exec-id', 'e3', taskName[rt.name] as string, '/nonexistent']);
      assert.is.not(r.status, 0);
      assert.match(r.stderr, /no such file or directory/);
    },
  },
  {
    name: 'task ps',
    fn: (rt) => {
      const n = taskName[rt.name] as string;
      const pid = ok(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(n + ' '))?.trim().split(/\s+/)[1];
      assert.ok(pid && /^\d+$/.test(pid));
      const pids = ok(['task', 'ps', n]).stdout.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
      assert.equal(pids, [pid]);
    },
  },
  {
    name: 'task pause / resume',
    needs: 'pause',
    fn: (rt) => {
      const n = taskName[rt.name] as string;
      ok(['task', 'pause', n]);
      assert.is(taskStatus(n), 'PAUSED');
      ok(['task', 'resume', n]);
      assert.is(taskStatus(n), 'RUNNING');
    },
  },
  {
    name: 'task kill',
    fn: (rt) => {
      const n = taskName[rt.name] as string;
      ok(['task', 'kill', '-s', 'SIGKILL', n]);
      assert.is(waitStatus(n, 'STOPPED'), 'STOPPED');
    },
  },
  {
    name: 'task delete (runtime state gone)',
    fn: (rt) => {
      const n = taskName[rt.name] as string;
      ok(['task', 'delete', n]);
      ok(['container', 'delete', n]);
      assert.not.ok(existsSync(join(runcRoot(rt), NS, n)), 'runtime state dir left behind');
    },
  },
];

registerScenarios(test, 'containerd', scenarios, setup);

test.after(() => {
  try {
    for (const { name } of live) cleanupContainer(name);
  } finally {
    stopContainerd();
    try {
      if (dir) rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`e2e: could not remove ${dir}: ${(e as Error).message}\n`);
    }
  }
  printResults('containerd:');
});

test.run();
