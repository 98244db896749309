// The container's init: the process `toyrun create` spawns into the new PID
// namespace (it is PID 1 there). It reads its plan from the sync pipe, then runs
// the stages below in order, each one a visible step of turning a process into
// a container. It reports "ready", blocks on exec.fifo until `toyrun start`,
// and finally execve()s the user's program in place of itself.
//
// Everything runs on the main thread with synchronous calls: namespaces and the
// root directory are per-thread, and the engine's other threads stay behind.
import './undumpable'; // first: see there
import * as libc from '../linux/libc';
import { AT_FDCWD, O, SysError } from '../linux/libc';
import { expectPlan, SyncChannel } from '../process/channel';
import type { InitPlan } from '../process/plan';
import { enterNamespaces, findNamespace } from '../linux/namespaces';
import { finishReadonly, mountOne, mkdirInRoot, readonlyLater, type MountContext } from '../linux/mounts';
import { createDevices, createDevSymlinks } from '../linux/devices';
import { maskPaths, moveRoot, pivotRoot, prepareRootfs, readonlyPaths, remountRootReadonly, setRootPropagation, verifyProcMount } from '../linux/rootfs';
import { procfsForWrites } from '../linux/procfs';
import { applySysctls } from '../linux/sysctl';
import { applyRlimits, checkCwdInsideRoot, enterCwd, lookPath, setOomScoreAdj } from '../linux/process';
import { connectListener, prepareSeccompFilter, sendListenerFd, type SeccompFilter } from '../linux/seccomp';
import { setupConsole, type ConsoleHandle } from '../linux/console';
import { runHooks } from '../process/hooks';
import { writeFd } from '../log';
import { dropCleanFileMappings } from '../linux/memory';
import { openStartReporter, reportStartFailure } from '../process/startsync';
import { runUserNamespaceStage1 } from './userns-stage1';
import { STAGE1_ARG } from '../process/plan';
import { SEAL_HELPER_ARG } from '../linux/rootless-seal';
import { sealHelperMain } from '../linux/seal';
import { inNonInitialUserNamespace } from '../linux/rootless';
import { joinContainerKeyring } from '../linux/keyring';
import type { Spec, State } from '../spec/types';
import { StageRunner } from './stages';
import { finalize } from './finalize';
import { HOLDER_ARG } from '../process/plan';
import { runTimeNamespaceHolder } from './timens-holder';
import { attachTrace, cause, traceError } from '../trace/record';

interface InitContext {
  plan: InitPlan;
  spec: Spec;
  chan: SyncChannel;
  /** fd of the state dir, opened before pivot_root so exec.fifo stays reachable. */
  stateFd: number;
  console?: ConsoleHandle;
  execPath?: string;
  state?: State;
  seccomp?: SeccompFilter;
  /** Connected to linux.seccomp.listenerPath: where the listener fd goes. */
  seccompListener?: number;
  /** process.cwd was refused to root: chdir again after becoming the user. */
  cwdPending?: boolean;
  /** Write end of start.fifo: how a failure after `start` reaches `start`. */
  startReporter?: number;
  /** The procfs mounted at /proc, held by fd from its mount on (src/linux/procfs.ts). */
  procMount?: number;
}

const stages = new StageRunner();
const stage = <T>(name: string, fn: () => T): T => stages.run(name, fn);

function joinCgroup(ctx: InitContext): void {
  // "0" means the writer itself. Memory the engine allocated before this line stays
  // charged to the old cgroup: the container's memory limit pays only for what follows.
  for (const file of ctx.plan.cgroupJoin) libc.writeFile(file, '0');
}

function enterContainerNamespaces(ctx: InitContext): void {
  const nss = ctx.spec.linux?.namespaces;
  // pid applies to children and was switched by `create` before spawning us (time: our own stage);
  // cgroup comes last, after joining the cgroup, so that it becomes the namespace root.
  enterNamespaces(nss, ['pid', 'time', 'user', 'cgroup']);
  const cg = findNamespace(nss, 'cgroup');
  if (cg) enterNamespaces([cg], []);
}

function setHostnames(spec: Spec): void {
  if (spec.hostname) cause('/hostname', () => libc.sethostname(spec.hostname as string));
  if (spec.domainname) cause('/domainname', () => libc.setdomainname(spec.domainname as string));
}

