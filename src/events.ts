// `toyrun events ID [--stats] [--interval D]`, runc's shape:
//   --stats   one {"type":"stats","id":…,"data":{…}} line, then exit
//   (default) a stats line every interval, plus {"type":"oom","id":…} as soon
//             as the kernel OOM-kills something in the container; exits when
//             the container stops.
// OOM notification: v1 registers an eventfd on memory.oom_control through
// cgroup.event_control (the kernel signals it on every OOM, and when the cgroup
// is removed); v2 has no such file, so memory.events is watched with inotify.
// Everything is synchronous (poll on one fd): lines go out with writeSync so
// they reach a pipe at once.
import { existsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from './linux/libc';
import { AT_FDCWD, O } from './linux/libc';
import { writeCgroupFile, type CgroupRecord } from './linux/cgroups/v1';
import { cgroupStats, oomKillCount, toJson } from './linux/cgroups/stats';
import { loadContainer } from './container';
import { requireStatus } from './lifecycle';

/** Go durations as runc takes them: "5s", "100ms", "1m30s", "1.5s". */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0, matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (units[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length || total <= 0) throw new Error(`invalid --interval ${JSON.stringify(s)}: a duration such as 5s or 500ms`);
  return total;
}

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

export interface OomWatch {
  fd: number;
  /** OOM kills since the last call (0 for a wake-up that was not an OOM, e.g. the cgroup going away) */
  consume(): number;
  close(): void;
}

function watchOomV1(rec: CgroupRecord): OomWatch | undefined {
  const dir = rec.paths.memory;
  if (!dir) return undefined;
  const efd = libc.eventfd(libc.EFD_CLOEXEC);
  const ofd = libc.openat(AT_FDCWD, join(dir, 'memory.oom_control'), O.RDONLY | O.CLOEXEC);
  writeCgroupFile(dir, 'cgroup.event_control', `${efd} ${ofd}`);
  const buf = Buffer.alloc(8);
  return {
    fd: efd,
    consume: () => {
      libc.read(efd, buf);
      // the eventfd also fires when the cgroup is removed: that is not an OOM
      return existsSync(join(dir, 'memory.oom_control')) ? Number(buf.readBigUInt64LE(0)) : 0;
    },
    close: () => {
      libc.close(efd);
      libc.close(ofd);
    },
  };
}

export function watchOomV2(rec: CgroupRecord): OomWatch | undefined {
  const dir = rec.paths.unified;
  if (!dir || !existsSync(join(dir, 'memory.events'))) return undefined;
  const fd = libc.inotifyInit(libc.IN_CLOEXEC | O.NONBLOCK);
  libc.inotifyAddWatch(fd, join(dir, 'memory.events'), libc.IN_MODIFY);
  let seen = oomKillCount(rec);
  const buf = Buffer.alloc(4096);
  return {
    fd,
    consume: () => {
      try {
        libc.read(fd, buf);
      } catch {
        // EAGAIN: drained
      }
      const now = oomKillCount(rec);
      const n = Number(now - seen);
      seen = now;
      return n;
    },
    close: () => libc.close(fd),
  };
}

export function streamEvents(root: string, id: string, intervalMs: number): void {
  const { rec, status } = loadContainer(root, id);
  requireStatus('events', status);
  const watch = rec.cgroup.version === 2 ? watchOomV2(rec.cgroup) : watchOomV1(rec.cgroup);
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
        emit({ type: 'stats', id, data: cgroupStats(rec.cgroup) });
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
  return toJson({ type: 'stats', id, data: cgroupStats(rec.cgroup) }) + '\n';
}
