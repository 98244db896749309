// The exec operation (`toyrun exec`, src/exec.ts, is its command line): start one
// more process in a running container. The PID namespace only applies to
// children, so the CLI's main thread setns's into the init's, spawns the
// exec-init (src/init/exec-init.ts), and switches back; the exec-init joins the rest
// itself. Without --detach we wait and return the process's exit status; with
// it we return once the process has execve'd, leaving it to the caller's
// subreaper (conmon, containerd-shim), as runc does. Failures exit 255.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitCode, waitForwardingSignals, type ChildNamespace } from '../linux/spawn';
import * as libc from '../linux/libc';
import { loadContainer } from './load';
import { ContainerError, containerDir, loadSpec } from './store';
import { findNamespace, NS_PROC_NAME } from '../linux/namespaces';
import type { SyncChannel } from '../process/channel';
import { spawnSynced } from '../process/launch';
import type { ExecPlan } from '../process/plan';
import { ChildError, ProtocolError } from '../process/protocol';
import { ValidationError } from '../spec/validate';
import { writePidFile } from './store';
import { EXEC_INIT_ROLE, INIT_ROLE } from '../paths';
import { spawnExecInUserNamespace } from '../process/userns';
import { processHostProblems, processHostWarnings } from './host-checks';
import { allJoinFiles, moveIntoCgroup, startMoveGracePeriod } from '../linux/cgroups/join';
import { cgroupDriver } from '../linux/cgroups/manager';
import { ConsoleReceiver, relayTerminal } from '../process/tty-relay';
import { logDebug, logWarn } from '../log';
import { sessionKeyringName } from '../linux/keyring';
import { traceHandoff, traceStage } from '../trace/record';
import type { Process, Spec } from '../spec/types';
import { setAffinity } from '../linux/sched';
import type { ContainerRecord } from './store';
import { joinIntelRdt } from '../linux/intelrdt';
import { requireStatus } from './status';

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
