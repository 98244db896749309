// `toyrun exec ID [flags] [--] ARGS...` or `exec --process FILE ID`: start one
// more process in a running container. The PID namespace only applies to
// children, so the CLI's main thread setns's into the init's, spawns the
// exec-init (src/init/exec-init.ts), and switches back; the exec-init joins the rest
// itself. Without --detach we wait and return the process's exit status; with
// it we return once the process has execve'd, leaving it to the caller's
// subreaper (conmon, containerd-shim), as runc does. Failures exit 255.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitCode, waitForwardingSignals, type ChildNamespace } from './linux/spawn';
import * as libc from './linux/libc';
import { loadContainer } from './container/load';
import { ContainerError, containerDir, loadSpec } from './container/store';
import { findNamespace, NS_PROC_NAME } from './linux/namespaces';
import type { SyncChannel } from './process/channel';
import { spawnSynced } from './process/launch';
import type { ExecPlan } from './process/plan';
import { ChildError, ProtocolError } from './process/protocol';
import { validateProcessSpec, ValidationError } from './spec/validate';
import { writePidFile } from './container/store';
import { EXEC_INIT_ROLE, INIT_ROLE } from './paths';
import { spawnExecInUserNamespace } from './process/userns';
import { apparmorEnabled } from './linux/lsm';
import { processHostProblems, processHostWarnings } from './container/host-checks';
import { allJoinFiles, moveIntoCgroup, startMoveGracePeriod } from './linux/cgroups/join';
import { cgroupDriver } from './linux/cgroups/manager';
import { ConsoleReceiver, relayTerminal } from './process/tty-relay';
import { parseCommand, UsageError } from './cli';
import { logDebug, logError, logWarn } from './log';
import { sessionKeyringName } from './linux/keyring';
import { flagLists, valueFlagNames, type CommandContext } from './commands';
import { traceHandoff, traceStage } from './trace/record';
import type { Process, Spec } from './spec/types';
import { setAffinity } from './linux/sched';
import type { ContainerRecord } from './container/store';
import { joinIntelRdt } from './linux/intelrdt';
import { requireStatus } from './container/status';

export interface ExecOptions {
  root: string;
  id: string;
  process: Process;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  ignorePaused?: boolean;
}

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


/** The exec-init enters the container's PID (and time) namespace as a first
 * child of this thread, the way create starts the init (spawnSynced). */
function spawnExecInit(initPid: number, forChildren: ChildNamespace['type'][], preserveFds: number): { pid: number; chan: SyncChannel } {
  const namespaces = forChildren.filter((type) => type === 'pid').map((type) => ({ type, path: `/proc/${initPid}/ns/${NS_PROC_NAME[type]}` }));
  // the time namespace through nsenter: setns of one needs a single-threaded caller
  return spawnSynced(EXEC_INIT_ROLE, preserveFds, namespaces, forChildren.includes('time') ? `/proc/${initPid}/ns/time` : undefined);
}

/** Drive the exec-init until it has execve'd (EOF after "ready") or failed. */
function awaitExec(chan: SyncChannel, plan: ExecPlan): void {
  try {
    chan.send(plan);
    chan.expect('ready');
    // after ready, only the seccomp filter and execve itself can still fail
    chan.expect('eof');
  } catch (e) {
    if (e instanceof ChildError) throw new ContainerError(`exec failed: unable to start container process: ${e.message}`, { cause: e });
    if (e instanceof ProtocolError && e.got === 'eof') throw new ContainerError('exec failed: the exec process exited before it was ready');
    throw e;
  } finally {
    chan.close();
  }
}


/** The CPUs an exec'd process ends on when execCPUAffinity gives only `initial`:
 * the container's cpuset (the spec's "default CPU affinity"), else every online CPU. */
function containerCpus(rec: ContainerRecord): string {
  const dirs = [rec.cgroup.paths.cpuset && join(rec.cgroup.paths.cpuset, 'cpuset.effective_cpus'),
    rec.cgroup.paths.unified && join(rec.cgroup.paths.unified, 'cpuset.cpus.effective'), '/sys/devices/system/cpu/online'];
  for (const f of dirs) {
    if (!f) continue;
    try {
      const v = readFileSync(f, 'utf8').trim();
      if (v) return v;
    } catch {
      // not on this host
    }
  }
  return '0';
}

