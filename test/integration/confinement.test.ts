// Confinement, each item checked from inside a real container: capabilities,
// seccomp, masked and read-only paths, sysctl, OOM score, user and groups,
// no_new_privs, and the LSM fields this host cannot honour.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BUSYBOX_ROOTFS, FIXTURES, REPO, sh, TOYRUN, Toyrun, leftovers, statusField, uniqueId } from '../helpers';
import * as libc from '../../src/linux/libc';
import { listenUnix } from '../../src/linux/scmrights';
import { CAPABILITY_NUMBERS } from '../../src/linux/capabilities';
import { apparmorEnabled, selinuxEnabled } from '../../src/linux/lsm';
import type { Process, Seccomp, Spec } from '../../src/spec/types';

const t = new Toyrun('confinement');
test.after(() => t.cleanup());

function proc(s: Spec): Process {
  return s.process as Process;
}

/** The Cap* line /proc/self/status would show for these names. */
function capHex(names: string[]): string {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPABILITY_NUMBERS[n] as number);
  return m.toString(16).padStart(16, '0');
}

const STATUS = 'cat /proc/self/status';

function runStatus(fn: (s: Spec) => void): string {
  const r = t.sh(STATUS, fn);
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

/** create must fail with `expect` in its error, and leave nothing behind. */
function assertRefused(fn: (s: Spec) => void, expect: RegExp): string {
  const id = uniqueId('refused');
  const bundle = t.bundle(fn);
  const r = t.run(['create', '--bundle', bundle, id]);
  assert.is.not(r.status, 0, 'create should fail');
  assert.match(r.stderr, expect);
  assert.equal(leftovers(t, id), []);
  return r.stderr;
}

// ---- capabilities ----------------------------------------------------------

test('capabilities: all five sets exactly as asked (root)', () => {
  const set = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID'];
  const out = runStatus((s) => {
    proc(s).capabilities = { bounding: set, effective: set, permitted: set, inheritable: set, ambient: set };
  });
  for (const f of ['CapBnd', 'CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.is(statusField(out, f), capHex(set), f);
});

test('capabilities: distinct sets survive the switch to a non-root uid (keep-caps, ambient)', () => {
  const bounding = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_NET_RAW'];
  const inheritable = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const ambient = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const out = runStatus((s) => {
    proc(s).user = { uid: 1000, gid: 1000 };
    proc(s).capabilities = { bounding, effective: inheritable, permitted: inheritable, inheritable, ambient };
  });
  assert.is(statusField(out, 'Uid'), '1000\t1000\t1000\t1000');
  assert.is(statusField(out, 'CapBnd'), capHex(bounding));
  assert.is(statusField(out, 'CapInh'), capHex(inheritable));
  // execve as non-root: permitted and effective become exactly the ambient set
  assert.is(statusField(out, 'CapAmb'), capHex(ambient));
  assert.is(statusField(out, 'CapPrm'), capHex(ambient));
  assert.is(statusField(out, 'CapEff'), capHex(ambient));
});

test('capabilities: a non-root process without ambient capabilities has none', () => {
  const out = runStatus((s) => {
    proc(s).user = { uid: 1000, gid: 1000 };
    proc(s).capabilities = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
  });
  assert.is(statusField(out, 'CapBnd'), capHex(['CAP_KILL']));
  for (const f of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.is(statusField(out, f), capHex([]), f);
});

test('capabilities: an unknown name is a validation error naming the JSON path', () => {
  assertRefused((s) => {
    proc(s).capabilities = { bounding: ['CAP_KILL', 'CAP_MAKE_COFFEE'] };
  }, /\/process\/capabilities\/bounding\/1 must be one of/);
});

test('capabilities: names outside the runtime\'s own bounding set are reported at create, not dropped', () => {
  const own = BigInt('0x' + statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd'));
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const unheld = Object.entries(CAPABILITY_NUMBERS).filter(([, n]) => n <= last && ((own >> BigInt(n)) & 1n) === 0n).map(([k]) => k);
  const caps = (s: Spec, name: string): void => {
    proc(s).capabilities = { bounding: ['CAP_KILL', name], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
  };
  if (unheld.length > 0) {
    // this machine runs without CAP_SYS_RESOURCE (see kernel-from-javascript.md)
    const name = unheld[0] as string;
    assertRefused((s) => caps(s, name), new RegExp(`/process/capabilities: not in toyrun's own bounding set, cannot be granted: ${name}`));
    return;
  }
  // a host that grants every capability (e.g. a default Debian 12): toyrun runs with one dropped from its bounding set
  const id = uniqueId('refused');
  const r = sh('setpriv', ['--bounding-set', '-sys_resource', '--', TOYRUN, '--root', t.root, 'create', '--bundle', t.bundle((s) => caps(s, 'CAP_SYS_RESOURCE')), id], { env: {}, cwd: '/' });
  assert.is.not(r.status, 0, 'create should fail');
  assert.match(r.stderr, /\/process\/capabilities: not in toyrun's own bounding set, cannot be granted: CAP_SYS_RESOURCE/);
  assert.equal(leftovers(t, id), []);
});

// ---- seccomp ---------------------------------------------------------------

const denyMkdir: Seccomp = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
  syscalls: [
    { names: ['mkdir', 'mkdirat', 'no_such_syscall_here'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
  ],
};

test('seccomp: a profile denying mkdir with EPERM is in force inside (Seccomp: 2)', () => {
  const r = t.sh(`${STATUS}; mkdir /tmp/denied; echo "mkdir=$?"; touch /tmp/file && echo touch-ok`, (s) => {
    s.linux = { ...s.linux, seccomp: denyMkdir };
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(statusField(r.stdout, 'Seccomp'), '2');
  assert.is(statusField(r.stdout, 'NoNewPrivs'), '1');
  assert.match(r.stdout, /mkdir=1/);
  assert.match(r.stderr, /mkdir: can't create directory '\/tmp\/denied': Operation not permitted/);
  assert.match(r.stdout, /touch-ok/); // unknown syscall names are skipped, the rest applies
});

test('seccomp: the compiled program is kept in <root>/.seccomp and reused; a damaged file is recompiled', () => {
  const cache = join(t.root, '.seccomp');
  rmSync(cache, { recursive: true, force: true });
  const check = (): void => {
    const r = t.sh(`${STATUS}; mkdir /tmp/denied; echo "mkdir=$?"; touch /tmp/file && echo touch-ok`, (s) => {
      s.linux = { ...s.linux, seccomp: denyMkdir };
    });
    assert.is(r.status, 0, r.stderr);
    assert.is(statusField(r.stdout, 'Seccomp'), '2');
    assert.match(r.stdout, /mkdir=1/);
    assert.match(r.stdout, /touch-ok/);
  };
  check(); // compiled and stored
  const files = readdirSync(cache);
  assert.is(files.length, 1, files.join(' '));
  const file = join(cache, files[0] as string);
  const stored = readFileSync(file);
  check(); // loaded from the cache
  assert.equal(readFileSync(file), stored);
  writeFileSync(file, stored.subarray(0, stored.length - 3)); // not whole instructions: ignored
  check();
  assert.equal(readFileSync(file), stored, 'recompiled and stored again');
  // exec of a container with the profile uses the same program
  const id = uniqueId('scexec');
  const bundle = t.bundle((s) => {
    s.process!.args = ['sleep', '1000'];
    s.linux = { ...s.linux, seccomp: denyMkdir };
  });
  t.ok(['run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
  try {
    const e = t.run(['exec', id, 'sh', '-c', 'mkdir /tmp/x; echo "mkdir=$?"']);
    assert.match(e.stdout, /mkdir=1/);
    assert.equal(readdirSync(cache), files);
  } finally {
    t.run(['delete', '--force', id]);
  }
});

test('seccomp: loads without no_new_privs after the switch to a non-root user (needs CAP_SYS_ADMIN held until the load)', () => {
  const caps = ['CAP_KILL'];
  const r = t.sh(`${STATUS}; mkdir /tmp/denied; echo "mkdir=$?"`, (s) => {
    s.linux = { ...s.linux, seccomp: denyMkdir };
    proc(s).noNewPrivileges = false;
    proc(s).user = { uid: 1000, gid: 1000 };
    proc(s).capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(statusField(r.stdout, 'Seccomp'), '2');
  assert.is(statusField(r.stdout, 'NoNewPrivs'), '0');
  assert.is(statusField(r.stdout, 'CapEff'), capHex(caps));
  assert.is(statusField(r.stdout, 'CapPrm'), capHex(caps));
  assert.match(r.stdout, /mkdir=1/);
});

test('seccomp: argument conditions (SCMP_CMP_MASKED_EQ) select the calls they name', () => {
  // kill(pid, sig) with (sig & 0xff) == SIGUSR1 fails with EPERM; other signals pass.
  const profile: Seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    flags: ['SECCOMP_FILTER_FLAG_TSYNC'], // every thread of the (multithreaded) init gets it
    syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, op: 'SCMP_CMP_MASKED_EQ', value: 0xff, valueTwo: 10 }] }],
  };
  const r = t.sh('sleep 30 & p=$!; kill -USR1 $p; echo "usr1=$?"; kill -TERM $p; echo "term=$?"', (s) => {
    s.linux = { ...s.linux, seccomp: profile };
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /usr1=1/);
  assert.match(r.stdout, /term=0/);
});

test('seccomp: defaultAction SCMP_ACT_ERRNO with defaultErrnoRet applies to everything not allowed', () => {
  const profile = JSON.parse(readFileSync(join(FIXTURES, 'podman-config.json'), 'utf8')).linux.seccomp as Seccomp;
  assert.is(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.is(profile.defaultErrnoRet, 38);
  // Take mkdir off podman's allow-list: it must then fail with the default
  // action's errno, ENOSYS (38), while everything still allowed works.
  for (const rule of profile.syscalls ?? []) rule.names = rule.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat');
  const r = t.sh('mkdir /tmp/d; echo "mkdir=$?"; echo "uname=$(uname -s)"', (s) => {
    s.linux = { ...s.linux, seccomp: profile };
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /mkdir=1/);
  assert.match(r.stderr, /mkdir: can't create directory '\/tmp\/d': Function not implemented/);
  assert.match(r.stdout, /uname=Linux/);
});

test('seccomp: a bad action, architecture or operator is a validation error', () => {
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_MAYBE' } };
  }, /\/linux\/seccomp\/defaultAction must be one of/);
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOPE' }] } };
  }, /\/linux\/seccomp\/syscalls\/0\/action must be one of/);
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] } };
  }, /\/linux\/seccomp\/architectures\/0 must be one of/);
  assertRefused((s) => {
    s.linux = {
      ...s.linux,
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ALMOST' }] }] },
    };
  }, /\/linux\/seccomp\/syscalls\/0\/args\/0\/op/);
});

test('seccomp: SCMP_ACT_NOTIFY hands the listener fd to the agent at listenerPath, and the agent answers', () => {
  const dir = t.tempDir('toyrun-agent-');
  const sockPath = join(dir, 'agent.sock');
  const listening = listenUnix(sockPath);
  const agent = spawn(process.execPath, [join(REPO, 'test', 'seccomp-agent.ts'), dir], { stdio: ['ignore', 'ignore', 'inherit', listening] });
  libc.close(listening);
  try {
    const r = t.sh('grep Seccomp: /proc/self/status; mkdir /tmp/n; echo "mkdir=$?"; touch /tmp/f && echo touch-ok', (s) => {
      s.linux = {
        ...s.linux,
        seccomp: {
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: sockPath,
          listenerMetadata: 'agent-test',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
        },
      };
    });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /mkdir=1/);
    assert.match(r.stderr, /mkdir: can't create directory '\/tmp\/n': No message of desired type/); // ENOMSG, the agent's answer
    assert.match(r.stdout, /touch-ok/);
    const msg = JSON.parse(readFileSync(join(dir, 'msg.json'), 'utf8')) as { fds: string[]; metadata: string; pid: number; state: { id: string; pid: number } };
    assert.equal(msg.fds, ['seccompFd']);
    assert.is(msg.metadata, 'agent-test');
    assert.match(msg.state.id, /^sh-/);
    assert.ok(msg.pid > 0 && msg.pid === msg.state.pid);
    assert.match(readFileSync(join(dir, 'calls'), 'utf8'), /^83$/m); // mkdir on x86-64
  } finally {
    agent.kill('SIGKILL');
  }
});

test('seccomp: SCMP_ACT_NOTIFY without a listener, as the default, or on calls the runtime needs is refused', () => {
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] } };
  }, /\/linux\/seccomp\/listenerPath is required when a rule uses SCMP_ACT_NOTIFY/);
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/x.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] } };
  }, /SCMP_ACT_NOTIFY cannot be the default action/);
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/x.sock', syscalls: [{ names: ['execve'], action: 'SCMP_ACT_NOTIFY' }] } };
  }, /SCMP_ACT_NOTIFY on execve would block the runtime/);
  assertRefused((s) => {
    s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/nonexistent/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] } };
  }, /connect \/nonexistent\/agent\.sock: no such file or directory/);
});