function doMounts(ctx: InitContext): void {
  const { plan, spec } = ctx;
  cause('/root/path', () => prepareRootfs(plan.rootfs, spec.linux?.rootfsPropagation, plan.idmapFds?.rootfs));
  const rootFd = libc.openat(AT_FDCWD, plan.rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC);
  const mctx: MountContext = {
    rootfs: plan.rootfs,
    rootFd,
    cgroupNs: findNamespace(spec.linux?.namespaces, 'cgroup') !== undefined,
    cgroupPaths: plan.cgroupPaths,
    cgroupHierarchies: plan.cgroupHierarchies,
  };
  // what gets made under the mounts after them: devices, /dev symlinks, the cwd
  const children = ['/dev/null', '/dev/ptmx', ...(spec.linux?.devices ?? []).map((d) => d.path), ...(spec.process?.cwd ? [spec.process.cwd] : [])];
  const later = readonlyLater(spec.mounts ?? [], children);
  try {
    for (const [i, m] of (spec.mounts ?? []).entries()) {
      try {
        cause(`/mounts/${i}`, () => mountOne(mctx, m, plan.idmapFds?.mounts[i], later.has(i)));
      } catch (e) {
        throw new Error(`mount ${m.source ?? m.type ?? ''} to ${m.destination}: ${(e as Error).message}`, { cause: e });
      }
    }
    cause('/linux/devices', () => createDevices(plan.rootfs, spec.linux?.devices, inNonInitialUserNamespace()));
    createDevSymlinks(plan.rootfs);
    if (spec.process?.cwd) cause('/process/cwd', () => mkdirInRoot(plan.rootfs, spec.process?.cwd as string));
    finishReadonly(mctx); // the "ro" of mounts that got children above
  } finally {
    for (const p of mctx.pendingReadonly ?? []) libc.close(p.fd);
    libc.close(rootFd);
  }
  ctx.procMount = mctx.procMount;
}

function runtimeHooks(ctx: InitContext): void {
  // The runtime runs prestart/createRuntime in its own namespaces; we wait for it.
  ctx.chan.send({ type: 'createRuntime' });
  let reply;
  try {
    reply = ctx.chan.expect('continue');
  } catch (e) {
    throw new Error('create aborted while running createRuntime hooks', { cause: e });
  }
  ctx.state = reply.state;
  // runc's cwd for these: the container's root, in its mount namespace (before pivot_root)
  runHooks(ctx.spec.hooks, 'createContainer', ctx.state, ctx.plan.rootfs);
}

function switchRoot(ctx: InitContext): void {
  cause('/root/path', () => (ctx.plan.noPivot ? moveRoot(ctx.plan.rootfs) : pivotRoot(ctx.plan.rootfs)));
  cause('/linux/rootfsPropagation', () => setRootPropagation(ctx.spec.linux?.rootfsPropagation));
}

/** runc's order: read-only paths, then masks (a mask inside a read-only path
 * stays), then a check that /proc is still the procfs we mounted. */
function finishRootfs(ctx: InitContext): void {
  const linux = ctx.spec.linux;
  cause('/linux/readonlyPaths', () => readonlyPaths(linux?.readonlyPaths, ctx.procMount));
  cause('/linux/maskedPaths', () => maskPaths(linux?.maskedPaths, ctx.procMount));
  verifyProcMount(ctx.procMount);
  if (ctx.spec.root?.readonly) cause('/root/readonly', () => remountRootReadonly());
}

/** Resolve the program now, so that a missing binary fails `create` (as runc does)
 * rather than surfacing later with no one listening. */
function resolveProgram(ctx: InitContext): void {
  const p = ctx.spec.process;
  if (!p?.args?.[0]) throw new Error('process.args is empty');
  ctx.cwdPending = !cause('/process/cwd', () => enterCwd(p.cwd));
  if (!ctx.cwdPending) checkCwdInsideRoot(p.cwd);
  ctx.execPath = cause('/process/args/0', () => lookPath(p.args?.[0] as string, p.env));
}

/** Block until `toyrun start` opens the FIFO for writing. */
function waitForStart(ctx: InitContext): void {
  const fd = libc.openat(ctx.stateFd, 'exec.fifo', O.RDONLY | O.CLOEXEC);
  const buf = Buffer.alloc(1);
  const n = libc.read(fd, buf);
  libc.close(fd);
  ctx.startReporter = openStartReporter(ctx.stateFd, ctx.plan.preserveFds);
  libc.close(ctx.stateFd);
  if (n !== 1) throw new Error('exec.fifo closed without a start signal');
}

function becomeProcess(ctx: InitContext): never {
  const p = ctx.spec.process;
  if (!p) throw new Error('no process in config');
  stage('startContainer hooks', () => {
    // runc hands these hooks the state as "created": the program is not running yet.
    if (ctx.state) runHooks(ctx.spec.hooks, 'startContainer', { ...ctx.state, status: 'created' }, p.cwd);
  });
  return finalize(stages, {
    process: p,
    execPath: ctx.execPath as string,
    cwdPending: ctx.cwdPending === true,
    memoryPolicy: ctx.spec.linux?.memoryPolicy,
    personality: ctx.spec.linux?.personality,
    preserveFds: ctx.plan.preserveFds,
    procFd: () => procfsForWrites(ctx.procMount),
    seccomp: ctx.seccomp,
    afterSeccomp: () => {
      if (ctx.seccomp && ctx.seccompListener !== undefined && ctx.state) {
        sendListenerFd(ctx.seccomp, ctx.seccompListener, { ...ctx.state, status: 'created' }, ctx.spec.linux?.seccomp?.listenerMetadata);
      }
    },
  });
}

