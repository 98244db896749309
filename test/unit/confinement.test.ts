// The pure parts of confinement: seccomp action encoding and profile checks,
// compiling (not loading) profiles with libseccomp, capability name checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { actionValue, buildSeccompFilter, seccompProblems, supportedSeccompArches } from '../../src/linux/seccomp';
import { libseccomp } from '../../src/linux/libseccomp';
import { unsupportedCapabilities } from '../../src/linux/capabilities';
import { FIXTURES } from '../helpers';
import { sysctlPath, sysctlRefusal } from '../../src/linux/sysctl';
import { openProcFile, procRelPath, procfsForWrites, writeProcFile } from '../../src/linux/procfs';
import * as libc from '../../src/linux/libc';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Seccomp, Spec } from '../../src/spec/types';

function release(p: Seccomp): string[] {
  const f = buildSeccompFilter(p);
  libseccomp().release(f.ctx as NonNullable<typeof f.ctx>);
  return f.skipped;
}

test('seccomp actions encode as <seccomp.h> does; ERRNO and TRACE default to EPERM', () => {
  assert.is(actionValue('SCMP_ACT_ALLOW', undefined), 0x7fff0000);
  assert.is(actionValue('SCMP_ACT_ERRNO', undefined), 0x00050001);
  assert.is(actionValue('SCMP_ACT_ERRNO', 38), 0x00050026);
  assert.is(actionValue('SCMP_ACT_TRACE', 5), 0x7ff00005);
  assert.is(actionValue('SCMP_ACT_KILL', undefined), 0);
  assert.is(actionValue('SCMP_ACT_KILL_THREAD', undefined), 0);
  assert.is(actionValue('SCMP_ACT_KILL_PROCESS', undefined), 0x80000000);
  assert.is(actionValue('SCMP_ACT_TRAP', undefined), 0x00030000);
  assert.is(actionValue('SCMP_ACT_LOG', undefined), 0x7ffc0000);
  assert.is(actionValue('SCMP_ACT_NOTIFY', undefined), 0x7fc00000);
  assert.throws(() => actionValue('SCMP_ACT_PERHAPS', undefined), /unsupported seccomp action/);
});

test('seccompProblems names the JSON path of what toyrun cannot do', () => {
  assert.equal(seccompProblems(undefined), []);
  assert.equal(seccompProblems({ defaultAction: 'SCMP_ACT_ALLOW' }), []);
  const p = seccompProblems({
    defaultAction: 'SCMP_ACT_NOTIFY',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_PDP11'],
    flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
    listenerPath: '/run/listener.sock',
    syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_SOMETIMES' }] }],
  });
  assert.equal(p, [
    '/linux/seccomp/defaultAction: SCMP_ACT_NOTIFY cannot be the default action',
    '/linux/seccomp/architectures/1: unknown architecture "SCMP_ARCH_PDP11"',
    '/linux/seccomp/flags/1: unsupported seccomp flag "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"',
    '/linux/seccomp/listenerPath is set but no rule uses SCMP_ACT_NOTIFY',
    '/linux/seccomp/syscalls/0/args/0/op: unknown operator "SCMP_CMP_SOMETIMES"',
  ]);
  assert.equal(seccompProblems({
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: 'relative.sock',
    syscalls: [{ names: ['mkdir', 'sendmsg'], action: 'SCMP_ACT_NOTIFY' }],
  }), [
    '/linux/seccomp/listenerPath must be an absolute path',
    '/linux/seccomp/syscalls/0: SCMP_ACT_NOTIFY on sendmsg would block the runtime before the agent gets its fd',
  ]);
});

test('the podman profile compiles with libseccomp (multi-arch, argument rules)', () => {
  const pod = JSON.parse(readFileSync(join(FIXTURES, 'podman-config.json'), 'utf8')) as { linux: { seccomp: Seccomp } };
  assert.ok((pod.linux.seccomp.syscalls ?? []).reduce((n, r) => n + r.names.length, 0) > 300);
  // libseccomp 2.5 knows every name in podman 4.3's profile
  assert.equal(release(pod.linux.seccomp), []);
});

test('unknown syscall names are skipped; rules equal to the default action are dropped', () => {
  const skipped = release({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['mkdir', 'not_a_syscall_anywhere'], action: 'SCMP_ACT_ERRNO' },
      { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
    ],
  });
  assert.equal(skipped, ['not_a_syscall_anywhere']);
});

