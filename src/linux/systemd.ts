// --systemd-cgroup: the container's cgroup is a transient scope unit that systemd
// itself creates (StartTransientUnit over D-Bus, as runc does), with Delegate=yes
// and the limits as unit properties, so that systemd knows the cgroup, keeps the
// limits across daemon-reload and removes the unit on delete. The D-Bus calls run
// in a short helper process (src/systemd-dbus.ts, the dbus-next library): the CLI
// is synchronous. Without systemd as the init system this is a clear error, as in runc.
// node:child_process costs every command that loads it milliseconds: required where used
import type * as ChildProcess from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Resources } from '../spec/types';
import { CgroupError } from './cgroups/files';
import { runtimeArgv } from './seal';
import { blkioToIoWeight, sharesToWeight } from './cgroups/v2';
import { parseCpuList } from './cgroups/stats';

/** [name, D-Bus signature, value]; 64-bit values ("t") as decimal strings. */
export type SystemdProperty = [string, 'b' | 's' | 't' | 'au' | 'ay', boolean | string | number[]];

export type SystemdRequest =
  | { op: 'start'; unit: string; properties: SystemdProperty[] }
  | { op: 'set'; unit: string; properties: SystemdProperty[] }
  | { op: 'stop'; unit: string };

export interface Scope {
  slice: string;
  unit: string;
}

/** sd_booted(3): systemd is the init system iff /run/systemd/system exists. */
export function systemdRunning(runDir = '/run/systemd/system'): boolean {
  return existsSync(runDir);
}

/** "slice:prefix:name" (runc's --systemd-cgroup form) → the unit to create. An
 * empty cgroupsPath is "system.slice:toyrun:<id>" (runc: system.slice:runc:<id>). */
export function scopeFor(cgroupsPath: string | undefined, id: string): Scope {
  const parts = (cgroupsPath || `system.slice:toyrun:${id}`).split(':');
  if (parts.length !== 3) {
    throw new CgroupError(`linux.cgroupsPath ${JSON.stringify(cgroupsPath)}: expected "slice:prefix:name" with --systemd-cgroup`);
  }
  const [slice, prefix, name] = parts as [string, string, string];
  for (const [what, v] of [['slice', slice], ['prefix', prefix], ['name', name]] as const) {
    if (v.includes('/')) throw new CgroupError(`linux.cgroupsPath: the ${what} ${JSON.stringify(v)} must not contain "/"`);
  }
  return { slice: slice || 'system.slice', unit: `${prefix ? `${prefix}-` : ''}${name}.scope` };
}

const U64_MAX = '18446744073709551615'; // systemd's "infinity"
const limit = (n: number): string => (n < 0 ? U64_MAX : String(n));

/** systemd's CPU set bitmask (ay): byte i/8, bit i%8. */
export function cpuMask(list: string): number[] {
  const bytes: number[] = [];
  for (const cpu of parseCpuList(list)) {
    while (bytes.length <= cpu >> 3) bytes.push(0);
    bytes[cpu >> 3] = (bytes[cpu >> 3] as number) | (1 << (cpu & 7));
  }
  return bytes;
}

/** The resource properties systemd would otherwise reset on daemon-reload (the
 * files are written directly as well: the scope is delegated to us). pids go
 * separately (pidsProperties), once the init is ready: see splitPidsLimit. */
