// Tests that attack: each reproduces the shape of a runc CVE against toyrun
// and checks, from inside a real container, that the attack finds nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { deadline, BUSYBOX_ROOTFS, FIXTURES, TOYRUN, Toyrun, leftovers, sh, statusField, uniqueId, type Result } from '../helpers';
import { CAPABILITY_NUMBERS } from '../../src/linux/capabilities';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('security');
const hostTargets: string[] = [];
test.after(() => {
  t.cleanup();
  for (const d of hostTargets) rmSync(d, { recursive: true, force: true });
});

/** Run toyrun with extra inherited fds (3, 4, ...), as a leaky caller would,
 * and its output on a file: a live container holding a pipe would keep spawnSync waiting. */
function runToFile(args: string[], extraFds: number[] = []): Result {
  const id = args[args.length - 1] as string;
  t.track(id);
  const out = join(t.tempDir('toyrun-sec-out-'), 'out');
  const fd = openSync(out, 'w');
  try {
    const r = spawnSync(TOYRUN, ['--root', t.root, ...args], { stdio: ['ignore', fd, fd, ...extraFds], env: {}, cwd: '/', timeout: deadline(60000) });
    const text = readFileSync(out, 'utf8');
    return { status: r.status ?? -1, stdout: text, stderr: text, signal: r.signal };
  } finally {
    closeSync(fd);
  }
}

function podmanCaps(): string[] {
  const pod = JSON.parse(readFileSync(join(FIXTURES, 'podman-config.json'), 'utf8')) as Spec;
  return pod.process?.capabilities?.bounding as string[];
}

// ---- CVE-2019-5736: overwriting the runtime binary through /proc/<pid>/exe ----

test('CVE-2019-5736: a container sharing the PID namespace cannot open the waiting init\'s binary, fds or memory', () => {
  const victim = uniqueId('victim');
  const bundle = t.bundle((s) => void (s.process!.args = ['sleep', '60']));
  const c = runToFile(['create', '--bundle', bundle, victim]);
  assert.is(c.status, 0, c.stderr);
  const initPid = t.state(victim).pid as number;
  // the init is still the runtime (the engine binary), blocked on exec.fifo
  assert.not.match(readFileSync(`/proc/${initPid}/cmdline`, 'utf8'), /sleep/);

  const caps = podmanCaps();
  // O_APPEND, never O_TRUNC: should the protection fail, nothing is written.
  const script = [
    'echo "comm=$(cat /proc/1/comm)"',
    'readlink /proc/1/exe; echo "readlink=$?"',
    'cat /proc/1/exe > /dev/null; echo "read=$?"',
    '( exec 3>>/proc/1/exe ) 2>/dev/null; echo "write=$?"',
    'readlink /proc/1/fd/0; echo "fds=$?"',
    'cat /proc/1/environ > /dev/null; echo "environ=$?"',
    'readlink /proc/1/cwd; echo "cwd=$?"',
    'ls /proc/1/root/ > /dev/null; echo "root=$?"',
  ].join('; ');
  const r = t.sh(script, (s) => {
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${initPid}/ns/pid` } : n));
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /comm=\S+/); // it does see the init as PID 1
  for (const what of ['readlink', 'read', 'write', 'fds', 'environ', 'cwd', 'root']) assert.match(r.stdout, new RegExp(`${what}=1`), what);
  assert.match(r.stderr, /Permission denied/);
  t.ok(['delete', '--force', victim]);
  assert.equal(leftovers(t, victim), []);
});

test('CVE-2019-5736: only the non-dumpable flag stands between a capable attacker and the init binary', () => {
  // The capability checks of ptrace_may_access already stop a weaker attacker
  // (previous test). Here they pass: the runtime runs without CAP_SYS_PTRACE
  // and the attacker holds every capability the init holds, so what refuses
  // the attacker is the init being non-dumpable until execve.
  const victim = uniqueId('victim-nd');
  const bundle = t.bundle((s) => void (s.process!.args = ['sleep', '60']));
  t.track(victim);
  // sh() collects output through files, so the container holds none of our pipes
  const c = sh('setpriv', ['--bounding-set', '-sys_ptrace', TOYRUN, '--root', t.root, 'create', '--bundle', bundle, victim], { env: {}, cwd: '/' });
  assert.is(c.status, 0, c.stderr);
  const initPid = t.state(victim).pid as number;
  const initCaps = statusField(readFileSync(`/proc/${initPid}/status`, 'utf8'), 'CapPrm');
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const caps = Object.entries(CAPABILITY_NUMBERS).filter(([, n]) => n <= last && (BigInt('0x' + initCaps) >> BigInt(n)) & 1n).map(([k]) => k);
  assert.not.ok(caps.includes('CAP_SYS_PTRACE'));

  const r = t.sh('readlink /proc/1/exe; echo "readlink=$?"; cat /proc/1/exe > /dev/null; echo "read=$?"; readlink /proc/1/fd/0; echo "fds=$?"', (s) => {
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${initPid}/ns/pid` } : n));
  });
  assert.is(r.status, 0, r.stderr);
  for (const what of ['readlink', 'read', 'fds']) assert.match(r.stdout, new RegExp(`${what}=1`), `${what}: ${r.stdout}`);
  assert.match(r.stderr, /Permission denied/);
  t.ok(['delete', '--force', victim]);
  assert.equal(leftovers(t, victim), []);
});

