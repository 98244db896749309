// Usage figures read back from a container's cgroup, in the shape runc's
// `events --stats` prints (libcontainer's types.Stats, field names and
// omitempty rules included), for v1 and v2. Kernel counters are 64-bit and
// "unlimited" is 2^63-ish: they are kept as bigint and printed as raw JSON numbers.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupRecord, StatsObject } from './types';

type N = bigint;

function read(dir: string | undefined, file: string): string | undefined {
  if (!dir) return undefined;
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A counter file; "max" (no limit) reads as undefined. */
export function num(dir: string | undefined, file: string): N | undefined {
  const s = read(dir, file);
  return s !== undefined && /^-?\d+$/.test(s) ? BigInt(s) : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, ...). */
export function keyValues(text: string | undefined): Record<string, N> {
  const out: Record<string, N> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = BigInt(v);
  }
  return out;
}

/** "0-2,4" → [0,1,2,4] */
export function parseCpuList(s: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (s ?? '').split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

const list = (s: string | undefined): N[] => (s ?? '').split(/\s+/).filter(Boolean).map((x) => BigInt(x));
/** Go's omitempty: zero values and empty lists disappear. */
function omitEmpty(o: StatsObject): StatsObject {
  const out: StatsObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === 0n || v === 0 || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out;
}
const z = (v: N | undefined): N => v ?? 0n;
const U64_MAX = 18446744073709551615n;

/** Huge page sizes the kernel offers, named like the cgroup files ("2MB", "1GB"). */
export function hugePageSizes(): string[] {
  try {
    return readdirSync('/sys/kernel/mm/hugepages').map((d) => {
      const kb = Number(/hugepages-(\d+)kB/.exec(d)?.[1] ?? 0);
      return kb >= 1 << 20 ? `${kb >> 20}GB` : kb >= 1 << 10 ? `${kb >> 10}MB` : `${kb}KB`;
    });
  } catch {
    return [];
  }
}

// ---- v1 -------------------------------------------------------------------

function cpuV1(p: Record<string, string>): StatsObject {
  const acct = p.cpuacct;
  const st = keyValues(read(acct, 'cpuacct.stat'));
  const tick = 10_000_000n; // USER_HZ is 100 on Linux: one tick is 10 ms
  const thr = keyValues(read(p.cpu, 'cpu.stat'));
  return {
    usage: {
      ...omitEmpty({
        total: z(num(acct, 'cpuacct.usage')),
        percpu: list(read(acct, 'cpuacct.usage_percpu')),
        percpu_kernel: list(read(acct, 'cpuacct.usage_percpu_sys')),
        percpu_user: list(read(acct, 'cpuacct.usage_percpu_user')),
      }),
      kernel: z(st.system) * tick,
      user: z(st.user) * tick,
    },
    throttling: omitEmpty({ periods: z(thr.nr_periods), throttled_periods: z(thr.nr_throttled), throttled_time: z(thr.throttled_time) }),
  };
}

function cpusetStats(dir: string | undefined, v2: boolean): StatsObject {
  const n = (f: string): N => z(num(dir, f));
  // runc prints the same block on v2 (types.CPUSet): the v1-only flags are 0
  // there, and cpus/mems (omitempty) are the effective sets.
  return {
    ...omitEmpty({ cpus: parseCpuList(read(dir, v2 ? 'cpuset.cpus.effective' : 'cpuset.cpus')) }),
    cpu_exclusive: n('cpuset.cpu_exclusive'),
    ...omitEmpty({ mems: parseCpuList(read(dir, v2 ? 'cpuset.mems.effective' : 'cpuset.mems')) }),
    mem_hardwall: n('cpuset.mem_hardwall'),
    mem_exclusive: n('cpuset.mem_exclusive'),
    memory_migrate: n('cpuset.memory_migrate'),
    memory_spread_page: n('cpuset.memory_spread_page'),
    memory_spread_slab: n('cpuset.memory_spread_slab'),
    memory_pressure: n('cpuset.memory_pressure'),
    sched_load_balance: n('cpuset.sched_load_balance'),
    sched_relax_domain_level: n('cpuset.sched_relax_domain_level'),
  };
}

function memEntryV1(d: string | undefined, prefix: string): StatsObject {
  return {
    limit: z(num(d, `${prefix}.limit_in_bytes`)),
    ...omitEmpty({ usage: z(num(d, `${prefix}.usage_in_bytes`)), max: z(num(d, `${prefix}.max_usage_in_bytes`)) }),
    failcnt: z(num(d, `${prefix}.failcnt`)),
  };
}

function memoryV1(d: string | undefined): StatsObject {
  if (!d) return {};
  const raw = keyValues(read(d, 'memory.stat'));
  return {
    ...omitEmpty({ cache: z(raw.cache) }),
    usage: memEntryV1(d, 'memory'),
    swap: memEntryV1(d, 'memory.memsw'),
    kernel: memEntryV1(d, 'memory.kmem'),
    kernelTCP: { limit: z(num(d, 'memory.kmem.tcp.limit_in_bytes')), failcnt: z(num(d, 'memory.kmem.tcp.failcnt')) },
    raw,
  };
}

function blkioEntries(text: string | undefined): StatsObject[] {
  const out: StatsObject[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\S+) (\d+)$/.exec(line.trim());
    if (m) out.push(omitEmpty({ major: BigInt(m[1] as string), minor: BigInt(m[2] as string), op: m[3] as string, value: BigInt(m[4] as string) }));
  }
  return out;
}

