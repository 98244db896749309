// podman 4.3 (through conmon) drives toyrun, then runc with the same script.
// Every container gets a unique name and is removed by it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { apparmorEnabled } from '../../src/linux/lsm';
import {
  ATTACH_LINGER, basicPodmanScenarios, CONTAINERS_CONF, ensurePodmanImage, IMAGE, inPty, printResults, run, registerScenarios, shellQuote,
  toyrunHasSeccomp, uniqueName, type Out, type Runtime, type Scenario,
} from './e2e';

const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF };
// podman's cwd is the runtime's (conmon passes it on), and conmon drops an "oom"
// file into it after an OOM kill: run everything from a scratch directory
const cwd = mkdtempSync('/tmp/toyrun-e2e-cwd-');
const test = suite('e2e podman');
/** The container's memory limit as it reads it: v1 hierarchy or unified cgroup2 (its own cgroup namespace). */
const MEMORY_LIMIT = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max';
const names: string[] = [];
const toyrunSeccomp = toyrunHasSeccomp();

function podmanArgs(rt: Runtime, args: string[]): string[] {
  // without seccomp support on this build, the default profile would be refused
  const cmd = args[0];
  const extra = rt.name === 'toyrun' && !toyrunSeccomp && (cmd === 'run' || cmd === 'create') ? ['--security-opt', 'seccomp=unconfined'] : [];
  return ['--runtime', rt.path, '--cgroup-manager', 'cgroupfs', ...(cmd ? [cmd, ...extra, ...args.slice(1)] : [])];
}

function podman(rt: Runtime, args: string[], opts: Parameters<typeof run>[2] = {}): Out {
  return run('/usr/bin/podman', podmanArgs(rt, args), { env, cwd, ...opts });
}

