// The pause and resume operations (`toyrun pause|resume ID`, src/pause.ts): freeze and thaw every process of the
// container through the cgroup freezer (v1 freezer.state, v2 cgroup.freeze).
// A frozen task is stopped by the kernel wherever it is, without a signal it
// could observe; `state` then reports "paused" (read back from the cgroup).
import { cgroupDriver } from '../linux/cgroups/manager';
import { lockContainer } from './store';
import { loadContainer } from './load';
import { requireStatus } from './status';

export function pauseContainer(root: string, id: string): void {
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    requireStatus('pause', status);
    cgroupDriver().freeze(rec.cgroup);
  } finally {
    unlock();
  }
}

export function resumeContainer(root: string, id: string): void {
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    requireStatus('resume', status);
    cgroupDriver().thaw(rec.cgroup);
  } finally {
    unlock();
  }
}
