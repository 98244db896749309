// The exec operation (`toyrun exec`, src/exec.ts, is its command line): start one
// more process in a running container. The PID namespace only applies to
// children, so the CLI's main thread setns's into the init's, spawns the
// exec-init (src/init/exec-init.ts), and switches back; the exec-init joins the rest
// itself. Without --detach we wait and return the process's exit status; with
// it we return once the process has execve'd, leaving it to the caller's
// subreaper (conmon, containerd-shim), as runc does. Failures exit 255.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitCode, waitForwardingSignals } from '../linux/spawn';
import * as libc from '../linux/libc';
import { loadContainer } from './load';
import { ContainerError, containerDir, loadSpec } from './store';
import { findNamespace, NS_PROC_NAME } from '../linux/namespaces';
import type { SyncChannel } from '../process/channel';
import { CgroupEntry, launch, type Launched } from '../process/launch';
import type { ExecPlan } from '../process/plan';
import { ChildError, ProtocolError } from '../process/protocol';
import { ValidationError } from '../spec/validate';
import { writePidFile } from './store';
import { EXEC_INIT_ROLE } from '../paths';
import { connectConsoleSocket } from '../linux/console';
import { processHostProblems, processHostWarnings } from './host-checks';
import { cgroupDriver } from '../linux/cgroups/manager';
import { ConsoleReceiver, relayTerminal } from '../process/tty-relay';
import { logDebug, logWarn } from '../log';
import { sessionKeyringName } from '../linux/keyring';
import { traceHandoff, traceStage } from '../trace/record';
import type { Process } from '../spec/types';
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
  const { rec, status } = loadContainer(opts.root, opts.id);
  const spec = loadSpec(containerDir(opts.root, opts.id));
  // A process without a profile of its own runs under the container's (runc's
  // rule): an exec'd shell must not be the one unconfined process in a confined container.
  const p: Process = opts.process.apparmorProfile || !spec?.process?.apparmorProfile
    ? opts.process
    : { ...opts.process, apparmorProfile: spec.process.apparmorProfile };
  // the very checks create makes (src/container/host-checks.ts)
  const problems = processHostProblems(p, '');
  if (problems.length > 0) throw new ValidationError('exec process', problems);
  for (const w of processHostWarnings(p, '')) logWarn(w);
  // joining a frozen cgroup freezes the new process too: only on request
  requireStatus(opts.ignorePaused ? 'exec --ignore-paused' : 'exec', status);
  const nss = spec?.linux?.namespaces ?? [];
  const userns = findNamespace(nss, 'user') !== undefined;
  const entry = new CgroupEntry(userns); // the grace period is paid while the helper is spawned and boots
  // Everything is joined through the init's /proc/<pid>/ns files. PID and time
  // apply to children only: launch() switches them. The rest the exec-init joins
  // itself, unless a user namespace is in the way: then nsenter joins all but the
  // mount namespace (one the host made, such as a podman network namespace, can't
  // be joined from inside), and the exec-init the mount namespace.
  const nsPath = (n: { type: keyof typeof NS_PROC_NAME }): string => `/proc/${rec.pid}/ns/${NS_PROC_NAME[n.type]}`;
  const others = nss.filter((n) => !['pid', 'time', 'user'].includes(n.type)).map((n) => ({ type: n.type, path: nsPath(n) }));
  const pidNs = findNamespace(nss, 'pid');
  const timeNs = findNamespace(nss, 'time');

  const receiver = p.terminal && !opts.consoleSocket ? new ConsoleReceiver() : undefined;
  try {
    const plan: ExecPlan = {
      type: 'exec',
      process: p,
      namespaces: userns ? others.filter((n) => n.type === 'mount') : others,
      cgroupJoin: [],
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
    // With a user namespace the console socket is connected here and handed down:
    // the mapped root may not reach the socket's directory.
    const consoleFd = userns && plan.consoleSocket ? connectConsoleSocket(plan.consoleSocket) : undefined;
    let child: Launched | undefined;
    try {
      try {
        const entered = entry.enter({
          spawn: () => {
            child = launch({
              role: EXEC_INIT_ROLE,
              preserveFds: opts.preserveFds,
              pid: pidNs ? { path: nsPath(pidNs) } : undefined,
              time: timeNs ? { path: nsPath(timeNs) } : undefined,
              ...(userns ? {
                user: { path: `/proc/${rec.pid}/ns/user` },
                join: others.filter((n) => n.type !== 'mount'),
                extraFds: consoleFd !== undefined ? { console: consoleFd } : {},
              } : {}),
            });
            return child;
          },
          cgroup: () => cgroupDriver().joinFiles(rec.cgroup),
          // execCPUAffinity.initial applies before the move into the container's cgroup:
          // set here on the helper's (main) thread, and again by the helper itself first thing
          beforeJoin: (c) => setAffinity(c.pid, p.execCPUAffinity?.initial, 'execCPUAffinity.initial'),
        });
        plan.cgroupJoin = entered.selfJoin;
      } finally {
        if (consoleFd !== undefined) libc.close(consoleFd);
      }
      const spawned = child as Launched;
      plan.consoleSocketFd = spawned.fds.console;
      if (rec.intelRdt) joinIntelRdt(rec.intelRdt, spawned.pid);
      traceStage('drive exec helper');
      awaitExec(spawned.chan, plan);
    } catch (e) {
      const c = child as Launched | undefined;
      if (c) {
        c.chan.close(); // one that still waits for its plan reads EOF and exits
        try {
          libc.kill(c.pid, 9); // after a failed move it still waits for the plan; otherwise it is exiting anyway
        } catch {
          // exited after reporting
        }
        try {
          libc.waitpid(c.pid, 0); // it exits 255 right after reporting: reap it
        } catch {
          // already reaped
        }
      }
      throw e;
    }
    const pid = (child as unknown as Launched).pid;
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