test('features lists the seccomp actions, operators and architectures this build supports', () => {
  const f = JSON.parse(t.ok(['features']).stdout) as { linux: { seccomp: { enabled: boolean; actions: string[]; operators: string[]; archs: string[] } } };
  assert.is(f.linux.seccomp.enabled, true);
  assert.ok(f.linux.seccomp.actions.includes('SCMP_ACT_NOTIFY'));
  assert.ok(f.linux.seccomp.actions.includes('SCMP_ACT_ERRNO'));
  assert.ok(f.linux.seccomp.operators.includes('SCMP_CMP_MASKED_EQ'));
  assert.ok(f.linux.seccomp.archs.includes('SCMP_ARCH_X86_64'));
});

// ---- the podman default profile -------------------------------------------

/** The podman fixture, adapted to this machine as the lead describes. */
function podmanSpec(s: Spec): void {
  const pod = JSON.parse(readFileSync(join(FIXTURES, 'podman-config.json'), 'utf8')) as Spec;
  pod.root = { path: BUSYBOX_ROOTFS };
  for (const ns of pod.linux?.namespaces ?? []) delete ns.path;
  pod.mounts = (pod.mounts ?? []).filter((m) => m.type !== 'bind' || existsSync(m.source ?? ''));
  delete pod.linux?.cgroupsPath; // the default, toyrun/<id>, is what leftovers() checks
  proc(pod).args = proc(s).args; // the test's script
  Object.assign(s, pod);
}

