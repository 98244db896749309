// The update operation (`toyrun update`, src/update.ts): change the limits of a live container. The new values are merged into the
// container's stored config (so a later update or `events` sees them), checked
// against the same JSON schema as config.json, and written to the cgroup.
// As in runc, device rules are not touched by update.
import { memoryUpdateProblem, resourcesForVersion } from '../linux/resources13';
import { join } from 'node:path';
import { setCgroupWarningSink } from '../linux/cgroups/files';
import { cgroupDriver } from '../linux/cgroups/manager';
import { logWarn } from '../log';
import { pidsProperties, resourceProperties, setUnitProperties } from '../linux/systemd';
import { ContainerError, containerDir, lockContainer, loadSpec, writeFileAtomic } from './store';
import { loadContainer } from './load';
import { validateSpec, ValidationError } from '../spec/validate';
import type { Resources } from '../spec/types';
import { requireStatus } from './status';

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
