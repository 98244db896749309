// The commands: their flags and help as data (COMMANDS), and their handlers
// (commandTable: src/<command>.ts, each flags → typed options → one call into
// src/container/); cli.ts dispatches (spec, features, version inline).
// Handlers import() their module on dispatch: every toyrun command is a fresh
// process, and bin/toyrun is built with code splitting (the chunks stay inside the
// executable), so a command loads only its own chunks — loading code it will not
// run is start-up time.
import type { ImagePort } from './container/image-port';
import type { LogFormat } from './log';

export interface GlobalOptions {
  root: string;
  /** Why there is no default root (a non-root user without XDG_RUNTIME_DIR): root is '' then. */
  rootError?: string;
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  systemdCgroup: boolean;
  /** --trace FILE: record every kernel-facing step (src/trace/record.ts). */
  trace?: string;
}

export interface CommandContext extends GlobalOptions {
  out(s: string): void;
}

export type CommandHandler = (ctx: CommandContext, rest: string[]) => number | Promise<number>;

/** The image store for create, run and delete: loaded only for a container that
 * uses one (container/ does not import image/: the commands hand it in). */
export function imagePort(): ImagePort {
  return (require('./image/mount') as typeof import('./image/mount')).imagePort;
}

export const commandTable: Record<string, CommandHandler> = {
  create: async (ctx, rest) => (await import('./create')).createCommand(ctx, rest),
  start: async (ctx, rest) => (await import('./start')).startCommand(ctx, rest),
  run: async (ctx, rest) => (await import('./run')).runCommand(ctx, rest),
  kill: async (ctx, rest) => (await import('./kill')).killCommand(ctx, rest),
  delete: async (ctx, rest) => (await import('./delete')).deleteCommand(ctx, rest),
  state: async (ctx, rest) => (await import('./query')).stateCommand(ctx, rest),
  list: async (ctx, rest) => (await import('./query')).listCommand(ctx, rest),
  ps: async (ctx, rest) => (await import('./query')).psCommand(ctx, rest),
  trace: async (ctx, rest) => (await import('./trace/command')).traceCommand(ctx, rest),
  layers: async (ctx, rest) => (await import('./layers')).layersCommand(ctx, rest),
  import: async (ctx, rest) => (await import('./import')).importCommand(ctx, rest),
  exec: async (ctx, rest) => (await import('./exec')).execCommand(ctx, rest),
  // resources (cgroups)
  pause: async (ctx, rest) => (await import('./pause')).pauseCommand(ctx, rest),
  resume: async (ctx, rest) => (await import('./pause')).resumeCommand(ctx, rest),
  update: async (ctx, rest) => (await import('./update')).updateCommand(ctx, rest),
  events: async (ctx, rest) => (await import('./events')).eventsCommand(ctx, rest),
};

// ---- the registry: every command and its flags, declared once ---------------------
// cli.ts parses with these lists (flagLists) and prints --help from them
// (usageText); exec finds where its own flags end from them. runc's flags that
// toyrun takes but has no use for are declared too (so that their value is not
// read as the id) and marked so in their help.

export interface FlagSpec {
  name: string;
  short?: string;
  /** The value's placeholder; absent for a boolean flag. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments, as the synopsis shows them. */
  args: string;
  summary: string;
  flags: FlagSpec[];
}

/** runc's update flags, by how their value is read (update.ts). */
export const UPDATE_BYTE_FLAGS = ['memory', 'memory-reservation', 'memory-swap', 'kernel-memory', 'kernel-memory-tcp'];
export const UPDATE_INT_FLAGS = ['cpu-share', 'cpu-shares', 'cpu-period', 'cpu-quota', 'cpu-rt-period', 'cpu-rt-runtime', 'cpu-idle', 'pids-limit', 'blkio-weight'];
export const UPDATE_STRING_FLAGS = ['cpuset-cpus', 'cpuset-mems', 'l3-cache-schema', 'mem-bw-schema'];

