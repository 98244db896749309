// `toyrun run [flags] ID`: the command line of the run operation
// (src/container/run.ts): create + start, then (unless --detach) wait, delete
// (unless --keep), and exit with the container's status.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { intFlag, parseFlags, requireId, UsageError } from './cli';
import { imagePort, type CommandHandler } from './commands';
import { loadBundleSpec, type CreateOptions } from './container/create';
import { relaysTerminal, runContainer } from './container/run';
import type { Spec } from './spec/types';

/** Volumes for `run -v HOST:CTR[:ro]` (host dir created if missing). */
function volumeMounts(v: unknown): NonNullable<Spec['mounts']> {
  const list = v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
  return list.map((spec) => {
    const parts = spec.split(':');
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new UsageError(`invalid volume ${JSON.stringify(spec)}: HOST:CONTAINER[:ro]`);
    const [host, ctr, mode] = parts as [string, string, string | undefined];
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new UsageError(`invalid volume mode ${JSON.stringify(mode)}: ro or rw`);
    const abs = resolve(host);
    mkdirSync(abs, { recursive: true });
    return { destination: ctr, type: 'bind', source: abs, options: ['rbind', mode === 'ro' ? 'ro' : 'rw', 'rprivate'] };
  });
}

export const runCommand: CommandHandler = async (ctx, rest) => {
  const a = parseFlags('run', rest);
  const opts: CreateOptions = {
    root: ctx.root, id: requireId(a, 'run'), bundle: a.bundle, pidFile: a['pid-file'],
    preserveFds: intFlag(a['preserve-fds'], 'preserve-fds'), noPivot: a['no-pivot'] === true,
    consoleSocket: a['console-socket'], systemdCgroup: ctx.systemdCgroup, extraMounts: volumeMounts(a.volume),
    terminal: a.tty === true || undefined, noNewKeyring: a['no-new-keyring'] === true, image: imagePort,
  };
  const detach = a.detach === true;
  const spec = loadBundleSpec(resolve(opts.bundle ?? process.cwd()));
  if (relaysTerminal(opts, spec) && detach) throw new UsageError('cannot allocate tty if toyrun will detach without setting console socket');
  return await runContainer({ ...opts, spec }, detach, a.keep === true);
};
