// Which cgroup manager this host gets: the one entry point the engine uses.
import { CgroupError, cgroupWarning } from './files';
import { isRootless } from '../rootless';
import { RootlessCgroups } from './rootless';
import { hostCgroupVersion, hostHierarchies, ownCgroups } from './layout';
import type { CgroupDriver, Hierarchy } from './types';
import { CgroupV1 } from './v1';
import { CgroupV2 } from './v2';

/** v1 for v1 and hybrid hosts (the v1 driver also creates the cgroup in the
 * controller-less cgroup2 mount), v2 for a unified host. The layout (and our own
 * cgroup) can be handed in: tests read a fake mountinfo through it. */
export function cgroupDriver(hs: Hierarchy[] = hostHierarchies(), own: () => Record<string, string> = ownCgroups): CgroupDriver {
  // rootless: only what the caller may write, the rest warned about (src/linux/cgroups/rootless.ts)
  if (isRootless()) return new RootlessCgroups(hs, cgroupWarning, own);
  if (hostCgroupVersion(hs) === 1) return new CgroupV1(hs, own);
  const unified = hs.find((h) => h.version === 2);
  if (!unified) throw new CgroupError('no cgroup filesystem is mounted (neither cgroup v1 nor cgroup2 in /proc/self/mountinfo)');
  return new CgroupV2(unified, own);
}