export async function execInContainer(opts: ExecOptions): Promise<number> {
  const p = opts.process;
  // the very checks create makes (src/container/host-checks.ts)
  const problems = processHostProblems(p, '');
  if (problems.length > 0) throw new ValidationError('exec process', problems);
  for (const w of processHostWarnings(p, '')) logWarn(w);
  if (p.terminal && opts.detach && !opts.consoleSocket) throw new UsageError('cannot allocate tty if toyrun will detach without setting console socket');
  if (!p.terminal && opts.consoleSocket) throw new UsageError('cannot use console socket if toyrun will not allocate tty');
  const { rec, status } = loadContainer(opts.root, opts.id);
  // joining a frozen cgroup freezes the new process too: only on request
  requireStatus(opts.ignorePaused ? 'exec --ignore-paused' : 'exec', status);
  const spec = loadSpec(containerDir(opts.root, opts.id));
  const nss = spec?.linux?.namespaces ?? [];
  const userns = findNamespace(nss, 'user') !== undefined;
  if (!userns) startMoveGracePeriod(); // paid while the helper is spawned and boots
  const forChildren = (['pid', 'time'] as const).filter((t) => findNamespace(nss, t));
  const namespaces = nss
    .filter((n) => !['pid', 'time', 'user'].includes(n.type))
    .map((n) => ({ type: n.type, path: `/proc/${rec.pid}/ns/${NS_PROC_NAME[n.type]}` }));

  const receiver = p.terminal && !opts.consoleSocket ? new ConsoleReceiver() : undefined;
  try {
    // With a user namespace, nsenter and stage 1 (src/process/userns.ts) join all but
    // the mount namespace (one may be the host's, which can't be joined from inside),
    // and the host-owned cgroup files are written by us.
    const joining = cgroupDriver().joinFiles(rec.cgroup);
    const plan: ExecPlan = {
      type: 'exec',
      process: p,
      namespaces: userns ? namespaces.filter((n) => n.type === 'mount') : namespaces,
      cgroupJoin: userns ? [] : joining.bySelf,
      seccomp: spec?.linux?.seccomp,
      seccompCache: join(opts.root, '.seccomp'),
      consoleSocket: opts.consoleSocket ?? receiver?.path,
      preserveFds: opts.preserveFds,
      memoryPolicy: spec?.linux?.memoryPolicy,
      personality: spec?.linux?.personality,
      finalCpus: p.execCPUAffinity?.final || (p.execCPUAffinity?.initial ? containerCpus(rec) : undefined),
      sessionKeyring: rec.noNewKeyring ? undefined : sessionKeyringName(opts.id),
      trace: traceHandoff(),
    };
    traceStage('spawn exec helper');
    const spawned: { pid: number; chan: SyncChannel; consoleSocketFd?: number } = userns
      ? spawnExecInUserNamespace(rec.pid, spec as Spec, INIT_ROLE, EXEC_INIT_ROLE, opts.preserveFds, allJoinFiles(joining), plan.consoleSocket)
      : spawnExecInit(rec.pid, [...forChildren], opts.preserveFds);
    const { pid, chan } = spawned;
    plan.consoleSocketFd = spawned.consoleSocketFd;
    try {
      // execCPUAffinity.initial applies before the move into the container's cgroup:
      // set here on the helper's (main) thread, and again by the helper itself first thing
      setAffinity(pid, p.execCPUAffinity?.initial, 'execCPUAffinity.initial');
      if (!userns) moveIntoCgroup(pid, joining.byParent); // while its engine boots
      if (rec.intelRdt) joinIntelRdt(rec.intelRdt, pid);
      traceStage('drive exec helper');
      awaitExec(chan, plan);
    } catch (e) {
      try {
        libc.kill(pid, 9); // after a failed move it still waits for the plan; otherwise it is exiting anyway
      } catch {
        // exited after reporting
      }
      try {
        libc.waitpid(pid, 0); // it exits 255 right after reporting: reap it
      } catch {
        // already reaped
      }
      throw e;
    }
    logDebug(`exec: process ${pid} running in container ${opts.id}: ${JSON.stringify(p.args)}`);
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    if (opts.detach) return 0;
    // forwarding starts before the relay, which yields to the event loop for it
    const exited = waitForwardingSignals(pid, { terminal: receiver !== undefined });
    if (receiver) await relayTerminal(receiver.receiveMaster());
    const code = exitCode(await exited);
    logDebug(`exec: process ${pid} exited with status ${code}`);
    return code;
  } finally {
    receiver?.close();
  }
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
    if (a.apparmor) throw new UsageError(`exec: --apparmor: ${apparmorEnabled() ? 'applying AppArmor profiles is not supported by toyrun' : 'AppArmor is not available on this host'}`);
    if (a.cgroup) throw new UsageError('exec: --cgroup (a sub-cgroup to join) is not supported by toyrun');
    const spec = loadSpec(containerDir(ctx.root, id));
    return await execInContainer({
      root: ctx.root,
      id,
      process: execProcess(a, args, spec),
      detach: a.detach === true,
      pidFile: a['pid-file'],
      consoleSocket: a['console-socket'],
      preserveFds: preserve,
      ignorePaused: a['ignore-paused'] === true,
    });
  } catch (e) {
    logError(e instanceof Error ? e.message : String(e));
    return 255;
  }
}
