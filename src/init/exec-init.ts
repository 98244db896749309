// The process `toyrun exec` spawns into the container's PID namespace. It turns
// itself into one more process of a running container, in this order:
//
//   1. join the container's cgroup (before its cgroup namespace: the namespace
//      root is taken from the cgroup we are in when we enter it);
//   2. connect to the console socket and compile the seccomp filter (host paths:
//      the socket, libseccomp; before entering the mount ns);
//   3. setns into the container's namespaces (the mount namespace needs this
//      thread to own its fs_struct: unshare(CLONE_FS) first); setns(mnt) moves
//      our root and cwd to the container's root;
//   4. allocate the pty in the container's devpts and send its master;
//   5. rlimits, cwd, resolve the program, user, capabilities, no_new_privs,
//      fds, default signal state, seccomp (last), execve.
//
// Any failure is sent back on the sync pipe as {"type":"error"}; before the
// seccomp filter goes in we send {"type":"ready"}. The pipe is close-on-exec, so
// `exec` sees EOF once execve succeeded, or an error after "ready" if the filter
// or execve failed.
import './undumpable'; // first: see there
import * as libc from '../linux/libc';
import { expectPlan, SyncChannel } from '../process/channel';
import type { ExecPlan } from '../process/plan';
import { NS_CLONE_FLAG } from '../linux/namespaces';
import { applyRlimits, checkCwdInsideRoot, enterCwd, lookPath } from '../linux/process';
import { prepareSeccompFilter, type SeccompFilter } from '../linux/seccomp';
import { setupConsole, type ConsoleHandle } from '../linux/console';
import { setAffinity } from '../linux/sched';
import { StageRunner } from './stages';
import { finalize } from './finalize';
import { openContainerProc, procfsForWrites } from '../linux/procfs';
import { joinExecKeyring } from '../linux/keyring';
import { attachTrace, traceError } from '../trace/record';

const stages = new StageRunner();
const stage = <T>(name: string, fn: () => T): T => stages.run(name, fn);

function joinCgroup(plan: ExecPlan): void {
  // as the init does: this thread only (v1 tasks); the engine's other threads end at execve
  for (const file of plan.cgroupJoin) libc.writeFile(file, '0');
}

/** Open every namespace file first: once in the container's mount namespace,
 * /proc is the container's and the init's host PID means nothing there. */
function enterNamespaces(plan: ExecPlan): void {
  // cgroup last: by then we are in the container's cgroup, which becomes our root
  const order = [...plan.namespaces].sort((a, b) => Number(a.type === 'cgroup') - Number(b.type === 'cgroup'));
  const opened = order.map((ns) => ({ ...ns, fd: libc.openat(libc.AT_FDCWD, ns.path, libc.O.RDONLY | libc.O.CLOEXEC) }));
  try {
    for (const ns of opened) {
      if (ns.type === 'mount') libc.unshare(libc.CLONE.FS); // setns(mnt) needs a private fs_struct
      libc.setns(ns.fd, NS_CLONE_FLAG[ns.type], `${ns.path} (${ns.type})`);
    }
  } finally {
    for (const ns of opened) libc.close(ns.fd);
  }
}

/** Compile the container's seccomp profile while the host's filesystem is our
 * root: libseccomp is loaded from it, and is out of reach once in the
 * container's mount namespace. A notify profile is refused (no listener for exec). */
function buildFilter(plan: ExecPlan): SeccompFilter | undefined {
  if (!plan.seccomp) return undefined;
  const filter = prepareSeccompFilter(plan.seccomp, plan.seccompCache);
  if (filter.notify) throw new Error('SCMP_ACT_NOTIFY profiles are not supported for exec');
  return filter;
}

function becomeProcess(plan: ExecPlan, chan: SyncChannel, filter: SeccompFilter | undefined): never {
  const p = plan.process;
  stage('rlimits', () => applyRlimits(p.rlimits));
  // the working directory is entered as root, and again as the user if root was refused (as runc does)
  let cwdPending = false;
  const execPath = stage('resolve program', () => {
    cwdPending = !enterCwd(p.cwd);
    if (!cwdPending) checkCwdInsideRoot(p.cwd);
    return lookPath((p.args as string[])[0] as string, p.env);
  });
  return finalize(stages, {
    process: p,
    execPath,
    cwdPending,
    memoryPolicy: plan.memoryPolicy,
    personality: plan.personality,
    preserveFds: plan.preserveFds,
    procFd: () => procfsForWrites(openContainerProc),
    seccomp: filter,
    // Reported before the filter goes in: the profile may not allow our write.
    // A failure from here on still reaches `exec` as an error after "ready".
    beforeSeccomp: () => chan.send({ type: 'ready', stages: stages.times }),
  });
}

function main(): void {
  // Non-dumpable since the kernel started us, until execve: src/init/undumpable.ts.
  const [writeFd, readFd] = process.argv.slice(-2).map(Number) as [number, number];
  const chan = new SyncChannel(readFd, writeFd);
  const plan = expectPlan(chan, 'exec', 255);
  attachTrace(plan.trace, 'exec helper');
  try {
    // execCPUAffinity.initial: the CPUs we run on before the move to the container's cgroup
    stage('initial CPU affinity', () => setAffinity(0, plan.process.execCPUAffinity?.initial, 'execCPUAffinity.initial'));
    stage('join cgroup', () => joinCgroup(plan));
    // the container's keyring, never the caller's (runc's setns init does the same)
    stage('session keyring', () => {
      if (plan.sessionKeyring) joinExecKeyring(plan.sessionKeyring);
    });
    let console: ConsoleHandle | undefined;
    if (plan.process.terminal) console = stage('console', () => setupConsole(plan.consoleSocket, '/', plan.process.consoleSize, plan.consoleSocketFd));
    const filter = stage('seccomp filter', () => buildFilter(plan));
    stage('namespaces', () => enterNamespaces(plan));
    // after the cgroup move (which resets affinity to the cpuset): final, or the container's CPUs
    stage('final CPU affinity', () => setAffinity(0, plan.finalCpus, 'execCPUAffinity.final'));
    stage('attach console', () => console?.attach());
    becomeProcess(plan, chan, filter);
  } catch (e) {
    traceError(e);
    chan.trySend({ type: 'error', msg: stages.describe(e) }); // EPIPE: exec has gone
    process.exit(255);
  }
}

main();
