// runtime-spec v1.3.0: configs written at "ociVersion": "1.3.0" run, and each
// field added since 1.1 does what the spec says, as seen from inside the container.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_V2, cgroup2ToyrunControllers, cgroupDir, leftovers, MEMORY_LIMIT_FILE, requireTool, sh, statusField, Toyrun, uniqueId, waitFor, withUserns } from '../helpers';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('spec13');

/** Every config in this file is written at 1.3.0, as current tools write them. */
function v13(fn: (s: Spec) => void = () => undefined): (s: Spec) => void {
  return (s) => {
    s.ociVersion = '1.3.0';
    fn(s);
  };
}

test.after(() => t.cleanup());

test('a config at ociVersion 1.3.0 runs (and pre-release/build suffixes are accepted)', () => {
  for (const v of ['1.3.0', '1.3.0-rc.2', '1.3.1+dev']) {
    const r = t.sh('echo hello', (s) => {
      s.ociVersion = v;
    });
    assert.is(r.status, 0, `${v}: ${r.stderr}`);
    assert.is(r.stdout, 'hello\n', v);
  }
});

test('ociVersion 2.0.0 is refused at validation with the JSON path', () => {
  const id = uniqueId('v2');
  const b = t.bundle((s) => {
    s.ociVersion = '2.0.0';
  });
  const r = t.run(['run', '--bundle', b, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, '/ociVersion must match');
  assert.equal(leftovers(t, id), []);
});

/** With CONFIG_RT_GROUP_SCHED (cpu.rt_runtime_us exists), real-time policies need
 * runtime in the container's cgroup, which must come from its parent (toyrun/):
 * the test lends the parent some for the duration, and takes it back. */
const RT_PARENT = '/sys/fs/cgroup/cpu/toyrun/cpu.rt_runtime_us';
/** Real-time group scheduling (v1's cpu.rt_*): without it (a unified host: cgroup2 has no
 * such files, and the values are refused there) a real-time policy needs no budget. */
const RT_GROUP = existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');
function withRtBudget<T>(fn: () => T): T {
  if (!existsSync(RT_PARENT)) return fn();
  const before = readFileSync(RT_PARENT, 'utf8').trim();
  writeFileSync(RT_PARENT, '50000');
  try {
    return fn();
  } finally {
    // the container's cgroup (holding part of the budget) may take a moment to go
    waitFor(() => {
      try {
        writeFileSync(RT_PARENT, before);
        return true;
      } catch {
        return false;
      }
    }, 'the real-time budget to be returned');
  }
}

/** Fields 18, 19, 40, 41 of /proc/self/stat (priority, nice, rt_priority, policy), of `cat` itself. */
function schedOf(out: string): { prio: number; nice: number; rtprio: number; policy: number } {
  const f = out.slice(out.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field N is f[N - 3]
  return { prio: Number(f[15]), nice: Number(f[16]), rtprio: Number(f[37]), policy: Number(f[38]) };
}

test('process.scheduler: the policy, nice and priority are the process\'s (SCHED_BATCH, SCHED_FIFO, SCHED_IDLE)', () => {
  const cases: [NonNullable<NonNullable<Spec['process']>['scheduler']>, { policy: number; nice?: number; rtprio?: number }][] = [
    [{ policy: 'SCHED_BATCH', nice: 7 }, { policy: 3, nice: 7 }],
    [{ policy: 'SCHED_FIFO', priority: 10 }, { policy: 1, rtprio: 10 }],
    [{ policy: 'SCHED_RR', priority: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] }, { policy: 2, rtprio: 3 }],
    [{ policy: 'SCHED_IDLE' }, { policy: 5 }],
  ];
  for (const [sched, want] of cases) {
    const r = withRtBudget(() => t.sh('exec cat /proc/self/stat', v13((s) => {
      (s.process as NonNullable<Spec['process']>).scheduler = sched;
      if (RT_GROUP) s.linux!.resources = { ...s.linux!.resources, cpu: { realtimeRuntime: 10000, realtimePeriod: 1000000 } };
    })));
    assert.is(r.status, 0, r.stderr);
    const got = schedOf(r.stdout);
    assert.is(got.policy, want.policy, JSON.stringify(sched));
    if (want.nice !== undefined) assert.is(got.nice, want.nice, JSON.stringify(sched));
    if (want.rtprio !== undefined) assert.is(got.rtprio, want.rtprio, JSON.stringify(sched));
  }
  // SCHED_FLAG_RESET_ON_FORK: a child of the RR process is back to SCHED_OTHER
  const r = withRtBudget(() => t.sh('cat /proc/self/stat; true', v13((s) => {
    (s.process as NonNullable<Spec['process']>).scheduler = { policy: 'SCHED_RR', priority: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
    if (RT_GROUP) s.linux!.resources = { ...s.linux!.resources, cpu: { realtimeRuntime: 10000, realtimePeriod: 1000000 } };
  })));
  assert.is(schedOf(r.stdout).policy, 0, r.stdout);
  // without real-time budget in its cgroup (CONFIG_RT_GROUP_SCHED), the kernel refuses: said so
  const r2 = t.sh('true', v13((s) => {
    (s.process as NonNullable<Spec['process']>).scheduler = { policy: 'SCHED_FIFO', priority: 1 };
  }));
  if (existsSync(RT_PARENT)) {
    assert.is.not(r2.status, 0);
    assert.match(r2.stderr, 'linux.resources.cpu.realtimeRuntime');
  }
});

test('process.scheduler: a priority outside the policy\'s range is refused with its path, nothing left', () => {
  const id = uniqueId('sched');
  const b = t.bundle(v13((s) => {
    (s.process as NonNullable<Spec['process']>).scheduler = { policy: 'SCHED_FIFO' };
  }));
  const r = t.run(['run', '--bundle', b, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, '/process/scheduler/priority must be 1..99 for SCHED_FIFO');
  assert.equal(leftovers(t, id), []);
});

test('process.ioPriority: the class and level are the process\'s (busybox ionice reads them back)', () => {
  for (const [cls, prio, want] of [['IOPRIO_CLASS_BE', 6, 'best-effort: prio 6'], ['IOPRIO_CLASS_IDLE', 0, 'idle'], ['IOPRIO_CLASS_RT', 2, 'realtime: prio 2']] as const) {
    const r = t.sh('ionice -p $$', v13((s) => {
      (s.process as NonNullable<Spec['process']>).ioPriority = { class: cls, priority: prio };
    }));
    assert.is(r.status, 0, r.stderr);
    assert.ok(r.stdout.trim().startsWith(want), `${cls}: ${r.stdout}`);
  }
});

test('linux.personality LINUX32: uname -m says i686; LINUX leaves x86_64; flags are refused', () => {
  const r = t.sh('uname -m', v13((s) => {
    s.linux!.personality = { domain: 'LINUX32' };
  }));
  assert.is(r.stdout.trim(), 'i686', r.stderr);
  const r2 = t.sh('uname -m', v13((s) => {
    s.linux!.personality = { domain: 'LINUX' };
  }));
  assert.is(r2.stdout.trim(), 'x86_64', r2.stderr);
  const r3 = t.sh('uname -m', v13((s) => {
    s.linux!.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] };
  }));
  assert.is.not(r3.status, 0);
  assert.match(r3.stderr, '/linux/personality/flags');
});

test('linux.memoryPolicy: MPOL_BIND / MPOL_PREFERRED / MPOL_INTERLEAVE on node 0 show in numa_maps', () => {
  for (const [mode, flags, want] of [['MPOL_BIND', [], 'bind:0'], ['MPOL_PREFERRED', [], 'prefer:0'], ['MPOL_INTERLEAVE', ['MPOL_F_STATIC_NODES'], 'interleave=static:0'],
    ['MPOL_LOCAL', [], 'local']] as const) {
    const r = t.sh('head -n1 /proc/self/numa_maps', v13((s) => {
      s.linux!.memoryPolicy = { mode, ...(mode === 'MPOL_LOCAL' ? {} : { nodes: '0' }), flags: [...flags] };
    }));
    assert.is(r.status, 0, r.stderr);
    assert.ok(r.stdout.split(' ')[1] === want, `${mode}: ${r.stdout}`);
  }
  const id = uniqueId('mpol');
  const b = t.bundle(v13((s) => {
    s.linux!.memoryPolicy = { mode: 'MPOL_BIND' };
  }));
  const r = t.run(['run', '--bundle', b, id]);
  assert.match(r.stderr, '/linux/memoryPolicy/nodes is required for MPOL_BIND');
  assert.equal(leftovers(t, id), []);
});

test('exec: process.execCPUAffinity final is the process\'s CPU list; initial alone ends on the container\'s CPUs; a bad initial fails exec', () => {
  const id = uniqueId('aff');
  const b = t.bundle(v13((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  }));
  t.ok(['run', '--detach', '--bundle', b, id]);
  const dir = t.tempDir();
  const execWith = (aff: object): { status: number; out: string; err: string } => {
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify({ cwd: '/', user: { uid: 0, gid: 0 }, args: ['cat', '/proc/self/status'], env: ['PATH=/bin'], execCPUAffinity: aff }));
    const r = t.run(['exec', '--process', file, id]);
    return { status: r.status, out: statusField(r.stdout, 'Cpus_allowed_list'), err: r.stderr };
  };
  assert.is(execWith({ initial: '0', final: '1' }).out, '1');
  assert.is(execWith({ final: '0' }).out, '0');
  assert.is(execWith({ initial: '1' }).out, '0-1');
  const bad = execWith({ initial: '7' });
  assert.is.not(bad.status, 0);
  assert.match(bad.err, /sched_setaffinity/);
  // the init is not affected by execCPUAffinity (the spec: not applicable to the init)
  t.ok(['delete', '--force', id]);
});

