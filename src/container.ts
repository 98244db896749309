// Loading a container and asking the kernel what state it is really in.
import { cgroupDriver } from './linux/cgroups';
import { deriveStatus, loadRecord, toOciState, type ContainerRecord } from './state';
import type { State, Status } from './spec/types';

export interface Loaded {
  rec: ContainerRecord;
  status: Status;
}

export function loadContainer(root: string, id: string): Loaded {
  const rec = loadRecord(root, id);
  const driver = cgroupDriver();
  const status = deriveStatus(root, rec, () => driver.isFrozen(rec.cgroup));
  return { rec, status };
}

export function containerState(root: string, id: string): State {
  const { rec, status } = loadContainer(root, id);
  return toOciState(rec, status);
}
