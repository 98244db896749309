// state.json is a file: whoever can write it could make `kill` signal any host
// process (a forged pid and start time) or `kill --all`/`delete` act on any
// cgroup (a forged cgroup path, the root one included). Nothing it names is
// acted on until the kernel confirms it:
//   - a cgroup directory must lie strictly below a cgroup hierarchy's mount,
//     not be a hierarchy root or hold toyrun itself, and end in the name that
//     config.json's cgroupsPath gives this container;
//   - the init must have the recorded start time AND be in that cgroup (or, before
//     it joins it, still be a toyrun init, running dist/init.js).
// What is not proven is dropped from the record, with the reason, before any
// command uses it.
import { readFileSync } from 'node:fs';
import { basename, join, normalize } from 'node:path';
import { hostHierarchies, ownCgroups, resolveCgroupPath } from '../linux/cgroups/layout';
import { cgroupDriver } from '../linux/cgroups/manager';
import type { CgroupRecord } from '../linux/cgroups/types';
import { containerDir, loadSpec, processStartTime, type ContainerRecord } from './store';
import { INIT_ROLE } from '../paths';
import { runtimeRoleOf } from '../linux/seal';
import { isRootless } from '../linux/rootless';


/** Why these cgroup directories can't be the container's, or undefined if they can. */
export function cgroupProblem(cg: CgroupRecord, id: string, cgroupsPath: string | undefined): string | undefined {
  const hierarchies = hostHierarchies();
  const own = ownCgroups();
  const names = new Set<string>();
  for (const systemd of [false, true]) {
    try {
      names.add(basename(resolveCgroupPath(cgroupsPath, id, systemd)));
    } catch {
      // not a valid path of that kind
    }
  }
  for (const [ctrl, dir] of Object.entries(cg.paths)) {
    if (typeof dir !== 'string') return `cgroup ${ctrl}: not a path`;
    const h = hierarchies.find((x) => x.controllers.includes(ctrl));
    if (!h) return `cgroup ${ctrl}: no such hierarchy on this host`;
    if (normalize(dir) !== dir || !dir.startsWith(h.mountpoint + '/')) return `cgroup ${dir} is not below the ${ctrl} hierarchy ${h.mountpoint}`;
    // our own cgroup as seen through this mount; a cgroup holding toyrun is never a container's
    const ours = (own[h.controllers[0] as string] ?? own[ctrl] ?? '/');
    const oursDir = join(h.mountpoint, h.root !== '/' && ours.startsWith(h.root + '/') ? ours.slice(h.root.length) : ours);
    if (oursDir === dir || oursDir.startsWith(dir + '/')) return `cgroup ${dir} holds toyrun itself`;
    if (names.size > 0 && !names.has(basename(dir))) return `cgroup ${dir} is not the one config.json's cgroupsPath gives container ${id}`;
  }
  return undefined;
}

/** The init before it joins its cgroup: a runtime process in the init role. */
function isUnjoinedInit(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return runtimeRoleOf(argv) === INIT_ROLE;
  } catch {
    return false;
  }
}

/** The record with whatever the kernel does not confirm taken out; doubts says what and why. */
export function provenRecord(root: string, rec: ContainerRecord): { rec: ContainerRecord; doubts: string[] } {
  const doubts: string[] = [];
  const out: ContainerRecord = { ...rec };
  if (Object.keys(rec.cgroup?.paths ?? {}).length > 0) {
    const spec = loadSpec(containerDir(root, rec.id));
    const problem = cgroupProblem(rec.cgroup, rec.id, spec?.linux?.cgroupsPath);
    if (problem) {
      doubts.push(`state.json: ${problem}`);
      out.cgroup = { ...rec.cgroup, paths: {} };
    }
  } else {
    out.cgroup = { ...rec.cgroup, paths: {} };
  }
  if (rec.pid > 0 && processStartTime(rec.pid) === rec.pidStartTime) {
    const member = Object.keys(out.cgroup.paths).length > 0 && cgroupDriver().pids(out.cgroup).includes(rec.pid);
    // Rootless without a cgroup the caller may write (src/linux/cgroups/rootless.ts) there is
    // no membership to prove: pid and start time it is, and the kernel lets us signal
    // only our own processes anyway. Root keeps the stricter proof.
    const noCgroup = Object.keys(rec.cgroup?.paths ?? {}).length === 0 && isRootless();
    if (!member && !noCgroup && !isUnjoinedInit(rec.pid)) {
      doubts.push(`state.json: pid ${rec.pid} is not this container's init (not in its cgroup)`);
      out.pidStartTime = '';
    }
  }
  return { rec: out, doubts };
}
