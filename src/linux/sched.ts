// process.scheduler, process.ioPriority and process.execCPUAffinity (runtime-spec
// 1.3): the scheduling policy through sched_setattr(2), the I/O class through
// ioprio_set(2), CPU lists through sched_setaffinity(2). All three are inherited
// across fork and kept across execve, so setting them on the init (or the exec
// helper) just before it execs sets them for the user's process and its children.
import * as libc from './libc';
import type { CPUAffinity, IOPriority, Scheduler } from '../spec/types';

export const SCHED_POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
export const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
export const IOPRIO_CLASSES: Record<IOPriority['class'], number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const IOPRIO_CLASS_SHIFT = 13;

/** struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes): no utilization clamps. */
export function schedAttr(s: Scheduler): Buffer {
  const b = Buffer.alloc(48);
  b.writeUInt32LE(48, 0);
  b.writeUInt32LE(SCHED_POLICIES[s.policy] as number, 4);
  b.writeBigUInt64LE(BigInt((s.flags ?? []).reduce((m, f) => m | (SCHED_FLAGS[f] as number), 0)), 8);
  b.writeInt32LE(s.nice ?? 0, 16);
  b.writeUInt32LE(s.priority ?? 0, 20);
  b.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  b.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  b.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return b;
}

/** Problems the schema can't see, with JSON paths. */
export function schedulerProblems(s: Scheduler | undefined, path: string): string[] {
  if (!s) return [];
  const out: string[] = [];
  // SCHED_ISO is in the spec's list but was never merged into Linux: the kernel says EINVAL
  if (s.policy === 'SCHED_ISO') out.push(`${path}/policy: SCHED_ISO is not implemented by the Linux kernel`);
  const rt = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
  if (rt && !((s.priority ?? 0) >= 1 && (s.priority ?? 0) <= 99)) out.push(`${path}/priority must be 1..99 for ${s.policy}`);
  if (!rt && (s.priority ?? 0) !== 0) out.push(`${path}/priority must be 0 for ${s.policy} (only SCHED_FIFO and SCHED_RR have priorities)`);
  if (s.policy === 'SCHED_DEADLINE' && !(s.runtime && s.deadline && s.runtime <= s.deadline && (!s.period || s.deadline <= s.period))) {
    out.push(`${path}: SCHED_DEADLINE needs 0 < runtime <= deadline <= period (period 0 means deadline)`);
  }
  return out;
}

export function applyScheduler(s: Scheduler | undefined): void {
  if (!s) return;
  try {
    libc.schedSetattr(0, schedAttr(s));
  } catch (e) {
    // CONFIG_RT_GROUP_SCHED: a task may take a real-time policy only if its cpu
    // cgroup has real-time runtime (cpu.rt_runtime_us > 0), which is 0 by default
    if (e instanceof libc.SysError && e.code === 'EPERM' && (s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR')) {
      throw new Error(`${e.message}: ${s.policy} needs real-time CPU time in the container's cpu cgroup ` +
        '(linux.resources.cpu.realtimeRuntime, within what the parent cgroup has)', { cause: e });
    }
    throw e;
  }
}

/** Read back (tests, and `toyrun` diagnostics): policy name, nice, priority. */
export function currentScheduler(pid = 0): { policy: string; nice: number; priority: number; flags: number } {
  const b = Buffer.alloc(56);
  libc.schedGetattr(pid, b);
  const n = b.readUInt32LE(4);
  return {
    policy: Object.keys(SCHED_POLICIES).find((k) => SCHED_POLICIES[k] === n) ?? String(n),
    flags: Number(b.readBigUInt64LE(8)),
    nice: b.readInt32LE(16),
    priority: b.readUInt32LE(20),
  };
}

export function ioprioValue(p: IOPriority): number {
  return (IOPRIO_CLASSES[p.class] << IOPRIO_CLASS_SHIFT) | p.priority;
}

/** The spec applies the I/O priority to every process of the container: set on
 * ourselves before execve, it is inherited by everything the program forks. */
export function applyIoPriority(p: IOPriority | undefined): void {
  if (p) libc.ioprioSet(libc.IOPRIO_WHO_PROCESS, 0, ioprioValue(p));
}

/** "0-3,7" → [0,1,2,3,7]; undefined for a malformed list. */
export function parseCpuList(list: string): number[] | undefined {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= 8192) return undefined;
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

export function cpuMask(cpus: number[]): Buffer {
  const mask = Buffer.alloc(Math.max(8, Math.ceil((Math.max(...cpus) + 1) / 64) * 8));
  for (const c of cpus) mask[c >> 3] = (mask[c >> 3] as number) | (1 << (c & 7));
  return mask;
}

export function affinityProblems(a: CPUAffinity | undefined, path: string): string[] {
  const out: string[] = [];
  for (const k of ['initial', 'final'] as const) {
    const v = a?.[k];
    if (v && !parseCpuList(v)) out.push(`${path}/${k}: "${v}" is not a CPU list such as 0-3,7`);
  }
  return out;
}

/** sched_setaffinity on pid (0: the caller) to a CPU list. An empty list does nothing. */
export function setAffinity(pid: number, list: string | undefined, what: string): void {
  if (!list) return;
  const cpus = parseCpuList(list);
  if (!cpus) throw new Error(`${what}: "${list}" is not a CPU list`);
  libc.schedSetaffinity(pid, cpuMask(cpus), `${what} ${list}`);
}
