// `toyrun start`: release the init blocked on exec.fifo. The FIFO is opened
// O_WRONLY|O_NONBLOCK: that fails with ENXIO unless a reader (the init) has it
// open, so a dead init is an error here, never a hang.
import { join } from 'node:path';
import { unlinkSync } from 'node:fs';
import * as libc from './linux/libc';
import { O } from './linux/libc';
import { ContainerError, containerDir, isInitAlive, lockContainer, saveRecord, toOciState } from './state';
import { loadContainer } from './container';
import { runHooks } from './hooks';
import { loadSpec } from './state';
import { logWarn } from './log';
import { sleepMs } from './linux/cgroups';

export function startContainer(root: string, id: string): void {
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    if (status === 'stopped') throw new ContainerError('cannot start a container that has stopped');
    if (status !== 'created') throw new ContainerError(`cannot start an already ${status} container`);
    const dir = containerDir(root, id);
    const fifo = join(dir, 'exec.fifo');
    let fd = -1;
    for (let i = 0; i < 2000; i++) {
      const r = libc.tryOpenat(libc.AT_FDCWD, fifo, O.WRONLY | O.NONBLOCK | O.CLOEXEC);
      if (r.fd >= 0) {
        fd = r.fd;
        break;
      }
      // ENXIO: the init reported ready but has not reached open() yet
      if (r.errno !== 6 || !isInitAlive(rec)) throw new ContainerError(`cannot start container ${id}: its init is gone`);
      sleepMs(1);
    }
    if (fd < 0) throw new ContainerError(`cannot start container ${id}: its init does not wait on exec.fifo`);
    // Unlink before releasing: "created" is derived from the FIFO's existence, so
    // a start killed in between must not leave a running process that reads as
    // "created" (the init then reads EOF and exits: a failed start, "stopped").
    unlinkSync(fifo);
    libc.write(fd, Buffer.from('0'));
    libc.close(fd);
    rec.started = true;
    try {
      saveRecord(dir, rec);
    } catch (e) {
      // e.g. ENOSPC: the container runs all the same, and its status derives from the kernel
      logWarn(`start ${id}: ${(e as Error).message}`);
    }
    const spec = loadSpec(dir);
    try {
      runHooks(spec?.hooks, 'poststart', toOciState(rec, 'running'));
    } catch (e) {
      logWarn((e as Error).message);
    }
  } finally {
    unlock();
  }
}
