// The pause and resume operations (`toyrun pause|resume ID`, src/pause.ts): freeze and thaw every process of the
// container through the cgroup freezer (v1 freezer.state, v2 cgroup.freeze).
// A frozen task is stopped by the kernel wherever it is, without a signal it
// could observe; `state` then reports "paused" (read back from the cgroup).
import { cgroupDriver } from '../linux/cgroups/manager';
import { lockContainer } from './store';
import { loadContainer } from './load';
import { requireStatus } from './status';

export function pauseContainer(root: string, id: string): void {
  setFrozen(root, id, 'pause', true);
}

export function resumeContainer(root: string, id: string): void {
  setFrozen(root, id, 'resume', false);
}

function setFrozen(root: string, id: string, op: 'pause' | 'resume', frozen: boolean): void {
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    requireStatus(op, status);
    const driver = cgroupDriver();
    if (frozen) driver.freeze(rec.cgroup);
    else driver.thaw(rec.cgroup);
  } finally {
    unlock();
  }
}
