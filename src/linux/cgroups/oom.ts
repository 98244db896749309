// OOM notification. v1 registers an eventfd on memory.oom_control through
// cgroup.event_control (the kernel signals it on every OOM, and when the cgroup
// is removed); v2 has no such file, so memory.events is watched with inotify.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../libc';
import { AT_FDCWD, O } from '../libc';
import { writeCgroupFile } from './files';
import { oomKillsV2 } from './stats';
import type { OomWatch } from './types';

export function watchOomV1(dir: string | undefined): OomWatch | undefined {
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

export function watchOomV2(dir: string | undefined): OomWatch | undefined {
  if (!dir || !existsSync(join(dir, 'memory.events'))) return undefined;
  const fd = libc.inotifyInit(libc.IN_CLOEXEC | O.NONBLOCK);
  libc.inotifyAddWatch(fd, join(dir, 'memory.events'), libc.IN_MODIFY);
  let seen = oomKillsV2(dir);
  const buf = Buffer.alloc(4096);
  return {
    fd,
    consume: () => {
      try {
        libc.read(fd, buf);
      } catch {
        // EAGAIN: drained
      }
      const now = oomKillsV2(dir);
      const n = Number(now - seen);
      seen = now;
      return n;
    },
    close: () => libc.close(fd),
  };
}
