// After `start` releases the init through exec.fifo, the init still has work
// that can fail: the startContainer hooks, the last confinement steps and
// execve itself. start.fifo carries the outcome back so that `start` fails
// when they do (and poststart runs only once the user's program is running):
//
//   start  opens start.fifo O_RDONLY|O_NONBLOCK, then writes "0" to exec.fifo
//   init   opens start.fifo O_WRONLY|O_CLOEXEC (a reader is there: no blocking)
//   init   on failure writes the error text, then exits
//   init   on success execve()s: close-on-exec closes the writer at the exec
//   start  reads until the writer is gone: no text means the exec happened
//
// The kernel reports POLLHUP on a FIFO reader only once a writer has come and
// gone since the reader opened it, so an init that has not opened its end yet
// is told apart from one that has exec'd.
import * as libc from '../linux/libc';
import { F_DUPFD_CLOEXEC, O, POLLHUP, POLLIN } from '../linux/libc';

export const START_FIFO = 'start.fifo';

/** start's end, opened before the init is released. undefined for a container
 * created without start.fifo (the init then reports nothing). */
export function openStartStatus(dirFd: number): number | undefined {
  const r = libc.tryOpenat(dirFd, START_FIFO, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
  return r.fd >= 0 ? r.fd : undefined;
}

export type InitProgress = 'init' | 'exec' | 'gone';

/** Wait for the init's verdict: '' when it exec'd, else its error text.
 * `progress` is the fallback for an init that could not open its end (a
 * FIFO it has no permission for, e.g. in a user namespace): the process
 * itself then shows whether it is still the init, has exec'd, or is gone. */
export function awaitExec(fd: number, progress: () => InitProgress): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  let verdict: 'exec' | 'gone' | undefined;
  while (verdict === undefined) {
    const revents = libc.pollOne(fd, POLLIN, 20);
    const n = revents & POLLIN ? libc.read(fd, buf) : 0;
    if (n > 0) {
      chunks.push(Buffer.from(buf.subarray(0, n)));
      continue;
    }
    if (revents & POLLHUP) {
      verdict = 'exec';
    } else {
      // No writer has come and gone (yet): ask the process.
      const p = progress();
      // Since the poll above it may have written its error and be exiting, or have
      // exec'd (closing its end) and the program exited: the FIFO, if it says
      // anything now, has the last word over what the process looked like.
      if (p !== 'init') {
        if (libc.pollOne(fd, POLLIN, 0) !== 0) continue;
        verdict = p;
      }
    }
  }
  libc.close(fd);
  const text = Buffer.concat(chunks).toString().trim();
  if (text === '' && verdict === 'gone') return 'the container init exited before running the program';
  return text;
}

/** The init's end: kept above the --preserve-fds range so that it can never
 * be handed to the container, and close-on-exec so that execve reports success. */
export function openStartReporter(stateFd: number, preserveFds: number): number | undefined {
  const r = libc.tryOpenat(stateFd, START_FIFO, O.WRONLY | O.NONBLOCK | O.CLOEXEC);
  if (r.fd < 0) return undefined;
  const high = libc.fcntl(r.fd, F_DUPFD_CLOEXEC, 3 + preserveFds);
  libc.close(r.fd);
  return high;
}

export function reportStartFailure(fd: number | undefined, msg: string): void {
  if (fd === undefined) return;
  try {
    libc.write(fd, Buffer.from(msg + '\n'));
  } catch {
    // start went away: stderr still gets the message
  }
}
