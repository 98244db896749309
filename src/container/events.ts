// The events operation (`toyrun events ID [--stats] [--interval D]`, src/events.ts), runc's shape:
//   --stats   one {"type":"stats","id":…,"data":{…}} line, then exit
//   (default) a stats line every interval, plus {"type":"oom","id":…} as soon
//             as the kernel OOM-kills something in the container; exits when
//             the container stops.
// OOM notification is the cgroup manager's (src/linux/cgroups/oom.ts).
// Everything is synchronous (poll on one fd): lines go out with writeSync so
// they reach a pipe at once.
import { writeSync } from 'node:fs';
import * as libc from '../linux/libc';
import { cgroupDriver } from '../linux/cgroups/manager';
import { toJson } from '../linux/cgroups/stats';
import { loadContainer } from './load';
import { requireStatus } from './status';

function emit(obj: unknown): void {
  writeSync(1, toJson(obj) + '\n');
}

function running(root: string, id: string): boolean {
  try {
    return loadContainer(root, id).status !== 'stopped';
  } catch {
    return false;
  }
}

export function streamEvents(root: string, id: string, intervalMs: number): void {
  const { rec, status } = loadContainer(root, id);
  requireStatus('events', status);
  const driver = cgroupDriver();
  const watch = driver.watchOom(rec.cgroup);
  try {
    let next = Date.now() + intervalMs;
    // Wake at least every 200 ms to notice that the container has stopped.
    for (;;) {
      const wait = Math.max(0, Math.min(next - Date.now(), 200));
      const ready = watch ? libc.pollOne(watch.fd, libc.POLLIN, wait) : (libc.pollOne(-1, 0, wait), 0);
      if (watch && ready & libc.POLLIN) {
        if (watch.consume() > 0) emit({ type: 'oom', id });
      }
      if (!running(root, id)) return;
      if (Date.now() >= next) {
        emit({ type: 'stats', id, data: driver.stats(rec.cgroup) });
        next += intervalMs;
      }
    }
  } finally {
    watch?.close();
  }
}

export function statsOnce(root: string, id: string): string {
  const { rec, status } = loadContainer(root, id);
  requireStatus('events', status);
  return toJson({ type: 'stats', id, data: cgroupDriver().stats(rec.cgroup) }) + '\n';
}
