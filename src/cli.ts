// toyrun's command line, runc's shape: global flags, then the command, its
// flags, and the container id last (`kill ID SIGNAL` excepted). Both
// `--flag value` and `--flag=value` work. The environment may be empty and the
// cwd arbitrary (podman runs some commands with only XDG_RUNTIME_DIR set).
import minimist from 'minimist';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configureLog, logDebug, logError, writeFd } from './log';
import { DEFAULT_ROOT, OCI_VERSION } from './container/store';
import { defaultRoot, setRootlessFlag } from './linux/rootless';
import { hostCgroupVersion } from './linux/cgroups/layout';
import { VERSION } from './version';
import { commandSpec, commandTable, flagLists, usageText, type CommandContext, type GlobalOptions } from './commands';
import { startTrace, traceError } from './trace/record';

/** Global flags that take a value; every other global flag is a boolean. */
const GLOBAL_VALUE_FLAGS: ReadonlySet<string> = new Set(['root', 'log', 'log-format', 'criu', 'rootless', 'trace']);

export interface ParsedCommandLine {
  globals: GlobalOptions;
  command?: string;
  rest: string[];
  version: boolean;
  help: boolean;
}

export function parseGlobals(argv: string[]): ParsedCommandLine {
  const g: GlobalOptions = { root: DEFAULT_ROOT, logFormat: 'text', debug: false, systemdCgroup: false };
  let version = false, help = false, rootGiven = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--') {
      i++;
      break;
    }
    const eq = a.indexOf('=');
    const name = a.replace(/^--?/, '').slice(0, eq < 0 ? undefined : eq - (a.startsWith('--') ? 2 : 1));
    let value: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
    if (GLOBAL_VALUE_FLAGS.has(name) && value === undefined) value = argv[++i];
    switch (name) {
      case 'root': g.root = resolve(value ?? DEFAULT_ROOT); rootGiven = true; break;
      case 'rootless':
        try {
          setRootlessFlag(value);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      case 'log': g.log = value; break;
      case 'trace':
        if (!value) throw new UsageError('--trace needs a file to write the trace to');
        g.trace = resolve(value);
        break;
      case 'log-format':
        if (value !== 'text' && value !== 'json') throw new UsageError(`invalid --log-format ${JSON.stringify(value)}: text or json`);
        g.logFormat = value;
        break;
      case 'debug': g.debug = value === undefined || value === 'true'; break;
      case 'systemd-cgroup': g.systemdCgroup = value === undefined || value === 'true'; break;
      case 'version': case 'v': version = true; break;
      case 'help': case 'h': help = true; break;
      default: break; // runc flags toyrun has no use for (--criu, ...): accepted
    }
  }
  if (!rootGiven) {
    // a non-root user's default is $XDG_RUNTIME_DIR/toyrun (src/linux/rootless.ts); '' until a command needs it
    const d = defaultRoot();
    g.root = 'root' in d ? d.root : '';
    if ('error' in d) g.rootError = d.error;
  }
  return { globals: g, command: argv[i], rest: argv.slice(i + 1), version, help };
}

export class UsageError extends Error {}

