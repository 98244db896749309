// The stage runner of the init and of the exec helper: one skeleton for both, so
// a defence added to one is in both (non-dumpable comes first, src/init/undumpable.ts;
// the way out is one shared finalize, src/init/finalize.ts). A stage has a unique
// name, is timed (create shows the times with --debug), and names itself in the
// error a failure reports, so the user reads "mounts: mount /proc: EPERM"; and
// it names the steps of a --trace (src/trace/record.ts).
import { ExecError } from '../linux/process';
import { freezeTraceClock, traceStage } from '../trace/record';
export class StageRunner {
  /** The stage running now, named in errors. */
  current = 'engine start-up';
  /** Stage durations in ms; the first is the engine's own start-up. */
  readonly times: [string, number][] = [['engine start-up', performance.now()]];
  private readonly seen = new Set<string>();

  run<T>(name: string, fn: () => T): T {
    this.enter(name);
    const t0 = performance.now();
    const out = fn();
    this.times.push([name, performance.now() - t0]);
    return out;
  }

  /** The stage that installs the seccomp filter: named like the others, but not
   * timed. Past the filter the engine must not read the clock: where the kernel
   * has no vDSO clock (an emulated VM), clock_gettime is a real syscall, a
   * strict profile refuses it, and the engine aborts on the error (seen on 6.1). */
  runLast(name: string, fn: () => void): void {
    this.enter(name);
    freezeTraceClock();
    fn();
  }

  private enter(name: string): void {
    // two stages of one name would make an error or a timing ambiguous
    if (this.seen.has(name)) throw new Error(`stage ${JSON.stringify(name)} is run twice`);
    this.seen.add(name);
    this.current = name;
    traceStage(name);
  }

  /** An error for the runtime: prefixed with the stage, unless it is the program's
   * own lookup failure (ExecError: runc's words, "exec: \"sh\": …", unprefixed). */
  describe(e: unknown): string {
    const msg = e instanceof Error ? e.message : String(e);
    return e instanceof ExecError ? msg : `${this.current}: ${msg}`;
  }
}
