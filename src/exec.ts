// `toyrun exec ID [flags] [--] ARGS...` or `exec --process FILE ID`: the
// command line of the exec operation (src/container/exec.ts). runc's flags
// become a Process (or the --process file is read), then one call. Failures exit 255.
import { readFileSync } from 'node:fs';
import { containerDir, loadSpec } from './container/store';
import { execInContainer } from './container/exec';
import { validateProcessSpec, ValidationError } from './spec/validate';
import { parseCommand, UsageError } from './cli';
import { logError } from './log';
import { flagLists, valueFlagNames, type CommandContext } from './commands';
import type { Process, Spec } from './spec/types';

/** exec's flags that take a value (src/commands.ts): where the flags end and the id is. */
const VALUE_FLAGS = valueFlagNames('exec');

/** Split `exec` argv into its flags, the id and the command: everything after
 * the id belongs to the command, even words that look like flags (`sh -c ...`). */
export function splitExecArgs(rest: string[]): { flags: string[]; id?: string; args: string[] } {
  const flags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === '--') {
      const id = rest[i + 1];
      return { flags, id, args: rest.slice(i + 2) };
    }
    if (a.startsWith('-') && a !== '-') {
      flags.push(a);
      const name = a.replace(/^--?/, '');
      if (!name.includes('=') && VALUE_FLAGS.has(name) && i + 1 < rest.length) flags.push(rest[++i] as string);
      continue;
    }
    const after = rest.slice(i + 1);
    return { flags, id: a, args: after[0] === '--' ? after.slice(1) : after };
  }
  return { flags, args: [] };
}

function list(v: unknown): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Ids reach setresuid/setresgid/setgroups as 32-bit values: 4294967295 is -1,
 * "leave unchanged" (the process would stay root), and 4294967296 would wrap to 0.
 * The schema holds config.json and --process files to the same range. */
export const MAX_ID = 2147483647;

function parseId(text: string | undefined, flag: string, whole: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > MAX_ID) throw new UsageError(`invalid ${flag} ${JSON.stringify(whole)}: ids must be 0-${MAX_ID}`);
  return n;
}

function parseUser(s: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(s);
  if (!m) throw new UsageError(`invalid --user ${JSON.stringify(s)}: expected UID[:GID] (numbers)`);
  return { uid: parseId(m[1], '--user', s), gid: m[2] === undefined ? 0 : parseId(m[2], '--user', s) };
}

/** The process to run: the --process file as is, or the container's own
 * process with runc's command-line overrides. */
export function execProcess(a: ReturnType<typeof parseCommand>, args: string[], spec: Spec | undefined): Process {
  if (a.process !== undefined) {
    const file = String(a.process);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ValidationError(file, [(e as NodeJS.ErrnoException).code ? `cannot read: ${(e as NodeJS.ErrnoException).code}` : `invalid JSON: ${(e as Error).message}`]);
    }
    const p = validateProcessSpec(data, file);
    if (a.tty === true) p.terminal = true;
    return p;
  }
  if (args.length === 0) throw new UsageError('exec: args must not be empty (give a command after the id, or --process FILE)');
  const base: Process = structuredClone(spec?.process ?? { user: { uid: 0, gid: 0 }, cwd: '/' });
  const p: Process = { ...base, args, terminal: a.tty === true };
  delete p.consoleSize;
  if (a.cwd !== undefined) p.cwd = String(a.cwd);
  p.env = [...(p.env ?? []), ...list(a.env)];
  if (a.user !== undefined) p.user = { ...parseUser(String(a.user)) };
  const gids = list(a['additional-gids']).map((g) => {
    if (!/^\d+$/.test(g)) throw new UsageError(`invalid --additional-gids ${JSON.stringify(g)}: expected a number`);
    return parseId(g, '--additional-gids', g);
  });
  if (gids.length > 0) p.user = { ...p.user, additionalGids: gids };
  if (a['no-new-privs'] === true) p.noNewPrivileges = true;
  const caps = list(a.cap);
  if (caps.length > 0) {
    const c = { ...(p.capabilities ?? {}) };
    c.bounding = [...(c.bounding ?? []), ...caps];
    c.effective = [...(c.effective ?? []), ...caps];
    c.permitted = [...(c.permitted ?? []), ...caps];
    p.capabilities = c;
  }
  return p;
}


export async function execCommand(ctx: CommandContext, rest: string[]): Promise<number> {
  try {
    const { flags, id, args } = splitExecArgs(rest);
    const f = flagLists('exec');
    const a = parseCommand(flags, f.strings, f.booleans, f.alias);
    if (!id) throw new UsageError('exec: container id is required');
    const preserve = a['preserve-fds'] === undefined ? 0 : Number(a['preserve-fds']);
    if (!Number.isInteger(preserve) || preserve < 0) throw new UsageError(`invalid --preserve-fds ${JSON.stringify(a['preserve-fds'])}`);
    if (a['process-label']) throw new UsageError('exec: --process-label: SELinux is not available on this host');
    if (a.cgroup) throw new UsageError('exec: --cgroup (a sub-cgroup to join) is not supported by toyrun');
    const spec = loadSpec(containerDir(ctx.root, id));
    const proc = execProcess(a, args, spec);
    if (a.apparmor) proc.apparmorProfile = String(a.apparmor);
    const consoleSocket = a['console-socket'];
    const detach = a.detach === true;
    if (proc.terminal && detach && !consoleSocket) throw new UsageError('cannot allocate tty if toyrun will detach without setting console socket');
    if (!proc.terminal && consoleSocket) throw new UsageError('cannot use console socket if toyrun will not allocate tty');
    return await execInContainer({
      root: ctx.root,
      id,
      process: proc,
      detach,
      pidFile: a['pid-file'],
      consoleSocket,
      preserveFds: preserve,
      ignorePaused: a['ignore-paused'] === true,
    });
  } catch (e) {
    logError(e instanceof Error ? e.message : String(e));
    return 255;
  }
}