function main(): void {
  // Non-dumpable since the kernel started us, until execve: src/init/undumpable.ts.
  const [syncWriteFd, syncReadFd] = process.argv.slice(-2).map(Number) as [number, number];
  const chan = new SyncChannel(syncReadFd, syncWriteFd);
  const plan = expectPlan(chan, 'plan', 1);
  attachTrace(plan.trace, 'init');
  const ctx: InitContext = {
    plan,
    spec: plan.spec,
    chan,
    stateFd: plan.stateDirFd ?? libc.openat(AT_FDCWD, plan.stateDir, O.PATH | O.DIRECTORY | O.CLOEXEC),
  };
  try {
    stage('join cgroup', () => joinCgroup(ctx));
    stage('namespaces', () => enterContainerNamespaces(ctx));
    // not the session keyring of whoever ran toyrun (its keys would be the container's)
    stage('session keyring', () => {
      if (plan.sessionKeyring) joinContainerKeyring(plan.sessionKeyring, findNamespace(ctx.spec.linux?.namespaces, 'user') !== undefined);
    });
    stage('hostname', () => setHostnames(ctx.spec));
    stage('mounts', () => doMounts(ctx));
    stage('createRuntime hooks', () => runtimeHooks(ctx));
    stage('console', () => {
      if (ctx.spec.process?.terminal) ctx.console = setupConsole(plan.consoleSocket, plan.rootfs, ctx.spec.process.consoleSize, plan.consoleSocketFd);
    });
    // libseccomp is loaded from the host's filesystem, so before pivot_root.
    stage('seccomp filter', () => {
      const profile = ctx.spec.linux?.seccomp;
      if (profile) ctx.seccomp = prepareSeccompFilter(profile, plan.seccompCache);
      if (profile && ctx.seccomp?.notify) ctx.seccompListener = connectListener(profile, plan.preserveFds);
    });
    stage('pivot_root', () => switchRoot(ctx));
    // Writes into procfs go through a private procfs instance, never the path /proc
    // (CVE-2019-19921, CVE-2025-52881). sysctls first: readonlyPaths covers /proc/sys.
    const procFd = (): number => procfsForWrites(ctx.procMount);
    stage('sysctl', () => cause('/linux/sysctl', () => applySysctls(ctx.spec, procFd)));
    stage('masked and read-only paths', () => finishRootfs(ctx));
    stage('oom_score_adj', () => cause('/process/oomScoreAdj', () => setOomScoreAdj(ctx.spec.process?.oomScoreAdj, procFd)));
    stage('attach console', () => ctx.console?.attach());
    stage('rlimits', () => cause('/process/rlimits', () => applyRlimits(ctx.spec.process?.rlimits)));
    stage('resolve program', () => resolveProgram(ctx));
  } catch (e) {
    // create may have closed the pipe already (a failed prestart hook): then
    // it has its own error to print, and ours is not wanted (EPIPE is no error)
    traceError(e);
    chan.trySend({ type: 'error', msg: stages.describe(e) });
    process.exit(1);
  }
  if (!chan.trySend({ type: 'ready', stages: stages.times })) process.exit(1); // create is gone
  chan.close();
  // shrink an init that may wait a long time for `start` (no collection here: its
  // helper threads would start now, counted against a pids limit of 1-4 and refused)
  if (!plan.startsAtOnce) dropCleanFileMappings();
  try {
    stage('wait for start', () => waitForStart(ctx));
    becomeProcess(ctx);
  } catch (e) {
    // `start` is waiting on start.fifo for the outcome; the container's stderr gets it too.
    traceError(e);
    reportStartFailure(ctx.startReporter, stages.describe(e));
    writeFd(2, `toyrun init: ${stages.describe(e)}\n`);
    process.exit(e instanceof SysError && e.syscall === 'execve' ? 127 : 1);
  }
}

if (process.argv[2] === STAGE1_ARG) runUserNamespaceStage1(process.argv[3] as string);
else if (process.argv[2] === SEAL_HELPER_ARG) sealHelperMain(process.argv[3] as string);
else if (process.argv[2] === HOLDER_ARG) runTimeNamespaceHolder(process.argv.slice(3));
else main();
