// `toyrun update ID [--resources FILE|-] [--memory N] [--cpu-share N] ...`: the
// command line of the update operation (src/container/update.ts): runc's flags
// and the --resources file become one Resources object, then one call.
import { readFileSync } from 'node:fs';
import { parseCommand, requireId, UsageError } from './cli';
import { flagLists, type CommandHandler } from './commands';
import { mergeResources, updateContainer } from './container/update';
import { ValidationError } from './spec/validate';
import type { Resources } from './spec/types';

/** Docker's RAMInBytes: "96m", "1.5GiB", "1024"; binary units. "-1" means unlimited. */
export function parseBytes(s: string, flag: string): number {
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp])?(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid value for --${flag}: ${JSON.stringify(s)} (a size like 67108864, 64m or 1g)`);
  const exp = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * 1024 ** exp);
}

function parseInteger(s: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(s) || Number(s) < min) throw new Error(`invalid value for --${flag}: ${JSON.stringify(s)} (an integer >= ${min})`);
  return Number(s);
}


/** minimist reads the "-1" of `--memory-swap -1` as a flag: glue negative values to their flag. */
export function joinNegativeValues(rest: string[], valueFlags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i] as string, next = rest[i + 1];
    if (next !== undefined && /^-\d/.test(next) && valueFlags.some((f) => x === `--${f}`)) {
      out.push(`${x}=${next}`);
      i++;
    } else {
      out.push(x);
    }
  }
  return out;
}

/** runc's individual update flags, as a Resources fragment. */
export function resourcesFromFlags(a: Record<string, unknown>): Resources {
  const r: Resources = {};
  const str = (k: string): string | undefined => (a[k] === undefined ? undefined : String(a[k]));
  const bytes = (k: string): number | undefined => (str(k) === undefined ? undefined : parseBytes(str(k) as string, k));
  const int = (k: string, min = 0): number | undefined => (str(k) === undefined ? undefined : parseInteger(str(k) as string, k, min));
  const memory = {
    limit: bytes('memory'), reservation: bytes('memory-reservation'), swap: bytes('memory-swap'),
    kernel: bytes('kernel-memory'), kernelTCP: bytes('kernel-memory-tcp'),
  };
  const cpu = {
    shares: int('cpu-share') ?? int('cpu-shares'), period: int('cpu-period'), quota: int('cpu-quota', -1),
    realtimePeriod: int('cpu-rt-period'), realtimeRuntime: int('cpu-rt-runtime', -1), idle: int('cpu-idle'),
    cpus: str('cpuset-cpus'), mems: str('cpuset-mems'),
  };
  const defined = <T extends object>(o: T): T | undefined => {
    const e = Object.entries(o).filter(([, v]) => v !== undefined);
    return e.length > 0 ? (Object.fromEntries(e) as T) : undefined;
  };
  const mem = defined(memory);
  if (mem) r.memory = mem;
  const c = defined(cpu);
  if (c) r.cpu = c;
  const pids = int('pids-limit', -1);
  if (pids !== undefined) r.pids = { limit: pids };
  const w = int('blkio-weight');
  if (w !== undefined) r.blockIO = { weight: w };
  if (str('l3-cache-schema') !== undefined || str('mem-bw-schema') !== undefined) {
    throw new Error('--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by toyrun');
  }
  return r;
}

export function readResourcesFile(file: string): Resources {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new Error(`--resources ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const name = file === '-' ? '<stdin>' : file;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(name, [`invalid JSON: ${(e as Error).message}`]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ValidationError(name, ['/ must be an object (linux.resources)']);
  return data as Resources;
}

export const updateCommand: CommandHandler = (ctx, rest) => {
  const f = flagLists('update');
  const a = parseCommand(joinNegativeValues(rest, f.strings), f.strings, f.booleans, f.alias);
  const id = requireId(a, 'update');
  const file = a.resources as string | undefined;
  const fromFile = file !== undefined ? readResourcesFile(file) : {};
  const upd = mergeResources(fromFile, resourcesFromFlags(a));
  if (Object.keys(upd).length === 0) throw new UsageError('update: nothing to update (give --resources FILE|- or a flag such as --memory)');
  updateContainer(ctx.root, id, upd, file === undefined ? 'update flags' : file === '-' ? '<stdin>' : file);
  return 0;
};