function ok(rt: Runtime, args: string[]): Out {
  const r = podman(rt, args);
  assert.is(r.status, 0, `podman ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

function detached(rt: Runtime, name: string): void {
  names.push(name);
  ok(rt, ['run', '-d', '--name', name, IMAGE, 'sleep', '1000']);
}

function status(rt: Runtime, name: string): string {
  return ok(rt, ['inspect', '-f', '{{.State.Status}}', name]).stdout.trim();
}

function remove(rt: Runtime, name: string): void {
  podman(rt, ['rm', '-f', '-t', '0', name]);
}

const scenarios: Scenario[] = [
  {
    name: 'info shows the runtime version (--version)',
    fn: (rt) => {
      const v = ok(rt, ['info', '--format', '{{.Host.OCIRuntime.Version}}']).stdout;
      assert.match(v, new RegExp(`^${rt.name} version \\S+`));
    },
  },
  ...basicPodmanScenarios(podman),
  {
    name: 'run -d + exec + stop + rm',
    fn: (rt) => {
      const n = uniqueName('life');
      detached(rt, n);
      try {
        assert.is(status(rt, n), 'running');
        assert.is(ok(rt, ['exec', n, 'sh', '-c', 'echo $((6*7))']).stdout, '42\n');
        assert.is(podman(rt, ['exec', n, 'sh', '-c', 'exit 3']).status, 3);
        assert.match(ok(rt, ['exec', n, 'cat', '/proc/1/cmdline']).stdout, 'sleep');
        ok(rt, ['stop', '-t', '1', n]);
        assert.is(status(rt, n), 'exited');
        ok(rt, ['rm', n]);
        assert.is.not(podman(rt, ['container', 'exists', n]).status, 0);
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    // podman confines with its containers-default profile where the kernel has
    // AppArmor and apparmor_parser is installed (a stock Debian 12), and names none elsewhere
    name: 'AppArmor: podman\'s profile confines run and exec, or none is asked for',
    fn: (rt) => {
      const n = uniqueName('aa');
      detached(rt, n);
      try {
        const profile = ok(rt, ['inspect', '-f', '{{.AppArmorProfile}}', n]).stdout.trim();
        if (!apparmorEnabled() || !existsSync('/sbin/apparmor_parser')) {
          assert.is(profile, '');
          return;
        }
        assert.match(profile, /^containers-default-/);
        for (const out of [ok(rt, ['exec', n, 'cat', '/proc/1/attr/current']), ok(rt, ['exec', n, 'cat', '/proc/self/attr/current'])]) {
          assert.is(out.stdout.trim(), `${profile} (enforce)`);
        }
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    name: 'exec of a missing command → 127',
    fn: (rt) => {
      const n = uniqueName('execmiss');
      detached(rt, n);
      try {
        const r = podman(rt, ['exec', n, '/nonexistent']);
        assert.is(r.status, 127, r.stderr);
        assert.match(r.stderr, /no such file or directory/);
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    name: 'exec -t (through script)',
    fn: (rt) => {
      const n = uniqueName('exect');
      detached(rt, n);
      try {
        const r = inPty(shellQuote(['/usr/bin/podman', ...podmanArgs(rt, ['exec', '-t', n, 'sh', '-c', 'tty; echo rc=$?'])]), env, undefined, cwd);
        assert.match(r.stdout, /\/dev\/pts\/\d+\s+rc=0/, r.stdout + r.stderr);
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    name: 'run -t (through script)',
    fn: (rt) => {
      const r = inPty(shellQuote(['/usr/bin/podman', ...podmanArgs(rt, ['run', '--rm', '-t', IMAGE, 'sh', '-c', `tty; stty size${ATTACH_LINGER}`])]), env, undefined, cwd);
      assert.match(r.stdout, /\/dev\/pts\/0\s/, r.stdout + r.stderr);
      assert.is(r.status, 0);
    },
  },
  {
    name: 'run -it: an interactive shell (typed input, exit status)',
    fn: (rt) => {
      const r = inPty(shellQuote(['/usr/bin/podman', ...podmanArgs(rt, ['run', '--rm', '-it', IMAGE, 'sh'])]), env, 'echo $((40+2))\nexit 3\n', cwd);
      assert.match(r.stdout.replace(/\r/g, ''), /\n42\n/, r.stdout + r.stderr);
      assert.is(r.status, 3);
    },
  },
  {
    name: 'pause / unpause',
    needs: 'pause',
    fn: (rt) => {
      const n = uniqueName('pause');
      detached(rt, n);
      try {
        ok(rt, ['pause', n]);
        assert.is(status(rt, n), 'paused');
        ok(rt, ['unpause', n]);
        assert.is(status(rt, n), 'running');
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    name: 'kill',
    fn: (rt) => {
      const n = uniqueName('kill');
      detached(rt, n);
      try {
        ok(rt, ['kill', n]);
        assert.is(ok(rt, ['wait', n]).stdout.trim(), '137');
        assert.is(status(rt, n), 'exited');
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    name: 'update --memory',
    needs: 'update',
    fn: (rt) => {
      const n = uniqueName('update');
      detached(rt, n);
      try {
        ok(rt, ['update', '--memory', '64m', n]);
        assert.is(ok(rt, ['exec', n, 'sh', '-c', MEMORY_LIMIT]).stdout.trim(), String(64 << 20));
      } finally {
        remove(rt, n);
      }
    },
  },
  {
    name: '--memory limit enforced (OOM kill)',
    fn: (rt) => {
      const script = `${MEMORY_LIMIT}; head -c 100m /dev/zero | tail`;
      const r = podman(rt, ['run', '--rm', '--memory', '32m', '--memory-swap', '32m', IMAGE, 'sh', '-c', script]);
      assert.is(r.stdout.trim(), String(32 << 20), r.stderr);
      assert.is(r.status, 137, r.stderr);
    },
  },
  {
    name: '--read-only',
    fn: (rt) => {
      const r = podman(rt, ['run', '--rm', '--read-only', IMAGE, 'sh', '-c', 'touch /x || exit 9']);
      assert.is(r.status, 9);
      assert.match(r.stderr, /Read-only file system/);
    },
  },
  {
    name: '--cap-drop ALL',
    fn: (rt) => {
      const r = podman(rt, ['run', '--rm', '--cap-drop', 'ALL', IMAGE, 'grep', '^Cap[EPB]', '/proc/self/status']);
      assert.is(r.stdout, 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n', r.stderr);
    },
  },
  {
    name: '--network=none',
    fn: (rt) => {
      const r = podman(rt, ['run', '--rm', '--network=none', IMAGE, 'cat', '/proc/net/dev']);
      const ifaces = r.stdout.split('\n').filter((l) => l.includes(':')).map((l) => l.split(':')[0]?.trim());
      assert.equal(ifaces, ['lo'], r.stdout + r.stderr);
    },
  },
  {
    name: '--preserve-fds 1',
    fn: (rt) => {
      const file = `/tmp/${uniqueName('fd')}`;
      writeFileSync(file, 'preserved\n');
      const fd = openSync(file, 'r');
      try {
        const r = podman(rt, ['run', '--rm', '--preserve-fds', '1', IMAGE, 'sh', '-c', 'cat <&3; ls /proc/self/fd'], {
          stdio: ['ignore', 'pipe', 'pipe', fd],
        });
        // 0-2, the preserved 3, and 4: the directory ls itself is reading
        assert.is(r.stdout, 'preserved\n0\n1\n2\n3\n4\n', r.stderr);
      } finally {
        closeSync(fd);
        rmSync(file, { force: true });
      }
    },
  },
  {
    name: 'missing command → 127 + message',
    fn: (rt) => {
      const r = podman(rt, ['run', '--rm', IMAGE, '/nonexistent']);
      assert.is(r.status, 127, r.stderr);
      assert.match(r.stderr, /no such file or directory/);
    },
  },
  {
    name: 'not executable → 126 + message',
    fn: (rt) => {
      const r = podman(rt, ['run', '--rm', IMAGE, '/etc/passwd']);
      assert.is(r.status, 126, r.stderr);
      assert.match(r.stderr, /permission denied/);
    },
  },
];

registerScenarios(test, 'podman', scenarios, () => ensurePodmanImage(env));

test.after(() => {
  for (const n of names) run('/usr/bin/podman', ['rm', '-f', '-t', '0', n], { env, cwd });
  rmSync(cwd, { recursive: true, force: true });
  printResults('podman:');
});

test.run();