function uptime(text: string): number {
  return Number(text.trim().split(/\s+/)[0]);
}

test('linux.timeOffsets: monotonic and boottime are shifted in the new time namespace (with and without a user namespace)', () => {
  for (const userns of [false, true]) {
    // PID 1 (the init become sh) and its child are both in the new namespace: on kernels
    // before 6.2 an execve does not move a process into its time namespace for children
    const r = t.sh('for f in /proc/1/ns/time /proc/self/ns/time /proc/1/ns/time_for_children; do readlink $f; done; cat /proc/self/timens_offsets; cat /proc/uptime', v13((s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 172800, nanosecs: 500 } };
      if (userns) withUserns(s);
    }));
    assert.is(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    const [init, self, forChildren] = lines as [string, string, string];
    assert.match(init, /^time:\[\d+\]$/, r.stdout);
    assert.is(self, init, r.stdout);
    assert.is(forChildren, init, r.stdout);
    assert.is.not(init, readlinkSync('/proc/self/ns/time'), 'a new time namespace, not the host\'s');
    assert.ok(lines.includes('monotonic 86400 0'), r.stdout);
    assert.ok(lines.includes('boottime 172800 500'), r.stdout);
    // /proc/uptime reads CLOCK_BOOTTIME in the reader's time namespace
    const host = uptime(readFileSync('/proc/uptime', 'utf8'));
    assert.ok(uptime(lines[lines.length - 1] as string) >= host + 172800 - 60, `${r.stdout} (host ${host})`);
  }
});

