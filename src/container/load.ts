// Loading a container and asking the kernel what state it is really in.
import { cgroupDriver } from '../linux/cgroups/manager';
import { deriveStatus, loadRecord, toOciState, type ContainerRecord } from './store';
import { provenRecord } from './trust';
import type { State, Status } from '../spec/types';

export interface Loaded {
  /** What state.json says, less what the kernel does not confirm (src/container/trust.ts). */
  rec: ContainerRecord;
  status: Status;
  /** What was taken out of the record, and why. */
  doubts: string[];
}

export function loadContainer(root: string, id: string): Loaded {
  const { rec, doubts } = provenRecord(root, loadRecord(root, id));
  const driver = cgroupDriver();
  const status = deriveStatus(root, rec, () => driver.isFrozen(rec.cgroup));
  return { rec, status, doubts };
}

export function containerState(root: string, id: string): State {
  const { rec, status } = loadContainer(root, id);
  return toOciState(rec, status);
}
