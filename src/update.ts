// `toyrun update ID [--resources FILE|-] [--memory N] [--cpu-share N] ...`:
// change the limits of a live container. The new values are merged into the
// container's stored config (so a later update or `events` sees them), checked
// against the same JSON schema as config.json, and written to the cgroup.
// As in runc, device rules are not touched by update.
import { memoryUpdateProblem, resourcesForVersion } from './linux/resources13';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setCgroupWarningSink } from './linux/cgroups/files';
import { cgroupDriver } from './linux/cgroups/manager';
import { logWarn } from './log';
import { pidsProperties, resourceProperties, setUnitProperties } from './linux/systemd';
import { ContainerError, containerDir, lockContainer, loadSpec, writeFileAtomic } from './container/store';
import { loadContainer } from './container/load';
import { validateSpec, ValidationError } from './spec/validate';
import type { Resources } from './spec/types';
import { requireStatus } from './container/status';

/** Docker's RAMInBytes: "96m", "1.5GiB", "1024"; binary units. "-1" means unlimited. */
export function parseBytes(s: string, flag: string): number {
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp])?(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid value for --${flag}: ${JSON.stringify(s)} (a size like 67108864, 64m or 1g)`);
  const exp = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * 1024 ** exp);
}

function parseInteger(s: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(s) || Number(s) < min) throw new Error(`invalid value for --${flag}: ${JSON.stringify(s)} (an integer >= ${min})`);
  return Number(s);
}


/** minimist reads the "-1" of `--memory-swap -1` as a flag: glue negative values to their flag. */
export function joinNegativeValues(rest: string[], valueFlags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i] as string, next = rest[i + 1];
    if (next !== undefined && /^-\d/.test(next) && valueFlags.some((f) => x === `--${f}`)) {
      out.push(`${x}=${next}`);
      i++;
    } else {
      out.push(x);
    }
  }
  return out;
}

/** runc's individual update flags, as a Resources fragment. */
export function resourcesFromFlags(a: Record<string, unknown>): Resources {
  const r: Resources = {};
  const str = (k: string): string | undefined => (a[k] === undefined ? undefined : String(a[k]));
  const bytes = (k: string): number | undefined => (str(k) === undefined ? undefined : parseBytes(str(k) as string, k));
  const int = (k: string, min = 0): number | undefined => (str(k) === undefined ? undefined : parseInteger(str(k) as string, k, min));
  const memory = {
    limit: bytes('memory'), reservation: bytes('memory-reservation'), swap: bytes('memory-swap'),
    kernel: bytes('kernel-memory'), kernelTCP: bytes('kernel-memory-tcp'),
  };
  const cpu = {
    shares: int('cpu-share') ?? int('cpu-shares'), period: int('cpu-period'), quota: int('cpu-quota', -1),
    realtimePeriod: int('cpu-rt-period'), realtimeRuntime: int('cpu-rt-runtime', -1), idle: int('cpu-idle'),
    cpus: str('cpuset-cpus'), mems: str('cpuset-mems'),
  };
  const defined = <T extends object>(o: T): T | undefined => {
    const e = Object.entries(o).filter(([, v]) => v !== undefined);
    return e.length > 0 ? (Object.fromEntries(e) as T) : undefined;
  };
  const mem = defined(memory);
  if (mem) r.memory = mem;
  const c = defined(cpu);
  if (c) r.cpu = c;
  const pids = int('pids-limit', -1);
  if (pids !== undefined) r.pids = { limit: pids };
  const w = int('blkio-weight');
  if (w !== undefined) r.blockIO = { weight: w };
  if (str('l3-cache-schema') !== undefined || str('mem-bw-schema') !== undefined) {
    throw new Error('--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by toyrun');
  }
  return r;
}

/** Field-wise merge: what the update names replaces, the rest is kept. */
export function mergeResources(old: Resources | undefined, upd: Resources): Resources {
  const out: Resources = { ...(old ?? {}) };
  for (const [k, v] of Object.entries(upd) as [keyof Resources, unknown][]) {
    const prev = out[k];
    const isPlain = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
    (out as Record<string, unknown>)[k] = isPlain(prev) && isPlain(v) ? { ...prev, ...v } : v;
  }
  return out;
}

/** runc's rule (v1 and v2 alike): `--memory -1` without a swap value makes
 * swap unlimited too. Merged with a stored swap limit instead, the kernel would
 * refuse the write (v1: memory.limit_in_bytes may not exceed memsw, EINVAL;
 * v2: a swap limit needs a memory limit). */
export function withUnlimitedSwap(upd: Resources): Resources {
  if (upd.memory?.limit !== -1 || (upd.memory.swap !== undefined && upd.memory.swap !== 0)) return upd;
  return { ...upd, memory: { ...upd.memory, swap: -1 } };
}

export function readResourcesFile(file: string): Resources {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new Error(`--resources ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const name = file === '-' ? '<stdin>' : file;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(name, [`invalid JSON: ${(e as Error).message}`]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ValidationError(name, ['/ must be an object (linux.resources)']);
  return data as Resources;
}

/** Check a resources object with the config schema, reporting paths relative to it. */
function validateResources(res: Resources, name: string): void {
  try {
    validateSpec({ ociVersion: '1.0.0', root: { path: '/' }, linux: { resources: res } }, name);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    throw new ValidationError(name, e.problems.map((p) => p.replace(/^\/linux\/resources/, '') || '/'));
  }
}

export function updateContainer(root: string, id: string, upd: Resources, source: string): void {
  validateResources(upd, source);
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    requireStatus('update', status, id);
    const dir = containerDir(root, id);
    const spec = loadSpec(dir);
    if (!spec) throw new ContainerError(`container ${id}: config.json is missing from the state directory`);
    // device rules are create-time only (runc too): keep the stored ones
    const { devices: _ignored, ...changes } = withUnlimitedSwap(upd);
    const merged = mergeResources(spec.linux?.resources, changes);
    const { devices: _devices, ...rest } = merged;
    const memProblem = memoryUpdateProblem(rec.cgroup.paths.memory ?? rec.cgroup.paths.unified, rec.cgroup.version, { ...changes.memory, checkBeforeUpdate: merged.memory?.checkBeforeUpdate });
    if (memProblem) throw new ContainerError(memProblem);
    setCgroupWarningSink(logWarn);
    const driver = cgroupDriver();
    const resources = resourcesForVersion(rest, spec.ociVersion);
    // systemd would put its unit's old values back on the next daemon-reload: the unit's
    // properties first, then the files (runc's order; systemd writes its values into the
    // cgroup, and some it cannot express, as a pids limit of 0, are then set exactly)
    const unit = rec.cgroup.systemdUnit;
    if (unit) setUnitProperties(unit, [...resourceProperties(resources ?? {}, driver.version), ...pidsProperties(resources ?? {})]);
    driver.apply(rec.cgroup, resources);
    spec.linux = { ...(spec.linux ?? {}), resources: merged };
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(spec));
  } finally {
    unlock();
  }
}
