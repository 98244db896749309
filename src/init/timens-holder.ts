// The time namespace holder, the child's side of src/process/timens-holder.ts
// (why a holder at all is told there).
import * as libc from '../linux/libc';
import { writeTimeOffsets } from '../linux/timens';
import { readRetry } from '../process/timens-holder';

/** The holder (init.js HOLDER_ARG OFFSETS REPORT_FD RELEASE_FD): after the unshare
 * only native calls run, and it exits without starting a thread (refused before 6.2);
 * it reports on REPORT_FD and exits at EOF on RELEASE_FD. */
export function runTimeNamespaceHolder(args: string[]): never {
  const [offsets, reportFd, releaseFd] = [args[0] ?? '', Number(args[1]), Number(args[2])];
  // JavaScriptCore starts its GC helper threads lazily: now, before the unshare
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
  let report = 'ok';
  try {
    libc.unshare(libc.CLONE.NEWTIME);
    if (offsets) writeTimeOffsets(offsets);
  } catch (e) {
    report = `/linux/timeOffsets: ${(e as Error).message}`;
  }
  try {
    libc.write(reportFd, Buffer.from(report));
    // blocks until the runtime has its reference on the namespace (or is gone)
    readRetry(releaseFd, Buffer.alloc(1));
  } catch {
    // the runtime is gone: nothing to hold for
  }
  process.exit(report === 'ok' ? 0 : 1);
}
