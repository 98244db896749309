// Rootless podman 4.3 drives toyrun, then runc with the same script, beside the
// root block (podman.test.ts). An ordinary user made for this run (useradd, its
// own /etc/subuid and /etc/subgid ranges) runs podman: podman makes its user
// namespace with newuidmap/newgidmap and runs the runtime in it as root there
// (no cgroup it may write on a v1 host, a PID namespace it can't setns back to).
// The image is imported from the busybox rootfs as the root suite does: no
// registry is reachable. Everything is removed by the names made here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_ROOTFS, requireTool } from '../helpers';
import { ATTACH_LINGER, basicPodmanScenarios, CONTAINERS_CONF, IMAGE, printResults, registerScenarios, shellQuote, type Out, type Runtime, type Scenario } from './e2e';
import { addTestUser, asUser, privateTree, removeTestUser, removeTree, runtimeDir, subRangeFor, userDir, type TestUser } from '../rootless-user';
import * as libc from '../../src/linux/libc';

const test = suite('e2e podman rootless');
const PREFIX = 'podman rootless';

let user: TestUser | undefined;
let base = '';
let cli = '';
let env: Record<string, string> = {};
let cwd = '';
const names: string[] = [];
let n = 0;

function setup(): void {
  requireTool('/usr/bin/podman', 'podman');
  requireTool('/usr/bin/newuidmap', 'uidmap');
  requireTool('/usr/bin/setpriv', 'util-linux');
  user = addTestUser(`toype${process.pid % 100000}`, subRangeFor());
  base = mkdtempSync('/tmp/toyrun-e2e-rootless-');
  cli = privateTree(base, user).cli;
  const home = userDir(base, user, 'home-');
  cwd = userDir(base, user, 'cwd-');
  env = { HOME: home, XDG_RUNTIME_DIR: runtimeDir(user), CONTAINERS_CONF: userConf(base), PATH: '/usr/sbin:/usr/bin:/sbin:/bin', USER: user.name };
  // the busybox rootfs as an image of the user's own storage
  const tar = join(userDir(base, user, 'img-'), 'rootfs.tar');
  const t = asUser(user, ['/bin/tar', '-C', BUSYBOX_ROOTFS, '-cf', tar, '.'], env, cwd);
  assert.is(t.status, 0, t.stderr);
  const r = podmanRaw(['import', tar, IMAGE]);
  assert.is(r.status, 0, `podman import as ${user.name}: ${r.stderr}`);
}

/** The project's containers.conf with its default ulimits lowered to our own hard
 * limits: a user can't raise one (no CAP_SYS_RESOURCE over the host), and hosts
 * differ (a systemd service on the cgroup2 VM has a lower RLIMIT_NPROC). */
function userConf(dir: string): string {
  const hard = (what: string): number => {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(what));
    const v = line?.slice(26).trim().split(/\s+/)[1];
    return v === undefined || v === 'unlimited' ? Infinity : Number(v);
  };
  const nofile = Math.min(20000, hard('Max open files')), nproc = Math.min(32768, hard('Max processes'));
  const file = join(dir, 'containers.conf');
  writeFileSync(file, readFileSync(CONTAINERS_CONF, 'utf8').replace(/^default_ulimits = .*$/m, `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`), { mode: 0o644 });
  return file;
}

function runtimePath(rt: Runtime): string {
  return rt.name === 'toyrun' ? cli : rt.path;
}

function podmanRaw(args: string[]): Out {
  return asUser(user as TestUser, ['/usr/bin/podman', ...args], env, cwd);
}

function podman(rt: Runtime, args: string[]): Out {
  return podmanRaw(['--runtime', runtimePath(rt), ...args]);
}

function ok(rt: Runtime, args: string[]): Out {
  const r = podman(rt, args);
  assert.is(r.status, 0, `podman ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

function uniqueName(p: string): string {
  const name = `toyrun-e2e-rl-${p}-${process.pid}-${++n}`;
  names.push(name);
  return name;
}

const scenarios: Scenario[] = [
  ...basicPodmanScenarios(podman),
  {
    name: 'root inside is the user outside (uid_map)',
    fn: (rt) => {
      const r = ok(rt, ['run', '--rm', IMAGE, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
      const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
      assert.equal(lines[0], ['0']);
      assert.equal(lines[1], ['0', String(user!.uid), '1']);
      assert.equal(lines[2], ['1', String(user!.sub), '65536']);
    },
  },
  {
    name: 'run -d + exec + stop + rm',
    fn: (rt) => {
      const name = uniqueName('life');
      ok(rt, ['run', '-d', '--name', name, IMAGE, 'sleep', '1000']);
      assert.is(ok(rt, ['inspect', '-f', '{{.State.Status}}', name]).stdout.trim(), 'running');
      assert.is(ok(rt, ['exec', name, 'sh', '-c', 'echo $((6*7))']).stdout, '42\n');
      assert.is(podman(rt, ['exec', name, 'sh', '-c', 'exit 3']).status, 3);
      assert.match(ok(rt, ['exec', name, 'cat', '/proc/1/cmdline']).stdout, 'sleep');
      ok(rt, ['stop', '-t', '1', name]);
      assert.is(ok(rt, ['inspect', '-f', '{{.State.Status}}', name]).stdout.trim(), 'exited');
      ok(rt, ['rm', name]);
      assert.is.not(podman(rt, ['container', 'exists', name]).status, 0);
    },
  },
  {
    name: 'run -it (a terminal through conmon)',
    fn: (rt) => {
      const cmdline = shellQuote(['/usr/bin/podman', '--runtime', runtimePath(rt), 'run', '-it', '--rm', IMAGE, 'sh', '-c', `tty; echo in-pty${ATTACH_LINGER}`]);
      const r = asUser(user as TestUser, ['/usr/bin/script', '-qec', cmdline, '/dev/null'], env, cwd);
      assert.is(r.status, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /\/dev\/pts\/\d+\r?\n/, `output: ${JSON.stringify(r.stdout)}`);
      assert.match(r.stdout, 'in-pty', `output: ${JSON.stringify(r.stdout)}`);
    },
  },
];

registerScenarios(test, PREFIX, scenarios, setup);

test.after(() => {
  if (user) {
    for (const name of names) podmanRaw(['rm', '-f', '-t', '0', name]);
    podmanRaw(['system', 'reset', '--force']);
    // podman's pause process keeps its user namespace for the user's next commands: every
    // process left is this throwaway user's (made by this run), found by its uid
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (statSync(`/proc/${pid}`).uid === user.uid) libc.kill(Number(pid), 9);
      } catch {
        // gone already
      }
    }
    removeTree(env.XDG_RUNTIME_DIR ?? '');
    removeTree(base);
    removeTestUser(user);
  }
  printResults(`${PREFIX}:`);
});

test.run();
