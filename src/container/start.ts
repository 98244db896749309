// The start operation (`toyrun start ID`, src/start.ts): release the init blocked on exec.fifo. The FIFO is opened
// O_WRONLY|O_NONBLOCK: that fails with ENXIO unless a reader (the init) has it
// open, so a dead init is an error here, never a hang. Then wait on start.fifo
// until the init has exec'd the program or said why it could not (src/process/startsync.ts).
import { join } from 'node:path';
import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import * as libc from '../linux/libc';
import { O } from '../linux/libc';
import { ContainerError, containerDir, isInitAlive, loadRecord, lockContainer, saveRecord, toOciState, type ContainerRecord } from './store';
import { loadContainer } from './load';
import { runHooks } from '../process/hooks';
import { waitGone } from './store';
import { traceStage } from '../trace/record';
import { awaitExec, openStartStatus, START_FIFO, type InitProgress } from '../process/startsync';
import { loadSpec } from './store';
import { sleepMs } from '../linux/cgroups/files';
import { logWarn } from '../log';
import { runtimeRoleOf } from '../linux/seal';
import { INIT_ROLE } from '../paths';
import { requireStatus } from './status';

/** Is the container's init still the runtime's init, has it exec'd the program, or is it gone? */
function initProgress(rec: ContainerRecord): InitProgress {
  if (!isInitAlive(rec)) return 'gone';
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return 'gone';
  }
  // the init runs as `/proc/self/fd/N/bin/toyrun init <fd> <fd>` (src/linux/seal.ts)
  return runtimeRoleOf(argv) === INIT_ROLE ? 'init' : 'exec';
}

function openStartStatusIn(dir: string): number | undefined {
  const dirFd = libc.openat(libc.AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    return openStartStatus(dirFd);
  } finally {
    libc.close(dirFd);
  }
}

/** SIGKILL the init (in a PID namespace, the kernel then kills the rest) and wait until it is gone. */
function stopContainer(rec: ContainerRecord): void {
  if (!isInitAlive(rec)) return;
  try {
    libc.kill(rec.pid, 9);
  } catch {
    // exited meanwhile
  }
  waitGone(rec.pid);
}

export function startContainer(root: string, id: string): void {
  traceStage('start');
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    requireStatus('start', status);
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
    const statusFd = openStartStatusIn(dir);
    // Unlink before releasing: "created" is derived from the FIFO's existence, so
    // a start killed in between must not leave a running process that reads as
    // "created" (the init then reads EOF and exits: a failed start, "stopped").
    unlinkSync(fifo);
    libc.write(fd, Buffer.from('0'));
    libc.close(fd);
    rec.started = true;
    try {
      // the file as it was, plus `started`: rec lacks what src/container/trust.ts did not confirm
      saveRecord(dir, { ...loadRecord(root, id), started: true });
    } catch (e) {
      // e.g. ENOSPC: the container runs all the same, and its status derives from the kernel
      logWarn(`start ${id}: ${(e as Error).message}`);
    }
    if (statusFd !== undefined) {
      const failure = awaitExec(statusFd, () => initProgress(rec));
      rmSync(join(dir, START_FIFO), { force: true });
      if (failure) throw new ContainerError(`cannot start container ${id}: ${failure}`);
    }
    const spec = loadSpec(dir);
    try {
      runHooks(spec?.hooks, 'poststart', toOciState(rec, 'running'));
    } catch (e) {
      // runtime-spec 1.3 lifecycle step 9: a failing poststart hook is an error, the
      // container is stopped, and the lifecycle continues at delete (as runc does)
      stopContainer(rec);
      throw new ContainerError(`cannot start container ${id}: ${(e as Error).message} (the container was stopped)`, { cause: e });
    }
  } finally {
    unlock();
  }
}
