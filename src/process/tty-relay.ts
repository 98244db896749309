// `toyrun run -t` / `exec -t` without --console-socket: toyrun is its own
// console-socket receiver and relays the pty master to the user's terminal,
// like runc does. The user's terminal goes raw (the container's line
// discipline does the editing and signal keys), and its window size is copied
// to the pty whenever it changes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as libc from '../linux/libc';
import { POLLHUP, POLLIN, SysError } from '../linux/libc';
import { getWindowSize, listenConsoleSocket, recvFd, setWindowSize } from '../linux/console';

export class ConsoleReceiver {
  readonly path: string;
  private readonly dir: string;
  private readonly fd: number;

  constructor() {
    // tmpdir(): a short path (sun_path is 108 bytes) that exists with an empty environment
    this.dir = mkdtempSync(join(tmpdir(), 'toyrun-console-'));
    this.path = join(this.dir, 'console.sock');
    this.fd = listenConsoleSocket(this.path);
  }

  /** The runtime connected and sent during create/exec: the connection waits in the backlog. */
  receiveMaster(): number {
    const conn = libc.accept(this.fd);
    try {
      return recvFd(conn, this.path);
    } finally {
      libc.close(conn);
    }
  }

  close(): void {
    libc.close(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += libc.write(fd, data.subarray(off));
    } catch (e) {
      if (e instanceof SysError && (e.code === 'EAGAIN' || e.code === 'EINTR')) {
        libc.pollFds([{ fd, events: libc.POLLOUT }], 100);
        continue;
      }
      throw e;
    }
  }
}

/** Relay until the container side of the pty is closed by every process.
 * If the user's side fails instead (terminal gone, EIO/EPIPE), the relay ends
 * and closing the master hangs up the container's session, as a terminal would. */
export async function relayTerminal(master: number): Promise<void> {
  const stdinTty = libc.isatty(0);
  const saved = stdinTty ? libc.tcgetattr(0) : undefined;
  if (saved) libc.tcsetattr(0, libc.cfmakeraw(saved));
  let size = getWindowSize(0);
  if (size) setWindowSize(master, size);
  const buf = Buffer.alloc(65536);
  let stdinOpen = true;
  try {
    for (;;) {
      const fds = [{ fd: master, events: POLLIN }];
      if (stdinOpen) fds.push({ fd: 0, events: POLLIN });
      // Back to the event loop between polls: the signals sent to toyrun are
      // forwarded to the container by listeners that only run there. The timeout
      // bounds how late such a signal, or a window-size change, is acted on.
      await new Promise((resolve) => setImmediate(resolve));
      const [mRev = 0, iRev = 0] = libc.pollFds(fds, 50);
      const now = getWindowSize(0);
      if (now && (now.width !== size?.width || now.height !== size?.height)) {
        setWindowSize(master, now);
        size = now;
      }
      if (!(mRev & POLLIN) && mRev & POLLHUP) break;
      if (mRev & POLLIN) {
        let n: number;
        try {
          n = libc.read(master, buf);
        } catch (e) {
          if (e instanceof SysError && e.code === 'EIO') break; // every slave fd closed
          throw e;
        }
        if (n === 0) break;
        writeAll(1, buf.subarray(0, n));
      }
      if (iRev & (POLLIN | POLLHUP)) {
        let n = 0;
        try {
          n = libc.read(0, buf);
        } catch (e) {
          if (!(e instanceof SysError && e.code === 'EAGAIN')) n = 0;
          else continue;
        }
        // end of the user's input: stop forwarding, as runc does (a ^D sent for it
        // could be flushed by the program's own tcsetattr before it reads)
        if (n === 0) stdinOpen = false;
        else writeAll(master, buf.subarray(0, n));
      }
    }
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
  } finally {
    try {
      if (saved) libc.tcsetattr(0, saved);
    } catch {
      // the terminal is gone
    }
    libc.close(master);
  }
}