export function versionText(): string {
  const engine = process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`;
  return `toyrun version ${VERSION}\nspec: ${OCI_VERSION}\nengine: ${engine}\n`;
}

const GLOBAL_HELP = `  --root DIR            state directory (default ${DEFAULT_ROOT}; $XDG_RUNTIME_DIR/toyrun for a non-root user)
  --log FILE            append errors (and debug lines) to FILE
  --log-format FORMAT   text or json (default text)
  --debug               log debug lines
  --trace FILE          append every step asked of the kernel to FILE (JSON lines; see toyrun trace show)
  --systemd-cgroup      read cgroupsPath as slice:prefix:name
  --rootless VALUE      true, false or auto (default: auto, rootless when not root or in a user namespace)
  --version             print the version
`;

/** A command's flags, as declared in the registry (src/commands.ts). */
export function parseFlags(command: string, rest: string[]): minimist.ParsedArgs {
  const f = flagLists(command);
  return parseCommand(rest, f.strings, f.booleans, f.alias);
}

/** Parse a command's own flags; the id is the first positional. minimist reads
 * "--no-X" as X=false, so runc's real "--no-pivot"-style flags are renamed first. */
export function parseCommand(rest: string[], strings: string[], booleans: string[], alias: Record<string, string> = {}): minimist.ParsedArgs {
  const negative = booleans.filter((b) => b.startsWith('no-'));
  const args = rest.map((a) => {
    const hit = negative.find((b) => a === `--${b}` || a.startsWith(`--${b}=`));
    return hit ? a.replace(`--${hit}`, `--x-${hit}`) : a;
  });
  const parsed = minimist(args, { string: strings, boolean: [...booleans, ...negative.map((b) => `x-${b}`)], alias, '--': true });
  for (const b of negative) {
    parsed[b] = parsed[`x-${b}`] === true;
    delete parsed[`x-${b}`];
  }
  return parsed;
}

/** Index of the container id in `ps`'s arguments (the first positional). */
export function psIdIndex(rest: string[]): number {
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i] as string;
    if (x === '--') return i;
    if (x === '--format' || x === '-f') i++;
    else if (!x.startsWith('-')) return i;
  }
  return rest.length;
}

export function requireId(args: minimist.ParsedArgs, command: string): string {
  const id = args._[0];
  if (id === undefined || id === '') throw new UsageError(`${command}: container id is required`);
  return String(id);
}

export function intFlag(v: unknown, name: string, def = 0): number {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`invalid --${name} ${JSON.stringify(v)}`);
  return n;
}

function out(s: string): void {
  writeFd(1, s);
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseGlobals(argv);
  } catch (e) {
    writeFd(2, `${(e as Error).message}\n`);
    return 1;
  }
  const { globals: g, command } = parsed;
  configureLog({ file: g.log, format: g.logFormat, debug: g.debug });
  if (parsed.version && !command) {
    out(versionText());
    return 0;
  }
  const rest = parsed.rest;
  if (!command || parsed.help || command === 'help') {
    out(usageText(GLOBAL_HELP, command === 'help' && rest[0] ? commandSpec(rest[0]) : undefined));
    return command || parsed.help ? 0 : 1;
  }
  const spec = commandSpec(command);
  if (spec && (rest[0] === '--help' || rest[0] === '-h')) {
    out(usageText(GLOBAL_HELP, spec));
    return 0;
  }
  // the command only: its arguments may carry values (exec --env) that do not belong in a log
  logDebug(`toyrun ${VERSION}: ${command}`);
  try {
    if (!g.root && !['spec', 'features', 'version', 'trace'].includes(command)) throw new UsageError(g.rootError ?? 'no state directory: give --root DIR');
    if (g.trace) startTrace(g.trace, command);
    switch (command) {
      case 'spec': {
        const a = parseFlags(command, rest);
        const file = join(resolve(a.bundle ?? process.cwd()), 'config.json');
        if (existsSync(file)) throw new UsageError(`File ${file} exists. Remove it first`);
        writeFileSync(file, (require('./spec/runc-default') as typeof import('./spec/runc-default')).runcSpecText(a.rootless === true, hostCgroupVersion() === 2));
        return 0;
      }
      case 'features':
        out(JSON.stringify((require('./features') as typeof import('./features')).featuresDocument(), null, 4) + '\n');
        return 0;
      case 'version':
        out(versionText());
        return 0;
      default: {
        const handler = commandTable[command];
        if (!handler) throw new UsageError(`unknown command ${JSON.stringify(command)} (see toyrun --help)`);
        const ctx: CommandContext = { ...g, out };
        return await handler(ctx, rest);
      }
    }
  } catch (e) {
    traceError(e);
    logError(e instanceof Error ? e.message : String(e));
    return 1;
  }
}