const CREATE_FLAGS: FlagSpec[] = [
  { name: 'bundle', short: 'b', value: 'DIR', help: 'the bundle: config.json and the rootfs (default: the cwd)' },
  { name: 'pid-file', value: 'FILE', help: "write the init's host PID to FILE" },
  { name: 'preserve-fds', value: 'N', help: 'pass fds 3..N+2 to the container process' },
  { name: 'console-socket', value: 'SOCKET', help: "send the terminal's master fd to this unix socket" },
  { name: 'no-pivot', help: 'move the root with MS_MOVE instead of pivot_root (a ramdisk root)' },
  { name: 'no-new-keyring', help: "keep the caller's session keyring instead of a fresh one" },
  { name: 'notify-socket', value: 'SOCKET', help: "runc's sd_notify relay: accepted, not used" },
  { name: 'pidfd-socket', value: 'SOCKET', help: "runc's pidfd relay: accepted, not used" },
];

export const COMMANDS: CommandSpec[] = [
  { name: 'create', args: 'ID', summary: 'create a container; its init waits for start', flags: CREATE_FLAGS },
  { name: 'start', args: 'ID', summary: 'release a created container', flags: [] },
  {
    name: 'run', args: 'ID', summary: 'create + start (+ wait and delete, unless --detach or --keep)',
    flags: [
      ...CREATE_FLAGS,
      { name: 'detach', short: 'd', help: 'return once the process runs' },
      { name: 'keep', help: 'do not delete the container when it exits' },
      { name: 'tty', short: 't', help: 'give the process a terminal' },
      { name: 'volume', short: 'v', value: 'HOST:CTR[:ro]', help: 'bind HOST at CTR (repeatable; HOST is created if missing)' },
    ],
  },
  { name: 'state', args: 'ID', summary: 'print the OCI state JSON', flags: [] },
  { name: 'kill', args: 'ID [SIGNAL]', summary: 'signal the init (default SIGTERM)', flags: [{ name: 'all', short: 'a', help: 'signal every process in the container' }] },
  { name: 'delete', args: 'ID', summary: 'remove a stopped container', flags: [{ name: 'force', short: 'f', help: 'kill a running one first' }] },
  {
    name: 'list', args: '', summary: 'list the containers',
    flags: [{ name: 'format', short: 'f', value: 'table|json', help: 'output format' }, { name: 'quiet', short: 'q', help: 'ids only' }],
  },
  { name: 'ps', args: 'ID [PS-ARGS]', summary: "the container's processes", flags: [{ name: 'format', short: 'f', value: 'table|json', help: 'output format' }] },
  {
    name: 'exec', args: 'ID [ARGS...]', summary: 'run a new process in a running container',
    flags: [
      { name: 'process', short: 'p', value: 'FILE', help: 'the process as a JSON file (config.json\'s "process")' },
      { name: 'detach', short: 'd', help: 'return once the process runs' },
      { name: 'pid-file', value: 'FILE', help: "write the process's host PID to FILE" },
      { name: 'tty', short: 't', help: 'give the process a terminal' },
      { name: 'console-socket', value: 'SOCKET', help: "send the terminal's master fd to this unix socket" },
      { name: 'preserve-fds', value: 'N', help: 'pass fds 3..N+2 to the process' },
      { name: 'cwd', value: 'DIR', help: 'working directory' },
      { name: 'env', short: 'e', value: 'K=V', help: 'environment variable (repeatable)' },
      { name: 'user', short: 'u', value: 'UID[:GID]', help: 'user and group' },
      { name: 'additional-gids', short: 'g', value: 'GID', help: 'supplementary group (repeatable)' },
      { name: 'cap', short: 'c', value: 'CAP', help: 'add a capability (repeatable)' },
      { name: 'no-new-privs', help: 'set no_new_privs' },
      { name: 'ignore-paused', help: 'exec even in a paused container' },
      { name: 'process-label', value: 'LABEL', help: 'SELinux label: refused (no SELinux here)' },
      { name: 'apparmor', value: 'PROFILE', help: 'AppArmor profile for the process (default: the container\'s)' },
      { name: 'cgroup', value: 'PATH', help: 'a sub-cgroup to join: refused' },
    ],
  },
  { name: 'pause', args: 'ID', summary: 'freeze every process of the container', flags: [] },
  { name: 'resume', args: 'ID', summary: 'thaw a paused container', flags: [] },
  {
    name: 'update', args: 'ID', summary: "change a container's resource limits",
    flags: [
      { name: 'resources', short: 'r', value: 'FILE|-', help: 'linux.resources as JSON' },
      ...UPDATE_BYTE_FLAGS.map((name) => ({ name, value: 'BYTES', help: `runc's --${name}` })),
      ...UPDATE_INT_FLAGS.map((name) => ({ name, value: 'N', help: `runc's --${name}` })),
      ...UPDATE_STRING_FLAGS.map((name) => ({ name, value: 'VALUE', help: `runc's --${name}` })),
    ],
  },
  {
    name: 'events', args: 'ID', summary: 'stats and OOM events (JSON lines)',
    flags: [{ name: 'stats', help: 'print the stats once' }, { name: 'interval', value: 'DURATION', help: 'stats every DURATION (default 5s)' }],
  },
  {
    name: 'spec', args: '', summary: "write runc's default config.json",
    flags: [{ name: 'bundle', short: 'b', value: 'DIR', help: 'where (default: the cwd)' }, { name: 'rootless', help: 'the rootless variant' }],
  },
  { name: 'features', args: '', summary: 'print the implemented features (JSON)', flags: [] },
  { name: 'import', args: 'ARCHIVE DIR', summary: 'turn an image archive into a bundle', flags: [{ name: 'image', value: 'NAME', help: 'which image of the archive' }] },
  {
    name: 'layers', args: '[ls|prune]', summary: 'list unpacked layers / remove those no container uses',
    flags: [{ name: 'format', short: 'f', value: 'table|json', help: 'output format' }, { name: 'quiet', short: 'q', help: 'digests only' }],
  },
  {
    name: 'trace', args: 'show FILE', summary: 'tell (or draw) what a --trace run asked of the kernel',
    flags: [{ name: 'svg', help: 'draw the timeline as SVG' }, { name: 'html', help: 'the timeline in an HTML page' }],
  },
  { name: 'version', args: '', summary: 'print the version', flags: [] },
];