function blkioV1(d: string | undefined): StatsObject {
  if (!d) return {};
  // CFQ files first, then BFQ, then the throttle layer (always there), as runc does
  const prefix = ['blkio.', 'blkio.bfq.', 'blkio.throttle.'].find((p) => existsSync(join(d, `${p}io_service_bytes_recursive`))) ?? 'blkio.throttle.';
  return omitEmpty({
    ioServiceBytesRecursive: blkioEntries(read(d, `${prefix}io_service_bytes_recursive`)),
    ioServicedRecursive: blkioEntries(read(d, `${prefix}io_serviced_recursive`)),
  });
}

function hugetlbStats(p: Record<string, string>): StatsObject {
  const out: StatsObject = {};
  for (const size of hugePageSizes()) {
    if (p.hugetlb && existsSync(join(p.hugetlb, `hugetlb.${size}.usage_in_bytes`))) {
      out[size] = { ...omitEmpty({ usage: z(num(p.hugetlb, `hugetlb.${size}.usage_in_bytes`)), max: z(num(p.hugetlb, `hugetlb.${size}.max_usage_in_bytes`)) }), failcnt: z(num(p.hugetlb, `hugetlb.${size}.failcnt`)) };
    } else if (p.unified && existsSync(join(p.unified, `hugetlb.${size}.current`))) {
      const ev = keyValues(read(p.unified, `hugetlb.${size}.events`));
      out[size] = { ...omitEmpty({ usage: z(num(p.unified, `hugetlb.${size}.current`)) }), failcnt: z(ev.max) };
    }
  }
  return out;
}

function pidsStats(d: string | undefined, maxFile: string): StatsObject {
  return omitEmpty({ current: z(num(d, 'pids.current')), limit: z(num(d, maxFile)) });
}

export function statsV1(rec: CgroupRecord): StatsObject {
  const p = rec.paths;
  return {
    cpu: cpuV1(p),
    cpuset: cpusetStats(p.cpuset, false),
    memory: memoryV1(p.memory),
    pids: pidsStats(p.pids, 'pids.max'),
    blkio: blkioV1(p.blkio),
    hugetlb: hugetlbStats(p),
    intel_rdt: {},
    network_interfaces: null,
  };
}

// ---- v2 -------------------------------------------------------------------

function memEntryV2(d: string, current: string, max: string, peak: string | undefined, failcnt: N): StatsObject {
  return {
    limit: num(d, max) ?? U64_MAX,
    ...omitEmpty({ usage: z(num(d, current)), max: peak ? z(num(d, peak)) : 0n }),
    failcnt,
  };
}

/** runc reports v2 swap the v1 way, memory+swap: usage = memory.current +
 * memory.swap.current, limit = memory.max + memory.swap.max (unlimited if either is). */
function swapV2(dir: string): StatsObject {
  const memMax = num(dir, 'memory.max'), swapMax = num(dir, 'memory.swap.max');
  return {
    limit: memMax === undefined || swapMax === undefined ? U64_MAX : memMax + swapMax,
    ...omitEmpty({ usage: z(num(dir, 'memory.current')) + z(num(dir, 'memory.swap.current')) }),
    failcnt: 0n,
  };
}

export function statsV2(dir: string): StatsObject {
  const cpu = keyValues(read(dir, 'cpu.stat'));
  const raw = keyValues(read(dir, 'memory.stat'));
  const events = keyValues(read(dir, 'memory.events'));
  const io: StatsObject[] = [], ios: StatsObject[] = [];
  for (const line of (read(dir, 'io.stat') ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const f = keyValues(kv.map((x) => x.replace('=', ' ')).join('\n'));
    const base = { major: BigInt(m[1] as string), minor: BigInt(m[2] as string) };
    io.push(omitEmpty({ ...base, op: 'Read', value: z(f.rbytes) }), omitEmpty({ ...base, op: 'Write', value: z(f.wbytes) }));
    ios.push(omitEmpty({ ...base, op: 'Read', value: z(f.rios) }), omitEmpty({ ...base, op: 'Write', value: z(f.wios) }));
  }
  return {
    cpu: {
      usage: { ...omitEmpty({ total: z(cpu.usage_usec) * 1000n }), kernel: z(cpu.system_usec) * 1000n, user: z(cpu.user_usec) * 1000n },
      throttling: omitEmpty({ periods: z(cpu.nr_periods), throttled_periods: z(cpu.nr_throttled), throttled_time: z(cpu.throttled_usec) * 1000n }),
    },
    cpuset: cpusetStats(dir, true),
    memory: existsSync(join(dir, 'memory.current'))
      ? {
          ...omitEmpty({ cache: z(raw.file) }),
          usage: memEntryV2(dir, 'memory.current', 'memory.max', existsSync(join(dir, 'memory.peak')) ? 'memory.peak' : undefined, z(events.max)),
          swap: swapV2(dir),
          kernel: { limit: 0n, failcnt: 0n },
          kernelTCP: { limit: 0n, failcnt: 0n },
          raw,
        }
      : {},
    pids: pidsStats(dir, 'pids.max'),
    blkio: omitEmpty({ ioServiceBytesRecursive: io, ioServicedRecursive: ios }),
    hugetlb: hugetlbStats({ unified: dir }),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** OOM kills so far in a v2 cgroup: memory.events "oom_kill" (v1's is in
 * memory.oom_control, but v1 is notified through an eventfd that counts: oom.ts). */
export function oomKillsV2(dir: string | undefined): bigint {
  return z(keyValues(read(dir, 'memory.events')).oom_kill);
}

/** JSON with bigint printed as bare digits (JSON.stringify cannot). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `\u0000big${x}` : x)).replace(/"\\u0000big(-?\d+)"/g, '$1');
}
