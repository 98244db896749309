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
import { writeFileSync } from 'node:fs';
import * as libc from './linux/libc';
import { SyncChannel, type ExecPlan } from './sync';
import { NS_CLONE_FLAG } from './linux/namespaces';
import { applyRlimits, becomeUser, checkCwdInsideRoot, enterCwd, holdsSysAdmin, lookPath, prepareFds, setNoNewPrivileges } from './linux/process';
import { releaseHeldCapability } from './linux/capabilities';
import { loadSeccompFilter, prepareSeccompFilter, type SeccompFilter } from './linux/seccomp';
import { giveTerminalTo, setupConsole, type ConsoleHandle } from './linux/console';
import { applyIoPriority, applyScheduler, setAffinity } from './linux/sched';
import { applyMemoryPolicy } from './linux/mempolicy';
import { applyPersonality } from './linux/personality';
import { joinExecKeyring } from './linux/keyring';

let currentStage = 'start';
function stage<T>(name: string, fn: () => T): T {
  currentStage = name;
  return fn();
}

function joinCgroup(plan: ExecPlan): void {
  // as the init does: this thread only (v1 tasks); the engine's other threads end at execve
  for (const file of plan.cgroupJoin) writeFileSync(file, '0');
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
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN (seccomp(2)):
  // held, effective, until the filter is in, so that the load stays the last step.
  const hold = filter && !p.noNewPrivileges && !holdsSysAdmin(p) ? 'CAP_SYS_ADMIN' : undefined;
  // as the init does: inherited across execve, set while the capabilities they need are held
  stage('scheduler', () => applyScheduler(p.scheduler));
  stage('I/O priority', () => applyIoPriority(p.ioPriority));
  stage('memory policy', () => applyMemoryPolicy(plan.memoryPolicy));
  stage('personality', () => applyPersonality(plan.personality));
  stage('user and capabilities', () => {
    if (p.terminal) giveTerminalTo(p.user?.uid ?? 0);
    becomeUser(p, hold, cwdPending);
    if (cwdPending) checkCwdInsideRoot(p.cwd);
  });
  stage('no_new_privs', () => setNoNewPrivileges(p));
  stage('file descriptors', () => prepareFds(plan.preserveFds));
  stage('signals', () => libc.resetSignals());
  // Reported before the filter goes in: the profile may not allow our write.
  // A failure from here on still reaches `exec` as an error after "ready".
  chan.send({ type: 'ready', stages: [] });
  stage('seccomp', () => {
    if (filter) loadSeccompFilter(filter);
    if (hold) releaseHeldCapability(p.capabilities);
  });
  currentStage = 'execve';
  return libc.execve(execPath, p.args as string[], p.env ?? []);
}

function main(): void {
  // Non-dumpable before anything else, as the init (src/init.ts): this process lives
  // in the container's PID namespace, and a dumpable one could be opened through
  // /proc/<pid>/{exe,mem,fd} by the container's processes (CVE-2019-5736).
  libc.prctl(libc.PR.SET_DUMPABLE, 0);
  const [writeFd, readFd] = process.argv.slice(-2).map(Number) as [number, number];
  const chan = new SyncChannel(readFd, writeFd);
  const plan = chan.recv();
  if (!plan || plan.type !== 'exec') process.exit(255);
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
    stage('console', () => console?.attach());
    becomeProcess(plan, chan, filter);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    chan.trySend({ type: 'error', msg: msg.startsWith('exec:') ? msg : `${currentStage}: ${msg}` }); // EPIPE: exec has gone
    process.exit(255);
  }
}

main();
