// Is a container's cgroup frozen before the container exists? The init joins
// its cgroup as its first step, and a process that joins a frozen cgroup is
// frozen with it: `create` would wait forever for an init that never runs.
// runc refuses with "container's cgroup unexpectedly frozen"; so do we.
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Hierarchy } from './types';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The freezer's word for dir, or undefined if it is thawed (or has no freezer). */
function frozenState(dir: string, version: 1 | 2): string | undefined {
  if (version === 1) {
    // FREEZING too: the join would wait for it to finish, frozen.
    const s = read(`${dir}/freezer.state`)?.trim();
    return s === 'FROZEN' || s === 'FREEZING' ? `freezer.state ${s}` : undefined;
  }
  if (read(`${dir}/cgroup.freeze`)?.trim() === '1') return 'cgroup.freeze 1';
  // cgroup.events says "frozen 1" also when an ancestor is frozen
  return /^frozen 1$/m.test(read(`${dir}/cgroup.events`) ?? '') ? 'cgroup.events frozen 1' : undefined;
}

/**
 * The container's cgroup directories (by controller), before `create` makes
 * them: a directory that exists already is checked, else its nearest existing
 * ancestor below the hierarchy's root (a cgroup made under a frozen parent is
 * born frozen). Returns the problem, or undefined.
 */
export function frozenCgroupProblem(dirs: Record<string, string>, hierarchies: Hierarchy[]): string | undefined {
  for (const h of hierarchies) {
    const isFreezer = h.version === 2 || h.controllers.includes('freezer');
    const dir = dirs[h.controllers[0] as string];
    if (!isFreezer || !dir) continue;
    let d = dir;
    while (!existsSync(d) && d.startsWith(`${h.mountpoint}/`)) d = dirname(d);
    if (d === h.mountpoint || !d.startsWith(`${h.mountpoint}/`)) continue; // the root cgroup cannot be frozen
    const state = frozenState(d, h.version);
    if (state) return `container's cgroup unexpectedly frozen (${d}: ${state})`;
  }
  return undefined;
}