test('podman fixture: 11 capabilities, its seccomp profile, masked and read-only paths, sysctl', () => {
  const script = [
    STATUS,
    'echo "ping=$(cat /proc/sys/net/ipv4/ping_group_range)"',
    'echo "keys=$(stat -c %t:%T /proc/keys)"',
    'echo "firmware=$(ls -A /sys/firmware | wc -l)"',
    'echo x > /proc/sys/kernel/domainname 2>/dev/null; echo "procsys=$?"',
    'echo "mounts:"; cat /proc/self/mountinfo',
  ].join('; ');
  const r = t.sh(script, podmanSpec);
  assert.is(r.status, 0, r.stderr);
  const pod = JSON.parse(readFileSync(join(FIXTURES, 'podman-config.json'), 'utf8')) as Spec;
  const caps = pod.process?.capabilities?.bounding as string[];
  assert.is(caps.length, 11);
  for (const f of ['CapBnd', 'CapEff', 'CapPrm']) assert.is(statusField(r.stdout, f), capHex(caps), f);
  assert.is(statusField(r.stdout, 'CapInh'), capHex([]));
  assert.is(statusField(r.stdout, 'CapAmb'), capHex([]));
  assert.is(statusField(r.stdout, 'Seccomp'), '2');
  assert.is(statusField(r.stdout, 'NoNewPrivs'), '0');
  assert.match(r.stdout, /ping=0\s+0/);
  assert.match(r.stdout, /keys=1:3/); // /dev/null over a masked file
  assert.match(r.stdout, /firmware=0/); // an empty tmpfs over a masked directory
  assert.match(r.stdout, /procsys=1/);
  assert.match(r.stdout, / \/proc\/sys ro,/);
});

