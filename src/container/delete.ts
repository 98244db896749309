// The delete operation (`toyrun delete [--force] ID`, src/delete.ts): stop what is left, run poststop hooks, remove
// the cgroup, the image mount and the state dir. `delete --force` of an unknown
// id succeeds silently: podman's cleanup and containerd's double delete rely on it.
import { existsSync } from 'node:fs';
import { traceStage } from '../trace/record';
import * as libc from '../linux/libc';
import { resolveCgroupPath } from '../linux/cgroups/layout';
import { cgroupDriver } from '../linux/cgroups/manager';
import { ContainerError, containerDir, CorruptStateError, isInitAlive, lockContainer, loadSpec, removeContainerDir, toOciState } from './store';
import { loadContainer } from './load';
import { runHooksWarnOnly } from '../process/hooks';
import type { ImagePort } from './image-port';
import { waitGone } from './store';
import { findNamespace } from '../linux/namespaces';
import { failpoint } from '../failpoint';
import { logWarn } from '../log';
import { removeIntelRdt } from '../linux/intelrdt';
import { cgroupProblem } from './trust';
import { stopUnit } from '../linux/systemd';
import { requireStatus } from './status';

/** `image`: the image store, asked for only when the container has an image mount. */
export function deleteContainer(root: string, id: string, force: boolean, image: () => ImagePort): void {
  traceStage('delete');
  const dir = containerDir(root, id);
  if (!existsSync(dir)) {
    if (force) return;
    throw new ContainerError(`container ${id} does not exist`);
  }
  let unlock: () => void;
  try {
    unlock = lockContainer(root, id);
  } catch (e) {
    if (force) return;
    throw e;
  }
  try {
    if (!existsSync(dir)) {
      if (force) return;
      throw new ContainerError(`container ${id} does not exist`);
    }
    let loaded: ReturnType<typeof loadContainer>;
    try {
      loaded = loadContainer(root, id);
    } catch (e) {
      if (!(force && e instanceof CorruptStateError)) throw e;
      logWarn(`${e.message}: removing what its config.json says it has`);
      removeByConfig(dir, id);
      return;
    }
    const { rec, status } = loaded;
    // what the kernel does not confirm was taken out of rec: it is neither killed nor removed
    for (const d of loaded.doubts) logWarn(`container ${id}: ${d}: left alone`);
    const spec = loadSpec(dir);
    requireStatus(force ? 'delete --force' : 'delete', status, id);
    const driver = cgroupDriver();
    // The start time proves the pid is still our init (not a recycled one), whatever
    // the status says: a create killed after spawning it reads as "stopped".
    const initAlive = isInitAlive(rec);
    if (initAlive) {
      try {
        libc.kill(rec.pid, 9);
      } catch {
        // exited meanwhile
      }
    }
    // Without a PID namespace of its own, killing the init does not take the
    // rest of the container with it: kill whatever is left in the cgroup.
    const ownPidNs = findNamespace(spec?.linux?.namespaces, 'pid') && !findNamespace(spec?.linux?.namespaces, 'pid')?.path;
    if (!ownPidNs || status === 'stopped') {
      for (const pid of driver.pids(rec.cgroup)) {
        try {
          libc.kill(pid, 9);
        } catch {
          // gone
        }
      }
    }
    if (driver.isFrozen(rec.cgroup)) driver.thaw(rec.cgroup); // frozen tasks cannot act on SIGKILL
    if (initAlive) waitGone(rec.pid);
    failpoint('delete:killed');
    if (spec && rec.pid > 0) runHooksWarnOnly(spec.hooks, 'poststop', toOciState(rec, 'stopped'));
    if (rec.cgroup.systemdUnit) {
      try {
        stopUnit(rec.cgroup.systemdUnit); // systemd removes the scope and its cgroup
      } catch (e) {
        if (!force) throw e;
        logWarn(`container ${id}: ${(e as Error).message}`);
      }
    }
    driver.destroy(rec.cgroup);
    if (rec.intelRdt) removeIntelRdt(rec.intelRdt);
    failpoint('delete:cgroup-removed');
    if (rec.imageMount) {
      const proven = image().proven(dir, rec.imageMount);
      for (const d of proven.doubts) logWarn(`container ${id}: state.json: ${d}: left alone`);
      image().unmount(proven.mount, false);
    }
    removeContainerDir(dir);
  } finally {
    unlock();
  }
}

/** Without state.json, the cgroup is where config.json's cgroupsPath puts it
 * (create recorded the same computation): kill what is in it, then remove it. */
function removeByConfig(dir: string, id: string): void {
  try {
    const cgroupsPath = loadSpec(dir)?.linux?.cgroupsPath;
    const driver = cgroupDriver();
    const cg = { paths: driver.plannedDirs(resolveCgroupPath(cgroupsPath, id, false)) };
    // config.json is no more trusted than state.json: "/" would name every process on the host
    const problem = cgroupProblem(cg, id, cgroupsPath);
    if (problem) throw new ContainerError(`config.json: ${problem}: left alone`);
    for (const pid of driver.pids(cg)) {
      try {
        libc.kill(pid, 9);
      } catch {
        // gone
      }
    }
    driver.destroy(cg);
  } catch (e) {
    logWarn(`container ${id}: ${(e as Error).message}`);
  }
  removeContainerDir(dir);
}
