// The channel between the runtime (create, exec) and the processes it starts for
// a container: two pipes carrying one JSON object per line (the messages and who
// sends them: protocol.ts). The init is another process (spawned, not forked), so
// this is how the plan goes in and progress and errors come out.
import * as libc from '../linux/libc';
import { ChildError, ProtocolError, type InitMessage, type MessageOf, type MessageType } from './protocol';

export class SyncChannel {
  /** Bytes read but not yet returned: the start of the next line, in pieces.
   * Each read is scanned once, for its own newline only, so a message of any
   * size costs time linear in its length (a 100 MB config.json used to be
   * rescanned from the start on every 64 KiB read). */
  private pending: Buffer[] = [];
  private readonly chunk = Buffer.alloc(65536);
  constructor(private readonly readFd: number, private readonly writeFd: number) {}

  send(msg: InitMessage): void {
    const data = Buffer.from(JSON.stringify(msg) + '\n');
    let off = 0;
    while (off < data.length) off += libc.write(this.writeFd, data.subarray(off));
  }

  /** send, for a side that may have stopped listening: false (not an error) when
   * the other end is closed (EPIPE; the engine ignores SIGPIPE). A failing init
   * reports through here: `create` may have given up on it already, and has
   * its own error to print. */
  trySend(msg: InitMessage): boolean {
    try {
      this.send(msg);
      return true;
    } catch (e) {
      if (e instanceof libc.SysError && e.code === 'EPIPE') return false;
      throw e;
    }
  }

  /** Blocks for the next message, which must be one of `types` ('eof': the other
   * side closed the channel). An error report throws ChildError; anything else, or
   * an EOF not expected, throws ProtocolError. */
  expect<T extends MessageType>(...types: T[]): MessageOf<T>;
  expect<T extends MessageType>(...types: (T | 'eof')[]): MessageOf<T> | undefined;
  expect<T extends MessageType>(...types: (T | 'eof')[]): MessageOf<T> | undefined {
    const msg = this.recv();
    if (msg === undefined) {
      if (types.includes('eof')) return undefined;
      throw new ProtocolError(types, 'eof');
    }
    if ((types as string[]).includes(msg.type)) return msg as MessageOf<T>;
    if (msg.type === 'error') throw new ChildError(msg.msg);
    throw new ProtocolError(types, msg.type);
  }

  /** Blocks for the next message; undefined when the other side closed the pipe. */
  private recv(): InitMessage | undefined {
    for (;;) {
      const line = this.takeLine();
      if (line !== undefined) return JSON.parse(line) as InitMessage;
      let n: number;
      try {
        n = libc.read(this.readFd, this.chunk);
      } catch (e) {
        if (e instanceof libc.SysError && e.code === 'EINTR') continue;
        throw e;
      }
      if (n === 0) return undefined;
      this.pending.push(Buffer.from(this.chunk.subarray(0, n)));
    }
  }

  /** The first complete line of pending, if the newest piece holds its end
   * (earlier pieces were scanned when they arrived). Decoded only once whole,
   * so a UTF-8 character split between two reads stays intact. */
  private takeLine(): string | undefined {
    const last = this.pending[this.pending.length - 1];
    if (last === undefined) return undefined;
    const nl = last.indexOf(0x0a);
    if (nl < 0) return undefined;
    const line = Buffer.concat([...this.pending.slice(0, -1), last.subarray(0, nl)]).toString();
    const rest = last.subarray(nl + 1);
    this.pending = rest.length > 0 ? [rest] : [];
    return line;
  }

  private closed = false;

  /** Close both ends, once (a second call must not close numbers reused meanwhile). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.readFd);
    libc.close(this.writeFd);
  }
}

/** The child's first read: its plan, or exit with `code` (the runtime gave up
 * before sending one, or sent something else: nothing to report to). */
export function expectPlan<T extends 'plan' | 'exec'>(chan: SyncChannel, type: T, code: number): MessageOf<T> {
  try {
    return chan.expect(type);
  } catch {
    process.exit(code);
  }
}