export function resourceProperties(res: Resources | undefined, version: 1 | 2): SystemdProperty[] {
  const out: SystemdProperty[] = [];
  const m = res?.memory, c = res?.cpu, b = res?.blockIO;
  if (m?.limit) out.push([version === 2 ? 'MemoryMax' : 'MemoryLimit', 't', limit(m.limit)]);
  if (version === 2 && m?.reservation) out.push(['MemoryLow', 't', limit(m.reservation)]);
  // OCI swap is memory+swap; systemd's MemorySwapMax is swap alone (as memory.swap.max)
  if (version === 2 && m?.swap && m.limit && m.limit > 0) out.push(['MemorySwapMax', 't', m.swap < 0 ? U64_MAX : String(Math.max(0, m.swap - m.limit))]);
  if (c?.shares) out.push(version === 2 ? ['CPUWeight', 't', String(sharesToWeight(c.shares))] : ['CPUShares', 't', String(c.shares)]);
  if (c?.quota && c.quota > 0) {
    const period = c.period || 100000;
    // runc rounds the per-second quota up to systemd's 10 ms granularity
    const perSec = Math.ceil((c.quota * 1_000_000) / period / 10000) * 10000;
    out.push(['CPUQuotaPerSecUSec', 't', String(perSec)]);
    if (c.period) out.push(['CPUQuotaPeriodUSec', 't', String(c.period)]);
  }
  if (version === 2 && c?.cpus) out.push(['AllowedCPUs', 'ay', cpuMask(c.cpus)]);
  if (version === 2 && c?.mems) out.push(['AllowedMemoryNodes', 'ay', cpuMask(c.mems)]);
  if (b?.weight) out.push(version === 2 ? ['IOWeight', 't', String(blkioToIoWeight(b.weight))] : ['BlockIOWeight', 't', String(b.weight)]);
  return out;
}

/** TasksMax for linux.resources.pids (read as 1.3: negative is "max", 0 a real
 * limit of zero). systemd refuses TasksMax=0 ("out of range", systemd 252), so 0
 * becomes 1 for the unit: while the init lives pids.current is at least 1 and the
 * kernel refuses every new task under either value; the file itself gets 0. Call
 * it before writing pids.max: systemd writes the property into the cgroup. */
export function pidsProperties(res: Resources | undefined): SystemdProperty[] {
  const p = res?.pids;
  if (!p) return [];
  return [['TasksMax', 't', p.limit < 0 ? U64_MAX : String(Math.max(1, p.limit))]];
}

/** What runc's systemd manager asks for a container scope. */
export function scopeProperties(scope: Scope, pid: number, id: string, res: Resources | undefined, version: 1 | 2): SystemdProperty[] {
  return [
    ['Description', 's', `toyrun container ${id}`],
    ['Slice', 's', scope.slice],
    ['PIDs', 'au', [pid]],
    // the container manages its own cgroup below the scope (and toyrun writes its files)
    ['Delegate', 'b', true],
    ['DefaultDependencies', 'b', false],
    ['MemoryAccounting', 'b', true],
    ['CPUAccounting', 'b', true],
    ['TasksAccounting', 'b', true],
    ...(version === 2 ? [['IOAccounting', 'b', true] as SystemdProperty] : []),
    ...resourceProperties(res, version),
  ];
}

function noSystemd(): CgroupError {
  return new CgroupError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system), cannot use the systemd cgroup manager; run without --systemd-cgroup');
}

/** One call to systemd through the helper process; its stderr names the D-Bus error. */
export function callSystemd(req: SystemdRequest): void {
  if (!systemdRunning()) throw noSystemd();
  const [engine, ...args] = runtimeArgv('systemd-dbus', [JSON.stringify(req)]);
  const { spawnSync } = require('node:child_process') as typeof ChildProcess; // --systemd-cgroup only
  const r = spawnSync(engine as string, args, {
    stdio: ['ignore', 'ignore', 'pipe'], env: {}, cwd: '/', timeout: 60000, encoding: 'utf8',
  });
  if (r.error) throw new CgroupError(`--systemd-cgroup: ${req.op} ${req.unit}: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) {
    throw new CgroupError(`--systemd-cgroup: ${req.op} ${req.unit}: ${(r.stderr || `helper exited ${r.status ?? r.signal}`).trim()}`);
  }
}

export function startScope(scope: Scope, pid: number, id: string, res: Resources | undefined, version: 1 | 2): void {
  callSystemd({ op: 'start', unit: scope.unit, properties: scopeProperties(scope, pid, id, res, version) });
}

export function stopUnit(unit: string): void {
  callSystemd({ op: 'stop', unit });
}

export function setUnitProperties(unit: string, properties: SystemdProperty[]): void {
  if (properties.length > 0) callSystemd({ op: 'set', unit, properties });
}
