// The run operation (`toyrun run`, src/run.ts): create + start, then (unless --detach) wait for the container,
// forward signals to it, delete it (unless --keep), and exit with its status (128+N for signal N).
import { createContainer, loadBundleSpec, type CreateOptions } from './create';
import { traceStage } from '../trace/record';
import { resolve } from 'node:path';
import { ConsoleReceiver, relayTerminal } from '../process/tty-relay';
import { startContainer } from './start';
import { deleteContainer } from './delete';
import { exitCode, waitForwardingSignals } from '../linux/spawn';
import { logError, trace } from '../log';
import type { Spec } from '../spec/types';

/** process.terminal without a console socket: toyrun receives the pty itself
 * and relays it to the user's terminal (runc's behaviour). */
export function relaysTerminal(opts: Pick<CreateOptions, 'consoleSocket' | 'terminal'>, spec: Spec): boolean {
  return !opts.consoleSocket && (opts.terminal === true || spec.process?.terminal === true);
}

/** `keep` (run --keep): the container is not deleted when it exits (or fails to
 * start), and stays "stopped" for state/ps/delete, as runc does. */
export function runContainer(opts: CreateOptions, detach: boolean, keep = false): Promise<number> {
  const spec = opts.spec ?? loadBundleSpec(resolve(opts.bundle ?? process.cwd()));
  const terminal = relaysTerminal(opts, spec);
  const receiver = terminal ? new ConsoleReceiver() : undefined;
  let created: ReturnType<typeof createContainer>;
  let master: number | undefined;
  try {
    created = createContainer({ ...opts, spec, startsAtOnce: true, ...(receiver ? { consoleSocket: receiver.path } : {}) });
    try {
      if (receiver) master = receiver.receiveMaster();
      startContainer(opts.root, opts.id);
      trace('started');
    } catch (e) {
      if (!keep) deleteContainer(opts.root, opts.id, true, opts.image);
      throw e;
    }
  } finally {
    receiver?.close();
  }
  if (detach) return Promise.resolve(0);
  // forwarding starts before the relay, which yields to the event loop for it
  traceStage('wait for exit');
  const exited = waitForwardingSignals(created.rec.pid, { terminal: master !== undefined });
  const relayed = master !== undefined ? relayTerminal(master) : Promise.resolve();
  return Promise.all([exited, relayed]).then(([st]) => {
    trace('container exited');
    const status = exitCode(st);
    if (keep) return status;
    try {
      deleteContainer(opts.root, opts.id, true, opts.image);
      trace('deleted');
    } catch (e) {
      logError((e as Error).message);
    }
    return status;
  });
}
