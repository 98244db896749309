// linux.timeOffsets (runtime-spec 1.2+): the offsets of CLOCK_MONOTONIC and
// CLOCK_BOOTTIME in a new time namespace. The kernel takes them through
// /proc/self/timens_offsets after unshare(CLONE_NEWTIME), and only until the
// first process enters the namespace (EACCES afterwards, time_namespaces(7)):
// written by the holder that unshares (src/process/timens-holder.ts).
import * as libc from './libc';
import type { Spec } from '../spec/types';
import { findNamespace } from './namespaces';

/** "monotonic 3600 0\nboottime …": the file's format, one clock per line. */
export function timeOffsetsText(spec: Spec): string | undefined {
  const offsets = spec.linux?.timeOffsets;
  if (!offsets || Object.keys(offsets).length === 0) return undefined;
  return Object.entries(offsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`).join('');
}

export function timeOffsetsProblems(spec: Spec): string[] {
  if (!timeOffsetsText(spec)) return [];
  const ns = findNamespace(spec.linux?.namespaces, 'time');
  if (!ns) return ['/linux/timeOffsets: needs a time namespace in /linux/namespaces'];
  // offsets are fixed once a process is in the namespace: a joined one keeps its own
  if (ns.path) return ['/linux/timeOffsets: can only be set for a new time namespace, not one joined by path'];
  return [];
}

/** Only native calls: this runs in the window after unshare(CLONE_NEWTIME) where
 * the engine must not start threads (src/process/timens-holder.ts). */
export function writeTimeOffsets(text: string): void {
  const fd = libc.openat(libc.AT_FDCWD, '/proc/self/timens_offsets', libc.O.WRONLY | libc.O.CLOEXEC);
  try {
    libc.write(fd, Buffer.from(text));
  } finally {
    libc.close(fd);
  }
}
