// The trace's decoding of libc arguments into the kernel's words, and the
// narrative and timeline drawn from records (no containers here: see
// test/integration/trace.test.ts for real runs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeCall, causeOfFile } from '../../src/trace/decode';
import { narrative, stageGroups } from '../../src/trace/show';
import { timelineSvg } from '../../src/trace/svg';
import { CLONE, MS, O, SYS } from '../../src/linux/libc';
import { endTrace, startTrace, traceCall, tracer, type TraceRecord } from '../../src/trace/record';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

test('describeCall: flags by name, syscall numbers by name, errno by name', () => {
  assert.equal(describeCall('unshare', [CLONE.NEWNS | CLONE.NEWUTS], 0, 0), { call: 'unshare', args: 'CLONE_NEWNS|CLONE_NEWUTS' });
  assert.equal(describeCall('mount', ['proc', '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null], -1, 1),
    { call: 'mount', args: '"proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL', errno: 'EPERM' });
  assert.equal(describeCall('syscall', [SYS.pivot_root, 'str', '.', 'str', '.'], 0, 0), { call: 'pivot_root', args: '".", "."' });
  assert.equal(describeCall('openat', [-100, '/x', O.WRONLY | O.CLOEXEC, 'uint32_t', 0], 5, 0), { call: 'openat', args: 'AT_FDCWD, "/x", O_WRONLY|O_CLOEXEC', ret: 5 });
  const seccomp = describeCall('syscall', [SYS.seccomp, 'unsigned int', 1, 'unsigned int', 0, {}, { len: 312 }], 0, 0);
  assert.is(seccomp.call, 'seccomp');
  assert.match(seccomp.args, /SECCOMP_SET_MODE_FILTER, flags 0, 312 BPF instructions/);
  // before the call (execve): no result; environment values never written
  assert.equal(describeCall('execve', ['/bin/sh', ['sh', null], ['SECRET=hunter2', null]], undefined, 0), { call: 'execve', args: '"/bin/sh", ["sh"], env: SECRET' });
  assert.equal(describeCall('posix_spawn', [[4242], '/bin/x', null, null, ['x', null], [null]], 0, 0), { call: 'posix_spawn', args: '"/bin/x", ["x"]', ret: 4242 });
  assert.is(describeCall('posix_spawn', [[0], '/bin/x', null, null, ['x', null], [null]], 2, 0).errno, 'ENOENT');
});

test('causeOfFile: the config field behind a cgroup file', () => {
  assert.is(causeOfFile('/sys/fs/cgroup/memory/toyrun/a/memory.limit_in_bytes'), '/linux/resources/memory/limit');
  assert.is(causeOfFile('/sys/fs/cgroup/pids/toyrun/a/pids.max'), '/linux/resources/pids/limit');
  assert.is(causeOfFile('/proc/sys/net/ipv4/ip_forward'), '/linux/sysctl');
  assert.is(causeOfFile('/sys/fs/cgroup/x/toyrun/a/unknown'), undefined);
});

const recs: TraceRecord[] = [
  { kind: 'start', t: 100, pid: 10, role: 'cli', cmd: 'run', stage: 'run', msg: 'toyrun run' },
  { kind: 'call', t: 101, pid: 10, role: 'cli', cmd: 'run', stage: 'spawn init', call: 'unshare', args: 'CLONE_NEWPID', result: 'ok', dur: 5 },
  { kind: 'call', t: 102, pid: 11, role: 'init', cmd: 'run', stage: 'namespaces', call: 'unshare', args: 'CLONE_NEWNS', result: 'ok', cause: '/linux/namespaces/1', at: 'enterNamespaces < main' },
  { kind: 'call', t: 103, pid: 10, role: 'cli', cmd: 'run', stage: 'drive init', call: 'read', args: '7', result: 'ok', ret: 10 },
  ...Array.from({ length: 6 }, (_, i): TraceRecord => ({ kind: 'call', t: 104 + i / 10, pid: 11, role: 'init', cmd: 'run', stage: 'mounts', call: 'mount', args: `"x${i}"`, result: 'ok', cause: '/mounts/0' })),
  { kind: 'call', t: 900, pid: 11, role: 'init', cmd: 'run', stage: 'execve', call: 'execve', args: '"/bin/sh", ["sh"], env: PATH', result: 'pending', cause: '/process/args' },
  { kind: 'end', t: 950, pid: 10, role: 'cli', cmd: 'run', stage: 'delete', code: 0 },
];

test('stageGroups: runs of one stage per process, in the order they began', () => {
  assert.equal(stageGroups(recs).map((g) => `${g.role}:${g.stage}`), ['cli:spawn init', 'init:namespaces', 'cli:drive init', 'init:mounts', 'init:execve']);
});

test('narrative: numbered chapters with why and code; long runs of one call told once', () => {
  const s = narrative(recs);
  assert.match(s, /^1\. spawn init — toyrun run \(pid 10\)/m);
  assert.match(s, /^2\. namespaces — init \(pid 11\)/m);
  assert.match(s, /unshare\(CLONE_NEWNS\) ok {3}← \/linux\/namespaces\/1 \[enterNamespaces < main\]/);
  assert.match(s, /… and 4 more mount like it/);
  assert.match(s, /execve\("\/bin\/sh", \["sh"\], env: PATH\) \(no return: the program replaces the runtime\)/);
  assert.match(s, /Why: execve replaces the runtime's engine/);
});

test('timelineSvg: a lane per process, a bar per stage, a tick per step, execve as a landmark; idle time squeezed', () => {
  const svg = timelineSvg(recs);
  assert.is((svg.match(/<g class="lane"/g) ?? []).length, 2);
  assert.is((svg.match(/<g class="stage"/g) ?? []).length, 5);
  assert.is((svg.match(/<rect class="step/g) ?? []).length, 10);
  assert.match(svg, /class="landmark execve"/);
  assert.match(svg, /≈ \d+ ms/); // the 800 ms before execve
  assert.not.match(svg, /NaN/);
});

test('recorder: lines appended as whole JSON objects; calls between a PID namespace switch and the switch back are written only after it', () => {
  const dir = mkdtempSync('/tmp/toyrun-trace-unit-');
  const file = join(dir, 't.jsonl');
  try {
    startTrace(file, 'unit');
    assert.ok(tracer.on && tracer.fd >= 256, 'the trace fd sits above the numbers spawn hands out');
    const lines = (): TraceRecord[] => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as TraceRecord);
    const before = lines().length;
    traceCall('unshare', [CLONE.NEWPID], 0, 0, 1, 2);
    traceCall('posix_spawn', [[77], '/bin/x', null, null, ['x', null], [null]], 0, 0, 3, 4);
    assert.is(lines().length, before, 'nothing written inside the window');
    traceCall('setns', [5, CLONE.NEWPID], 0, 0, 5, 6);
    const after = lines().slice(before);
    assert.equal(after.map((r) => r.call), ['unshare', 'posix_spawn', 'setns']);
    assert.is(after[1]?.ret, 77);
    traceCall('mount', ['none', '/x', 'nosuchfs', 0, null], -1, 19, 7, 8);
    const failed = lines().pop() as TraceRecord;
    assert.is(failed.result, 'ENODEV');
    endTrace(1);
    assert.not.ok(tracer.on);
    const end = lines().pop() as TraceRecord;
    assert.is(end.kind, 'end');
    assert.is(end.code, 1);
  } finally {
    tracer.on = false;
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