// ---- masked and read-only paths --------------------------------------------

test('maskedPaths: files become /dev/null, directories an empty read-only tmpfs; missing ones are skipped', () => {
  const r = t.sh(
    [
      'stat -c "keys %t:%T %F" /proc/keys',
      'echo "keys-bytes=$(cat /proc/keys | wc -c)"',
      'echo "acpi-entries=$(ls -A /proc/acpi | wc -l)"',
      'touch /proc/acpi/x 2>/dev/null; echo "acpi-write=$?"',
      'grep -E " /proc/acpi | /sys/firmware " /proc/self/mountinfo',
    ].join('; '),
    (s) => {
      s.linux = { ...s.linux, maskedPaths: ['/proc/keys', '/proc/acpi', '/sys/firmware', '/does/not/exist'] };
    },
  );
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /keys 1:3 character special file/);
  assert.match(r.stdout, /keys-bytes=0/);
  assert.match(r.stdout, /acpi-entries=0/);
  assert.match(r.stdout, /acpi-write=1/);
  assert.match(r.stdout, / \/proc\/acpi ro,[^\n]* - tmpfs /);
  assert.match(r.stdout, / \/sys\/firmware ro,[^\n]* - tmpfs /);
});

test('readonlyPaths: bound read-only in place, writes fail with EROFS', () => {
  const r = t.sh('echo 1 > /proc/sys/kernel/shmmax; echo "rc=$?"; grep " /proc/sys " /proc/self/mountinfo', (s) => {
    s.linux = { ...s.linux, readonlyPaths: ['/proc/sys', '/not/there'] };
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /rc=1/);
  assert.match(r.stderr, /Read-only file system/);
  assert.match(r.stdout, / \/proc\/sys ro,/);
});

// ---- sysctl ----------------------------------------------------------------

test('sysctl: namespaced keys are set inside, the host keeps its values', () => {
  const hostShmmax = readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim();
  const hostForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const r = t.sh('cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward', (s) => {
    s.linux = { ...s.linux, sysctl: { 'kernel.shmmax': '4096000', 'net.ipv4.ip_forward': hostForward === '1' ? '0' : '1' } };
  });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['4096000', hostForward === '1' ? '0' : '1']);
  assert.is(readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim(), hostShmmax);
  assert.is(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostForward);
});

