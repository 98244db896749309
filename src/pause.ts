// `toyrun pause ID` / `toyrun resume ID`: freeze and thaw every process of the
// container through the cgroup freezer (v1 freezer.state, v2 cgroup.freeze).
// A frozen task is stopped by the kernel wherever it is, without a signal it
// could observe; `state` then reports "paused" (read back from the cgroup).
import { cgroupDriver } from './linux/cgroups/manager';
import { lockContainer } from './container/store';
import { loadContainer } from './container/load';
import { requireStatus } from './container/status';

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