// ---- CVE-2021-30465: mount destinations that are symlinks out of the rootfs ----

function rootfsCopy(): string {
  const dir = join(t.tempDir('toyrun-sec-rootfs-'), 'rootfs');
  const r = sh('cp', ['-a', BUSYBOX_ROOTFS, dir]);
  assert.is(r.status, 0, r.stderr);
  return dir;
}

test('CVE-2021-30465: a mount under a symlinked /etc (-> /tmp/host-target) lands inside the rootfs', () => {
  const target = `/tmp/host-target-${process.pid}`;
  hostTargets.push(target);
  mkdirSync(target, { recursive: true });
  const rootfs = rootfsCopy();
  rmSync(join(rootfs, 'etc'), { recursive: true });
  symlinkSync(target, join(rootfs, 'etc')); // absolute: means <rootfs>/tmp/host-target-N inside
  symlinkSync(`../../../../../../../../..${target}`, join(rootfs, 'up')); // relative, climbing past /
  const hostSrc = t.tempDir('toyrun-sec-src-');
  const id = uniqueId('symlink');
  const bundle = t.bundle((s) => {
    s.root = { path: rootfs };
    s.process!.args = ['sh', '-c', 'grep -E "/host-target" /proc/self/mountinfo'];
    s.mounts = (s.mounts ?? []).filter((m) => m.destination !== '/tmp');
    s.mounts.push(
      { destination: '/etc/evil-tmpfs', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/etc/evil-bind', type: 'bind', source: hostSrc, options: ['bind'] },
      { destination: '/up/evil-up', type: 'tmpfs', source: 'tmpfs' },
      { destination: `/../../../..${target}/evil-dotdot`, type: 'tmpfs', source: 'tmpfs' },
    );
  });
  const r = t.run(['run', '--bundle', bundle, id]);
  assert.is(r.status, 0, r.stderr);
  // inside, the four mounts are where the container's own resolution puts them
  for (const m of ['evil-tmpfs', 'evil-bind', 'evil-up', 'evil-dotdot']) assert.match(r.stdout, new RegExp(` ${target}/${m} `), m);
  // the host path was never touched, and the host has no such mount
  assert.equal(readdirSync(target), []);
  assert.not.match(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(target));
  for (const m of ['evil-tmpfs', 'evil-bind', 'evil-up', 'evil-dotdot']) assert.ok(existsSync(join(rootfs, target, m)), m);
  assert.equal(leftovers(t, id), []);
});

test('CVE-2021-30465: racing /etc between a directory and a symlink to the host never mounts on the host', () => {
  const target = `/tmp/host-target-race-${process.pid}`;
  hostTargets.push(target);
  mkdirSync(target, { recursive: true });
  const rootfs = rootfsCopy();
  rmSync(join(rootfs, 'etc'), { recursive: true });
  // flip <rootfs>/etc between a real directory and a symlink to the host path while containers are created
  const flipper = spawn('/bin/sh', ['-c', `cd ${rootfs} && while :; do mkdir etc 2>/dev/null; rm -rf etc; ln -s ${target} etc 2>/dev/null; rm -f etc; done`], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 25; i++) {
      const id = uniqueId('race');
      const bundle = t.bundle((s) => {
        s.root = { path: rootfs };
        s.process!.args = ['true'];
        s.mounts = (s.mounts ?? []).filter((m) => m.destination !== '/tmp');
        s.mounts.push({ destination: '/etc/raced', type: 'tmpfs', source: 'tmpfs' });
      });
      t.run(['run', '--bundle', bundle, id]); // may fail when /etc vanishes mid-way: that is fine
      assert.equal(leftovers(t, id), [], id);
    }
  } finally {
    flipper.kill('SIGKILL');
  }
  assert.equal(readdirSync(target), []);
  assert.not.match(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(target));
});

// ---- CVE-2024-21626: runtime fds leaking into the container -----------------