export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** What parseCommand (cli.ts) needs: value flags, booleans, short aliases. */
export function flagLists(name: string): { strings: string[]; booleans: string[]; alias: Record<string, string> } {
  const flags = commandSpec(name)?.flags ?? [];
  return {
    strings: flags.filter((f) => f.value !== undefined).map((f) => f.name),
    booleans: flags.filter((f) => f.value === undefined).map((f) => f.name),
    alias: Object.fromEntries(flags.filter((f) => f.short).map((f) => [f.short as string, f.name])),
  };
}

/** The names (long and short) of a command's flags that take a value. */
export function valueFlagNames(name: string): Set<string> {
  const flags = (commandSpec(name)?.flags ?? []).filter((f) => f.value !== undefined);
  return new Set(flags.flatMap((f) => (f.short ? [f.name, f.short] : [f.name])));
}

/** `toyrun --help`, or one command's flags. */
export function usageText(globals: string, command?: CommandSpec): string {
  if (command) {
    const lines = command.flags.map((f) => {
      const left = `  ${f.short ? `-${f.short}, ` : ''}--${f.name}${f.value ? ` ${f.value}` : ''}`;
      return `${left.padEnd(34)}${f.help}`;
    });
    return `usage: toyrun [global flags] ${command.name}${command.flags.length ? ' [flags]' : ''}${command.args ? ` ${command.args}` : ''}\n\n${command.summary}\n${lines.length ? `\nflags:\n${lines.join('\n')}\n` : ''}`;
  }
  const rows = COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.padEnd(26)}${c.summary}`);
  return `toyrun: an OCI container runtime (runc-compatible command line)\n\nusage: toyrun [global flags] COMMAND [flags] ID\n\nglobal flags:\n${globals}\ncommands:\n${rows.join('\n')}\n\n(toyrun COMMAND --help: its flags)\n`;
}