test('several conditions on one argument become separate rules (runc semantics) and compile', () => {
  release({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{
      names: ['personality'],
      action: 'SCMP_ACT_ERRNO',
      args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0x20000, op: 'SCMP_CMP_EQ' }],
    }],
  });
});

test('an architecture this libseccomp lacks is a clear error, not ignored', () => {
  const supported = supportedSeccompArches();
  assert.ok(supported.includes('SCMP_ARCH_X86_64'));
  const missing = ['SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH'].find((a) => !supported.includes(a));
  if (missing) {
    assert.throws(() => release({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [missing] }), /not supported by this libseccomp/);
  }
});

test('capability names the running kernel lacks are reported, not dropped', () => {
  const caps = { bounding: ['CAP_KILL', 'CAP_BPF'], effective: ['CAP_PERFMON'], permitted: ['CAP_CHECKPOINT_RESTORE', 'CAP_KILL'] };
  assert.equal(unsupportedCapabilities(caps, 40), []);
  // a 5.4 kernel stops at CAP_AUDIT_READ (37)
  assert.equal(unsupportedCapabilities(caps, 37).sort(), ['CAP_BPF', 'CAP_CHECKPOINT_RESTORE', 'CAP_PERFMON']);
});

test('sysctl keys: only those a namespace of the container owns', () => {
  const all = { linux: { namespaces: [{ type: 'ipc' }, { type: 'network' }, { type: 'uts' }, { type: 'mount' }] } } as Spec;
  for (const k of ['kernel.msgmax', 'kernel.shm_rmid_forced', 'kernel.shm_next_id', 'kernel.sem', 'fs.mqueue.msg_max', 'net.ipv4.ip_forward', 'kernel.domainname']) {
    assert.is(sysctlRefusal(all, k), undefined, k);
  }
  for (const k of ['kernel.panic', 'vm.swappiness', 'kernel.semx', 'fs.file-max']) assert.match(sysctlRefusal(all, k) ?? '', /not namespaced/, k);
  const none = { linux: { namespaces: [{ type: 'mount' }] } } as Spec;
  assert.match(sysctlRefusal(none, 'kernel.shmmax') ?? '', /needs an ipc namespace/);
  assert.match(sysctlRefusal(none, 'net.ipv4.ip_forward') ?? '', /needs a network namespace/);
  assert.match(sysctlRefusal(none, 'kernel.hostname') ?? '', /needs a uts namespace/);
  // a namespaced prefix that climbs to a host-wide file
  for (const k of ['net.ipv4/../../kernel/core_pattern', 'net..ipv4', 'net.ipv4.', 'net./.x']) {
    assert.match(sysctlRefusal(all, k) ?? '', /expected names separated by dots/, k);
  }
  assert.is(sysctlPath('net.ipv4.ip_forward'), 'sys/net/ipv4/ip_forward');
});

test('procfs writes: relative paths only, no symlinks, and the file must be on procfs', () => {
  for (const bad of ['', '/sys/x', 'sys/../1', 'sys//x', './sys']) assert.throws(() => procRelPath(bad), /expected a relative path/, bad);
  const proc = procfsForWrites();
  const fd = openProcFile(proc, 'sys/kernel/ostype', libc.O.RDONLY);
  libc.close(fd);
  // "self" is a symlink: refused, so writes name the PID
  assert.throws(() => openProcFile(proc, 'self/oom_score_adj', libc.O.WRONLY), /ELOOP/);
  // a tree that merely looks like procfs is refused before anything is written
  const dir = mkdtempSync('/tmp/toyrun-fakeproc-');
  try {
    mkdirSync(join(dir, 'sys/kernel'), { recursive: true });
    writeFileSync(join(dir, 'sys/kernel/domainname'), 'sentinel');
    symlinkSync('/proc/sys/kernel', join(dir, 'sys/link'));
    const fake = libc.openat(libc.AT_FDCWD, dir, libc.O.PATH | libc.O.DIRECTORY | libc.O.CLOEXEC);
    try {
      assert.throws(() => writeProcFile(fake, 'sys/kernel/domainname', 'x'), /is not on procfs \(f_type 0x/);
      assert.throws(() => writeProcFile(fake, 'sys/link/domainname', 'x'), /ELOOP/);
    } finally {
      libc.close(fake);
    }
    assert.is(readFileSync(join(dir, 'sys/kernel/domainname'), 'utf8'), 'sentinel');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
