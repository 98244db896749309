// `toyrun delete [--force] ID`: stop what is left, run poststop hooks, remove
// the cgroup, the image mount and the state dir. `delete --force` of an unknown
// id succeeds silently: podman's cleanup and containerd's double delete rely on it.
import { existsSync } from 'node:fs';
import * as libc from './linux/libc';
import { cgroupDriver, pidsIn } from './linux/cgroups';
import { ContainerError, containerDir, lockContainer, loadSpec, removeContainerDir, toOciState } from './state';
import { loadContainer } from './container';
import { runHooksWarnOnly } from './hooks';
import type * as ImageModule from './image';
import { waitGone } from './create';
import { findNamespace } from './linux/namespaces';

export function deleteContainer(root: string, id: string, force: boolean): void {
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
    const { rec, status } = loadContainer(root, id);
    const spec = loadSpec(dir);
    if ((status === 'running' || status === 'paused' || status === 'creating') && !force) {
      throw new ContainerError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    const driver = cgroupDriver();
    if (status !== 'stopped' && rec.pid > 0) {
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
      for (const pid of pidsIn(rec.cgroup)) {
        try {
          libc.kill(pid, 9);
        } catch {
          // gone
        }
      }
    }
    if (driver.isFrozen(rec.cgroup)) driver.thaw(rec.cgroup); // frozen tasks cannot act on SIGKILL
    if (rec.pid > 0) waitGone(rec.pid);
    if (spec && rec.pid > 0) runHooksWarnOnly(spec.hooks, 'poststop', toOciState(rec, 'stopped'));
    driver.destroy(rec.cgroup);
    if (rec.imageMount) (require('./image') as typeof ImageModule).unmountImage(rec.imageMount, false); // loaded only when used
    removeContainerDir(dir);
  } finally {
    unlock();
  }
}