test('CVE-2024-21626: only 0-2 and the --preserve-fds range reach the container, whatever toyrun inherited', () => {
  const dirFd = openSync('/etc', 'r'); // a host directory: the dangerous kind
  const fileFd = openSync('/etc/hostname', 'r');
  try {
    const id = uniqueId('fds');
    // ls is the container's process itself: its own directory fd is the one above the range
    const bundle = t.bundle((s) => void (s.process!.args = ['ls', '-l', '/proc/self/fd']));
    // toyrun gets a file on fd 3 and a host directory on fds 4-6; only fd 3 is preserved
    const r = runToFile(['run', '--preserve-fds', '1', '--bundle', bundle, id], [fileFd, dirFd, dirFd, dirFd]);
    assert.is(r.status, 0, r.stdout);
    const links = Object.fromEntries(
      [...r.stdout.matchAll(/ (\d+)(?: -> (\S+))?$/gm)].map((m) => [m[1] as string, m[2] ?? '']),
    );
    assert.equal(Object.keys(links).sort(), ['0', '1', '2', '3', '4']);
    assert.is(links['3'], '/etc/hostname');
    assert.is(links['4'], ''); // ls's own opendir of /proc/self/fd, gone by the time it reads the link
    assert.equal(leftovers(t, id), []);

    // and a started container's process holds nothing of the runtime's
    const id2 = uniqueId('fds-created');
    const bundle2 = t.bundle((s) => void (s.process!.args = ['sleep', '60']));
    const c = runToFile(['create', '--bundle', bundle2, id2], [fileFd, dirFd]);
    assert.is(c.status, 0, c.stderr);
    t.ok(['start', id2]);
    const pid = t.state(id2).pid as number;
    assert.equal(readdirSync(`/proc/${pid}/fd`).sort(), ['0', '1', '2']);
    t.ok(['delete', '--force', id2]);
  } finally {
    closeSync(dirFd);
    closeSync(fileFd);
  }
});

test('CVE-2024-21626: a cwd of /proc/self/fd/N never lands outside the container', () => {
  const rootfs = rootfsCopy(); // creating the cwd may add directories to it
  for (let n = 3; n <= 16; n++) {
    const id = uniqueId(`cwd${n}`);
    const bundle = t.bundle((s) => {
      s.root = { path: rootfs };
      s.process!.cwd = `/proc/self/fd/${n}`;
      s.process!.args = ['sh', '-c', 'pwd; ls ..'];
    });
    const r = t.run(['run', '--bundle', bundle, id]);
    if (r.status === 0) {
      // allowed only if the kernel places it inside our root
      assert.match(r.stdout, /^\//, `fd ${n}: ${r.stdout}`);
      assert.not.match(r.stdout, /\(unreachable\)/);
    } else {
      assert.match(r.stderr, /unable to start container process/, `fd ${n}`);
    }
    assert.equal(leftovers(t, id), [], `fd ${n}`);
  }
});

test('CVE-2024-21626: a cwd naming one of the runtime\'s fds (/proc/self/fd/N) is refused at create', () => {
  // The init holds an O_PATH fd of <root>/<id> until start (runc leaked a cgroup
  // dir fd the same way). Creating the cwd refuses the magic link; chdir'ing
  // anyway would be caught by the getcwd check.
  const rootfs = rootfsCopy();
  for (let n = 3; n <= 16; n++) {
    const id = uniqueId(`fdcwd${n}`);
    const bundle = t.bundle((s) => {
      s.root = { path: rootfs };
      s.process!.cwd = `/proc/self/fd/${n}`;
    });
    const r = t.run(['create', '--bundle', bundle, id]);
    assert.is.not(r.status, 0, `fd ${n}`);
    assert.match(r.stderr, /\((ELOOP|ENOENT)\)|resolves outside the container root/, `fd ${n}: ${r.stderr}`);
    assert.equal(leftovers(t, id), [], `fd ${n}`);
  }
  assert.equal(readdirSync(join(rootfs, 'run')), []); // nothing named after host paths was created
});

// ---- CVE-2022-29162: inheritable capabilities nobody asked for ----------------

test('CVE-2022-29162: no inheritable or ambient capabilities unless asked; a non-root child keeps nothing', () => {
  const caps = podmanCaps();
  const root = t.sh('cat /proc/self/status', (s) => {
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
  });
  assert.is(root.status, 0, root.stderr);
  assert.is(statusField(root.stdout, 'CapInh'), '0000000000000000');
  assert.is(statusField(root.stdout, 'CapAmb'), '0000000000000000');

  // a non-root process, and the programs it execs, hold no capabilities at all
  const user = t.sh('sh -c "cat /proc/self/status"', (s) => {
    s.process!.user = { uid: 1000, gid: 1000 };
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
  });
  assert.is(user.status, 0, user.stderr);
  for (const f of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.is(statusField(user.stdout, f), '0000000000000000', f);
});

test.run();
