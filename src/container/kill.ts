// The kill operation (`toyrun kill [--all] ID [SIGNAL]`, src/kill.ts). containerd matches "container not running"
// and "does not exist" in the error text: keep those words.
import * as libc from '../linux/libc';
import { ContainerError, lockContainer } from './store';
import { loadContainer } from './load';
import { cgroupDriver } from '../linux/cgroups/manager';
import type { CgroupRecord } from '../linux/cgroups/types';
import { parseSignal } from '../process/signals';
import { isRootless, pidNamespaceMembers } from '../linux/rootless';
import { requireStatus } from './status';

export function killContainer(root: string, id: string, signal: string | undefined, all: boolean): void {
  const sig = parseSignal(signal);
  const unlock = lockContainer(root, id);
  try {
    const { rec, status, doubts } = loadContainer(root, id);
    // a pid or cgroup the kernel does not confirm is never signalled (src/container/trust.ts)
    const noCgroup = (): ContainerError => new ContainerError(['container has no cgroup to signal', ...doubts].join(': '));
    // --all of a stopped container signals what is left in its cgroup: with a
    // shared (host or pod) PID namespace the init's children outlive it, and
    // containerd's shim sends exactly this when the init exits (runc does too).
    requireStatus(all ? 'kill --all' : 'kill', status, id, doubts);
    if (all && Object.keys(rec.cgroup.paths).length === 0 && doubts.length === 0 && isRootless()) {
      // rootless without a cgroup of its own: the init's PID namespace is the container
      // (a stopped one's namespace is gone with its init: nothing is left to signal)
      if (status !== 'stopped') for (const pid of pidNamespaceMembers(rec.pid)) signalQuietly(pid, sig);
      return;
    }
    if (all && status === 'stopped') {
      if (Object.keys(rec.cgroup.paths).length === 0) throw noCgroup();
      signalAll(rec.cgroup, sig);
      return;
    }
    if (all) {
      if (Object.keys(rec.cgroup.paths).length === 0) throw noCgroup();
      signalAll(rec.cgroup, sig);
      return;
    }
    libc.kill(rec.pid, sig);
  } finally {
    unlock();
  }
}

/** Signal every process of the cgroup. Frozen first, so nothing can fork a
 * new process between listing the PIDs and signalling them; thawed again
 * unless the container was paused (a SIGKILL is only acted on once thawed). */
function signalAll(cg: CgroupRecord, sig: number): void {
  const driver = cgroupDriver();
  const wasFrozen = driver.isFrozen(cg);
  let froze = false;
  try {
    if (!wasFrozen) {
      driver.freeze(cg);
      froze = true;
    }
  } catch {
    // no freezer on this host: signal unfrozen
  }
  try {
    for (const pid of driver.pids(cg)) {
      try {
        libc.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
  } finally {
    if (froze || (wasFrozen && sig === 9)) driver.thaw(cg);
  }
}

function signalQuietly(pid: number, sig: number): void {
  try {
    libc.kill(pid, sig);
  } catch {
    // exited meanwhile
  }
}