test('sysctl: a host-wide key, or a net key without a network namespace, is refused', () => {
  assertRefused((s) => {
    s.linux = { ...s.linux, sysctl: { 'kernel.panic': '1' } };
  }, /\/linux\/sysctl: sysctl kernel\.panic is not namespaced/);
  assertRefused((s) => {
    s.linux = { ...s.linux, sysctl: { 'net.ipv4.ip_forward': '1' } };
    s.linux.namespaces = (s.linux.namespaces ?? []).filter((n) => n.type !== 'network');
  }, /sysctl net\.ipv4\.ip_forward needs a network namespace/);
});

// ---- process ---------------------------------------------------------------

test('oomScoreAdj is what the process sees in /proc/self/oom_score_adj', () => {
  const r = t.sh('cat /proc/self/oom_score_adj', (s) => {
    proc(s).oomScoreAdj = 345;
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), '345');
});

test('user: uid, gid and additionalGids are applied; username is ignored as the spec says', () => {
  const out = runStatus((s) => {
    proc(s).user = { uid: 1234, gid: 2345, additionalGids: [10, 20, 30], username: 'nobody-here' };
  });
  assert.is(statusField(out, 'Uid'), '1234\t1234\t1234\t1234');
  assert.is(statusField(out, 'Gid'), '2345\t2345\t2345\t2345');
  assert.is(statusField(out, 'Groups'), '10 20 30');
});

test('noNewPrivileges: NoNewPrivs is 1 when asked and 0 when not', () => {
  assert.is(statusField(runStatus((s) => void (proc(s).noNewPrivileges = true)), 'NoNewPrivs'), '1');
  assert.is(statusField(runStatus((s) => void (proc(s).noNewPrivileges = false)), 'NoNewPrivs'), '0');
});

test('an apparmorProfile this host cannot apply, and any selinuxLabel, are refused, not ignored', () => {
  // the project's machines have neither LSM; a default Debian 12 host has AppArmor,
  // where a profile that is not loaded is refused before anything is made
  // (applying loaded profiles: test/integration/apparmor.test.ts)
  assertRefused((s) => {
    proc(s).apparmorProfile = 'toyrun-no-such-profile';
  }, apparmorEnabled()
    ? /\/process\/apparmorProfile: AppArmor profile toyrun-no-such-profile is not loaded/
    : /\/process\/apparmorProfile: AppArmor is not available on this host/);
  assertRefused((s) => {
    proc(s).selinuxLabel = 'system_u:system_r:container_t:s0';
  }, selinuxEnabled() ? /\/process\/selinuxLabel: applying SELinux label .* is not supported by toyrun/ : /\/process\/selinuxLabel: SELinux is not available on this host/);
});

test.run();