test('exec joins the container\'s time namespace: an exec\'d process sees the same offsets (with and without a user namespace)', () => {
  for (const userns of [false, true]) {
    const id = uniqueId('timex');
    const b = t.bundle(v13((s) => {
      (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { boottime: { secs: 1000000 } };
      if (userns) withUserns(s);
    }));
    t.ok(['run', '--detach', '--bundle', b, id]);
    const r = t.run(['exec', id, 'cat', '/proc/uptime']);
    assert.is(r.status, 0, r.stderr);
    assert.ok(uptime(r.stdout) >= uptime(readFileSync('/proc/uptime', 'utf8')) + 1000000 - 60, r.stdout);
    if (!userns) {
      // another container joining that time namespace by path sees the offsets too
      const pid = t.state(id).pid as number;
      const r2 = t.sh('cat /proc/uptime', v13((s) => {
        s.linux!.namespaces!.push({ type: 'time', path: `/proc/${pid}/ns/time` });
      }));
      assert.is(r2.status, 0, r2.stderr);
      assert.ok(uptime(r2.stdout) >= uptime(readFileSync('/proc/uptime', 'utf8')) + 1000000 - 60, r2.stdout);
    }
    t.ok(['delete', '--force', id]);
  }
});

test('linux.timeOffsets the kernel refuses fail create with their path, nothing left (no holder process either)', () => {
  for (const userns of [false, true]) {
    const id = uniqueId('timerange');
    const b = t.bundle(v13((s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      // CLOCK_MONOTONIC would go below zero: the offsets write fails with ERANGE
      s.linux!.timeOffsets = { monotonic: { secs: -999999999 } };
      if (userns) withUserns(s);
    }));
    const r = t.run(['create', '--bundle', b, id]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, '/linux/timeOffsets: write');
    assert.match(r.stderr, 'ERANGE');
    assert.equal(leftovers(t, id), []);
    assert.is(sh('sh', ['-c', 'grep -l time-namespace-holde[r] /proc/[0-9]*/cmdline 2>/dev/null | wc -l']).stdout.trim(), '0');
  }
});

test('linux.timeOffsets without a new time namespace is refused with its path, nothing left', () => {
  const id = uniqueId('timens');
  const b = t.bundle(v13((s) => {
    s.linux!.timeOffsets = { monotonic: { secs: 10 } };
  }));
  const r = t.run(['run', '--bundle', b, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, '/linux/timeOffsets: needs a time namespace');
  assert.equal(leftovers(t, id), []);
});

test('poststart (1.3): hooks see "running"; a failing one fails start, stops the container, and it deletes cleanly', () => {
  const dir = t.tempDir('toyrun-poststart-');
  const hook = join(dir, 'hook.sh');
  writeFileSync(hook, '#!/bin/sh\ncat > "$1"\nexit "$2"\n', { mode: 0o755 });
  const id = uniqueId('poststart');
  const b = t.bundle(v13((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
    s.hooks = {
      poststart: [
        { path: hook, args: ['hook.sh', join(dir, 'first.json'), '0'] },
        { path: hook, args: ['hook.sh', join(dir, 'second.json'), '3'] },
        { path: hook, args: ['hook.sh', join(dir, 'third.json'), '0'] },
      ],
    };
  }));
  t.ok(['create', '--bundle', b, id]);
  const pid = t.state(id).pid as number;
  const r = t.run(['start', id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /poststart hook .*hook\.sh: exit status 3/);
  const first = JSON.parse(readFileSync(join(dir, 'first.json'), 'utf8')) as { status: string; pid: number };
  assert.is(first.status, 'running');
  assert.is(first.pid, pid);
  assert.not.ok(existsSync(join(dir, 'third.json')), 'the hooks after the failing one do not run');
  assert.is(t.state(id).status, 'stopped');
  t.ok(['delete', id]);
  assert.equal(leftovers(t, id), []);
});

/** A veth pair on the host (this kernel has no dummy driver); its peer goes with it. */
function vethPair(tag: string): { a: string; b: string; cleanup(): void } {
  const a = `s13${tag}${process.pid % 10000}a`, b = `s13${tag}${process.pid % 10000}b`;
  const r = sh(IP, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  assert.is(r.status, 0, r.stderr);
  return { a, b, cleanup: () => void sh(IP, ['link', 'del', a]) };
}
const IP = '/usr/sbin/ip';

test('linux.netDevices: a host interface moves in, renamed, up, with its permanent global addresses; gone with the container', () => {
  requireTool(IP, 'iproute2');
  const v = vethPair('n');
  try {
    assert.is(sh(IP, ['addr', 'add', '10.213.7.5/24', 'dev', v.a]).status, 0);
    const r = t.sh('ip addr show ctr0', v13((s) => {
      s.linux!.netDevices = { [v.a]: { name: 'ctr0' } };
    }));
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /ctr0@\w+: <[^>]*\bUP\b/);
    assert.match(r.stdout, 'inet 10.213.7.5/24');
    // the namespace is gone: a virtual device goes with it (and its host peer), as the spec says
    waitFor(() => !existsSync(`/sys/class/net/${v.b}`), 'the veth peer to go');
    assert.not.ok(existsSync(`/sys/class/net/${v.a}`));
  } finally {
    v.cleanup();
  }
});

test('linux.netDevices: no name keeps the host name; a template (net%d) is named by the kernel', () => {
  const v = vethPair('k');
  const w = vethPair('m');
  try {
    const r = t.sh('ip -o link show', v13((s) => {
      s.linux!.netDevices = { [v.a]: {}, [w.a]: { name: 'net%d' } };
    }));
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, `${v.a}@`);
    assert.match(r.stdout, /\bnet0@/);
  } finally {
    v.cleanup();
    w.cleanup();
  }
});

test('linux.netDevices: a name already taken inside, a missing device, no network namespace: errors with the path, nothing moved or left', () => {
  const v = vethPair('e');
  try {
    const cases: [(s: Spec) => void, RegExp][] = [
      [(s) => { s.linux!.netDevices = { [v.a]: { name: 'lo' } }; }, new RegExp(`/linux/netDevices/${v.a}: a network device named lo already exists`)],
      [(s) => { s.linux!.netDevices = { s13nosuchdev: {} }; }, /\/linux\/netDevices\/s13nosuchdev: no such network device on the host/],
      [(s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
        s.linux!.netDevices = { [v.a]: {} };
      }, /\/linux\/netDevices: needs a network namespace/],
    ];
    for (const [fn, want] of cases) {
      const id = uniqueId('netdev');
      const r = t.run(['run', '--bundle', t.bundle(v13(fn)), id]);
      assert.is.not(r.status, 0);
      assert.match(r.stderr, want);
      assert.equal(leftovers(t, id), []);
      assert.ok(existsSync(`/sys/class/net/${v.a}`), 'the device is still on the host');
    }
  } finally {
    v.cleanup();
  }
});

/** A file of the container's cgroup: the v1 controller's directory, or the one cgroup2
 * directory on a unified host ('unified': a hybrid host's cgroup2 side, or that directory). */
function cgRead(controller: string, id: string, file: string): string {
  return readFileSync(join(cgroupDir(controller, join('toyrun', id)), file), 'utf8').trim();
}

test('resources at 1.3: pids.limit 0 is a limit of 0 (older configs: unlimited), -1 is max; cpu.idle and cpu.burst; hugepage reservation limits', () => {
  for (const [version, limit, want] of [['1.3.0', 0, '0'], ['1.2.0', 0, 'max'], ['1.3.0', -1, 'max'], ['1.3.0', 12, '12']] as const) {
    const id = uniqueId('res');
    const b = t.bundle((s) => {
      s.ociVersion = version;
      s.linux!.resources = { pids: { limit } };
    });
    t.ok(['create', '--bundle', b, id]);
    assert.is(cgRead('pids', id, 'pids.max'), want, `${version} ${limit}`);
    t.ok(['delete', '--force', id]);
  }
  // inside, pids.max 0: the program runs (it is the init, exec'd), but can't fork
  const r = t.sh('echo started; /bin/true && echo forked', v13((s) => {
    s.linux!.resources = { pids: { limit: 0 } };
  }));
  assert.match(r.stdout, 'started');
  assert.not.match(r.stdout, 'forked');
  assert.match(r.stderr, "can't fork");
  const id = uniqueId('res');
  // on a unified host hugetlb is there only where systemd's root enabled it for /toyrun
  const huge = !CGROUP_V2 || cgroup2ToyrunControllers().includes('hugetlb');
  const b = t.bundle(v13((s) => {
    s.linux!.resources = { cpu: { idle: 1, quota: 50000, period: 100000, burst: 20000 }, ...(huge ? { hugepageLimits: [{ pageSize: '2MB', limit: 4 * 2 * 1024 * 1024 }] } : {}) };
  }));
  t.ok(['create', '--bundle', b, id]);
  assert.is(cgRead('cpu', id, 'cpu.idle'), '1');
  assert.is(cgRead('cpu', id, CGROUP_V2 ? 'cpu.max.burst' : 'cpu.cfs_burst_us'), '20000');
  if (huge) {
    // hugetlb on cgroup2 (the hybrid host's cgroup2 side, or a unified host), with reservation accounting
    assert.is(cgRead('unified', id, 'hugetlb.2MB.rsvd.max'), String(8 * 1024 * 1024));
    assert.is(cgRead('unified', id, 'hugetlb.2MB.max'), String(8 * 1024 * 1024));
  }
  t.ok(['delete', '--force', id]);
});

test('resources.unified: files of the cgroup2 side\'s controllers are written (all on a unified host), others refused with the key', () => {
  const id = uniqueId('uni');
  // a hybrid host's cgroup2 side holds hugetlb (ours); a unified host has memory there
  const [file, value] = CGROUP_V2 ? ['memory.high', String(100 * 1024 * 1024)] : ['hugetlb.2MB.max', String(6 * 1024 * 1024)];
  const b = t.bundle(v13((s) => {
    s.linux!.resources = { unified: { [file]: value } };
  }));
  t.ok(['create', '--bundle', b, id]);
  assert.is(cgRead('unified', id, file), value);
  t.ok(['delete', '--force', id]);
  if (CGROUP_V2) return; // every controller is on cgroup2: nothing to refuse
  const id2 = uniqueId('uni');
  const r = t.run(['run', '--bundle', t.bundle(v13((s) => {
    s.linux!.resources = { unified: { 'memory.high': '100000000' } };
  })), id2]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, 'linux.resources.unified.memory.high: the memory controller is not on this host\'s cgroup2 hierarchy');
  assert.equal(leftovers(t, id2), []);
});

test('update: memory.checkBeforeUpdate refuses a limit below the current usage, and the old limit stays', () => {
  const id = uniqueId('cbu');
  const b = t.bundle(v13((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
    s.linux!.resources = { memory: { limit: 256 * 1024 * 1024, checkBeforeUpdate: true } };
  }));
  t.ok(['run', '--detach', '--bundle', b, id]);
  const dir = t.tempDir();
  const file = join(dir, 'r.json');
  writeFileSync(file, JSON.stringify({ memory: { limit: 4096 } }));
  const r = t.run(['update', '--resources', file, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /linux\.resources\.memory\.limit: 4096 is below the container's current memory usage \(\d+\) and checkBeforeUpdate is set/);
  assert.is(cgRead('memory', id, MEMORY_LIMIT_FILE), String(256 * 1024 * 1024));
  writeFileSync(file, JSON.stringify({ memory: { limit: 128 * 1024 * 1024 } }));
  t.ok(['update', '--resources', file, id]);
  assert.is(cgRead('memory', id, MEMORY_LIMIT_FILE), String(128 * 1024 * 1024));
  t.ok(['delete', '--force', id]);
});

test('linux.intelRdt on this host (no resctrl): create fails cleanly with "not supported on this host", nothing left', () => {
  assert.not.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(' - resctrl '), 'this test expects a host without resctrl');
  const id = uniqueId('rdt');
  const b = t.bundle(v13((s) => {
    s.linux!.intelRdt = { closID: 'gold', schemata: ['L3:0=f'], enableMonitoring: true };
  }));
  const r = t.run(['run', '--bundle', b, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, '/linux/intelRdt: not supported on this host: no resctrl filesystem is mounted');
  assert.equal(leftovers(t, id), []);
});

test('features reports ociVersionMax 1.3.0 and the 1.3 blocks; state says 1.3.0', () => {
  const f = JSON.parse(t.ok(['features']).stdout) as { ociVersionMax: string; linux: Record<string, unknown>; potentiallyUnsafeConfigAnnotations: string[] };
  assert.is(f.ociVersionMax, '1.3.0');
  assert.equal(f.linux.netDevices, { enabled: true });
  assert.equal(f.linux.intelRdt, { enabled: true, schemata: true, monitoring: true });
  assert.ok((f.linux.memoryPolicy as { modes: string[] }).modes.includes('MPOL_PREFERRED_MANY'));
  assert.ok(Array.isArray(f.potentiallyUnsafeConfigAnnotations));
  const id = uniqueId('st');
  t.ok(['create', '--bundle', t.bundle(v13()), id]);
  assert.is(t.state(id).ociVersion, '1.3.0');
  t.ok(['delete', '--force', id]);
});

test.run();
