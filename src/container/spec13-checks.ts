// Host-side checks for the fields runtime-spec 1.2/1.3 added (linux.personality, memoryPolicy, timeOffsets, netDevices,
// intelRdt): what the schema can't see, as problems with JSON paths.
import { memoryPolicyProblems } from '../linux/mempolicy';
import { personalityProblems } from '../linux/personality';
import { timeOffsetsProblems } from '../linux/timens';
import { netDevicesProblems } from '../linux/netdev';
import { findResctrl, intelRdtProblems } from '../linux/intelrdt';
import type { Spec } from '../spec/types';

export function spec13Problems(spec: Spec): string[] {
  return [
    ...personalityProblems(spec),
    ...memoryPolicyProblems(spec.linux?.memoryPolicy),
    ...timeOffsetsProblems(spec),
    ...netDevicesProblems(spec),
    ...(spec.linux?.intelRdt ? intelRdtProblems(spec.linux.intelRdt, findResctrl()) : []),
  ];
}
