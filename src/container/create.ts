// The create operation (`toyrun create`, src/create.ts, is its command line):
// validate the bundle, claim the id, spawn the init into the container's PID
// namespace (it boots while the rest is prepared: CgroupEntry), record it, make
// exec.fifo and the cgroup, then walk the init through its stages over the sync
// pipe. On any failure everything created so far is undone: no state dir,
// cgroup, process or mount is left behind.
import { spec13Problems } from './spec13-checks';
import { timeOffsetsText } from '../linux/timens';
import { moveNetDevices } from '../linux/netdev';
import { resourcesForVersion } from '../linux/resources13';
import { findResctrl, joinIntelRdt, removeIntelRdt, setupIntelRdt } from '../linux/intelrdt';
import { existsSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import * as libc from '../linux/libc';
import { validateContainerId, validateSpec, ValidationError } from '../spec/validate';
import {
  claimContainerDir, ContainerError, lockContainer, OCI_VERSION, processStartTime, removeContainerDir, saveRecord, waitGone, writePidFile,
  toOciState, writeFileAtomic, type ContainerRecord,
} from './store';
import { setCgroupWarningSink } from '../linux/cgroups/files';
import { hostHierarchies, resolveCgroupPath } from '../linux/cgroups/layout';
import { cgroupDriver } from '../linux/cgroups/manager';
import type { CgroupDriver, CgroupRecord, JoinFiles } from '../linux/cgroups/types';
import { failpoint } from '../failpoint';
import { pidsProperties, scopeFor, setUnitProperties, startScope, stopUnit } from '../linux/systemd';
import { findNamespace } from '../linux/namespaces';
import { isBind } from '../linux/mounts';
import { frozenCgroupProblem } from '../linux/cgroups/frozen';
import { checkSysctls } from '../linux/sysctl';
import { seccompProblems } from '../linux/seccomp';
import { processHostProblems, processHostWarnings } from './host-checks';
import type { SyncChannel } from '../process/channel';
import { CgroupEntry, launch, type Launched, type LaunchRequest } from '../process/launch';
import type { InitPlan } from '../process/plan';
import { ChildError, ProtocolError } from '../process/protocol';
import { INIT_ROLE } from '../paths';
import { runHooks } from '../process/hooks';
import { START_FIFO } from '../process/startsync';
import type { ImagePort } from './image-port';
import type { Resources, Spec } from '../spec/types';
import { logDebug, logWarn, trace } from '../log';
import { checkUserNamespacePath, userNamespaceProblems } from '../linux/userns';
import { rootlessProblems } from './rootless-checks';
import { idmapProblems } from '../linux/idmap';
import { checkInitUserNamespace, handFifosToMappedRoot, initUserNamespace, type InitUserNamespace } from './create-userns';
import { UndoStack } from './undo';
import { sessionKeyringName } from '../linux/keyring';
import { traceHandoff, traceStage } from '../trace/record';

export interface CreateOptions {
  root: string;
  id: string;
  bundle?: string;
  pidFile?: string;
  preserveFds: number;
  noPivot: boolean;
  consoleSocket?: string;
  systemdCgroup: boolean;
  /** Extra mounts appended to config.json's (toyrun run -v). */
  extraMounts?: Spec['mounts'];
  /** `toyrun run -t`: give the process a terminal whatever config.json says. */
  terminal?: boolean;
  /** `toyrun run`: start follows at once, so the init need not shrink while it waits. */
  startsAtOnce?: boolean;
  /** --no-new-keyring: keep the caller's session keyring instead of a fresh "_ses.<id>". */
  noNewKeyring?: boolean;
  /** The bundle's config.json, already loaded and validated by the caller. */
  spec?: Spec;
  /** The image store, asked for only when config.json has "org.toyrun.image". */
  image: () => ImagePort;
}

export interface Created {
  rec: ContainerRecord;
  dir: string;
  spec: Spec;
}

export function loadBundleSpec(bundle: string): Spec {
  const file = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidationError(file, [code === 'ENOENT' ? 'no such file (is --bundle right?)' : `cannot read: ${code}`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(file, [`invalid JSON: ${(e as Error).message}`]);
  }
  return validateSpec(data, file);
}

/** Checks that need the host: paths, kernel features, namespaced sysctls. */
function hostProblems(spec: Spec, rootfs: string): string[] {
  const problems: string[] = [];
  const mountProblem = mountCountProblem(spec);
  if (mountProblem) problems.push(mountProblem);
  if (!spec['org.toyrun.image']) {
    try {
      if (!statSync(rootfs).isDirectory()) problems.push(`/root/path ${rootfs} is not a directory`);
    } catch {
      problems.push(`/root/path ${rootfs} does not exist`);
    }
  }
  if (!spec.process) problems.push('/process is required to create a container');
  // The spec lets a config omit it (the container then shares the runtime's mount
  // namespace; runc chroots). toyrun refuses: its rootfs, /proc, /dev, masked-path and
  // bind mounts would all land in the host's mount table, to be undone by delete
  // (and left there by a crashed create), and pivot_root needs a namespace of its own.
  if (!findNamespace(spec.linux?.namespaces, 'mount')) {
    problems.push('/linux/namespaces must include a mount namespace ({"type": "mount"}, or one to join by path): '
      + 'without one the container would share the host\'s mount namespace and its mounts would land on the host; toyrun does not support that');
  }
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.path && !existsSync(ns.path)) problems.push(`/linux/namespaces: ${ns.type} namespace path ${ns.path} does not exist`);
  }
  problems.push(...userNamespaceProblems(spec));
  problems.push(...rootlessProblems(spec));
  const userns = findNamespace(spec.linux?.namespaces, 'user');
  problems.push(...idmapProblems(spec, userns !== undefined));
  if (userns?.path && existsSync(userns.path)) {
    const bad = checkUserNamespacePath(userns.path);
    if (bad) problems.push(`/linux/namespaces: ${bad}`);
  }
  problems.push(...checkSysctls(spec).map((p) => `/linux/sysctl: ${p}`));
  problems.push(...processHostProblems(spec.process, '/process'));
  problems.push(...seccompProblems(spec.linux?.seccomp));
  if (spec.process?.terminal && spec.process && !spec.process.args) problems.push('/process/args is required');
  problems.push(...spec13Problems(spec));
  return problems;
}

/** A mount namespace holds at most fs.mount-max mounts; asking for more would
 * only fail (ENOSPC) after minutes of stacking mounts, so say it up front. */
function mountCountProblem(spec: Spec): string | undefined {
  let max: number;
  try {
    max = Number(readFileSync('/proc/sys/fs/mount-max', 'utf8'));
  } catch {
    return undefined;
  }
  const wanted = (spec.mounts?.length ?? 0) + new Set(spec.linux?.maskedPaths).size + 2 * new Set(spec.linux?.readonlyPaths).size;
  return wanted > max ? `/mounts: ${wanted} mounts (with masked and read-only paths) exceed fs.mount-max (${max})` : undefined;
}

/** The caller's fds 3..3+N-1 must all be open on entry: the kernel hands out the
 * lowest free number, so a gap would be filled by our own descriptors (the
 * container lock, the sync pipes) and those would reach the container. */
function checkPreservedFds(n: number): void {
  for (let fd = 3; fd < 3 + n; fd++) {
    try {
      libc.fcntl(fd, libc.F_GETFD);
    } catch {
      throw new ContainerError(`--preserve-fds ${n}: fd ${fd} is not open`);
    }
  }
}


/** The spec: a bind mount's relative source is relative to the bundle. Made absolute
 * here, before any check or the init sees it: the init runs with cwd /, where "."
 * would bind the host's root filesystem into the container. */
export function resolveBindSources(spec: Spec, bundle: string): void {
  for (const m of spec.mounts ?? []) {
    if (m.source !== undefined && isBind(m) && !isAbsolute(m.source)) m.source = join(bundle, m.source);
  }
}

/** What create asks of the world beyond its state dir, swappable so that a test can
 * fail each step in turn (test/unit/create-undo.test.ts): the launcher and the cgroup driver. */
export interface CreateEnv {
  launch(request: LaunchRequest): Launched;
  cgroups(): CgroupDriver;
}

const HOST: CreateEnv = { launch, cgroups: cgroupDriver };

/** Run the whole create; on success the init is blocked on exec.fifo. On failure
 * everything acquired is released in reverse (UndoStack): the state dir last. */
export function createContainer(opts: CreateOptions, env: CreateEnv = HOST): Created {
  const id = validateContainerId(opts.id);
  checkPreservedFds(opts.preserveFds);
  const bundle = resolve(opts.bundle ?? process.cwd());
  traceStage('validate config');
  trace('loading config');
  const spec = opts.spec ?? loadBundleSpec(bundle);
  resolveBindSources(spec, bundle);
  if (opts.extraMounts) spec.mounts = [...(spec.mounts ?? []), ...opts.extraMounts];
  if (opts.terminal && spec.process) spec.process.terminal = true;
  const rootPath = spec.root?.path ?? 'rootfs';
  let rootfs = isAbsolute(rootPath) ? rootPath : join(bundle, rootPath);
  const configFile = join(bundle, 'config.json');
  const problems = [...hostProblems(spec, rootfs), ...(spec['org.toyrun.image'] ? opts.image().problems(opts.root, bundle, spec['org.toyrun.image']) : [])];
  if (problems.length > 0) throw new ValidationError(configFile, problems);
  for (const w of processHostWarnings(spec.process, '/process')) logWarn(w);

  trace('validated config');
  const usernsWanted = findNamespace(spec.linux?.namespaces, 'user') !== undefined;
  // Without a user namespace the grace period that joining the cgroup waits for
  // starts now, and runs while we claim the id and the init boots (CgroupEntry).
  const entry = new CgroupEntry(usernsWanted);
  const pidNs = findNamespace(spec.linux?.namespaces, 'pid');
  const timeNs = findNamespace(spec.linux?.namespaces, 'time');
  traceStage('claim id');
  const dir = claimContainerDir(opts.root, id);
  // Held until create returns: start/kill/delete of this id wait for it (the
  // kernel drops the lock if we are killed, and `creator` then reads as dead).
  const unlock = lockContainer(opts.root, id);
  const undo = new UndoStack();
  undo.push('state dir', () => removeContainerDir(dir)); // last: it holds the record of the rest
  try {
    const rec: ContainerRecord = {
      id,
      pid: 0,
      pidStartTime: '',
      bundle,
      rootfs,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      owner: '',
      cgroup: { paths: {} },
      creator: { pid: process.pid, startTime: processStartTime(process.pid) ?? '' },
      ...(opts.noNewKeyring ? { noNewKeyring: true } : {}),
    };

    // The init: killed (once) by its own undo entry, and first thing by the undo of
    // what it could hold or be inside (the image mount, the cgroup, the scope).
    let child: Launched | undefined;
    let killed = false;
    const killInit = (): void => {
      if (!child || killed) return;
      killed = true;
      try {
        libc.kill(child.pid, 9);
      } catch {
        // already gone
      }
      waitGone(child.pid);
    };
    // With a user namespace, what the init is handed and what host root checks
    // (src/container/create-userns.ts): opened at the spawn, after the cgroup.
    let userns: InitUserNamespace | undefined;
    const spawnInit = (): Launched => {
      traceStage(usernsWanted ? 'user namespace' : 'spawn init');
      if (usernsWanted) userns = initUserNamespace(spec, dir, rootfs, opts.consoleSocket);
      const c = env.launch({
        role: INIT_ROLE,
        preserveFds: opts.preserveFds,
        pid: pidNs ? { path: pidNs.path } : undefined,
        time: timeNs ? (timeNs.path ? { path: timeNs.path } : { offsets: timeOffsetsText(spec) }) : undefined,
        ...userns?.request,
      });
      child = c;
      undo.push('init', killInit);
      rec.pid = c.pid;
      rec.pidStartTime = processStartTime(c.pid) ?? '';
      trace('init spawned');
      return c;
    };
    // Without a user namespace the init is spawned now: its engine's boot, the longest
    // step of a create, runs while we record, mount the image and make the cgroup
    // (it reads nothing but its plan until then; if we die, it reads EOF and exits).
    entry.spawnFirst(spawnInit);
    traceStage('record');
    saveRecord(dir, rec); // from here on, `delete --force` can find and undo everything
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(spec));
    libc.mkfifo(join(dir, 'exec.fifo'), 0o600); // in the state dir: they go with it
    libc.mkfifo(join(dir, START_FIFO), 0o600);
    failpoint('create:claimed');

    const image = spec['org.toyrun.image'];
    if (image) {
      const m = opts.image().mount(opts.root, dir, bundle, rootfs, image);
      undo.push('image mount', () => {
        killInit(); // spawned first: gone before what it could be handed goes
        opts.image().unmount(m, true);
      });
      rootfs = rec.rootfs = m.target; // the merged overlay, under the state dir
      rec.imageMount = m;
      saveRecord(dir, rec); // a create that dies from here on leaves `delete --force` a mount to undo
    }

    setCgroupWarningSink(logWarn); // e.g. a weightDevice the device can't take: to --log
    const driver = env.cgroups();
    const cgPath = resolveCgroupPath(spec.linux?.cgroupsPath, id, opts.systemdCgroup); // relative: joined per hierarchy by the driver
    const scope = opts.systemdCgroup ? scopeFor(spec.linux?.cgroupsPath, id) : undefined;
    // pids.max is written once the init is ready: its engine still starts threads while
    // it boots, and a low limit (1.3's 0 among them) would abort it (v2 counts threads)
    const { now: resources, onceReady } = splitPidsLimit(resourcesForVersion(spec.linux?.resources, spec.ociVersion));
    let cgroup: CgroupRecord | undefined;
    const makeCgroup = (): JoinFiles => {
      traceStage('cgroup');
      // Record the directories before making them: a create killed between the
      // mkdir and the save would otherwise leave a cgroup nobody knows about.
      const dirs = driver.plannedDirs(cgPath);
      // Checked before anything of ours is in the cgroup (a pre-made one is not ours to remove).
      const frozen = frozenCgroupProblem(dirs, hostHierarchies());
      if (frozen) throw new ContainerError(frozen);
      rec.cgroup = { version: driver.version, paths: dirs, path: cgPath, ...(scope ? { systemdUnit: scope.unit } : {}) };
      saveRecord(dir, rec);
      if (scope) {
        // systemd makes the scope's cgroup and moves the init into it (a scope must
        // start with a process: ours is spawned already, unless a user namespace waits)
        if (!child) throw new ContainerError('--systemd-cgroup with a user namespace is not supported by toyrun yet: run without --systemd-cgroup');
        const unit = scope.unit;
        undo.push('systemd scope', () => {
          killInit();
          stopUnit(unit); // systemd removes the scope's cgroup
        });
        startScope(scope, child.pid, id, resources, driver.version);
      }
      const made = driver.create(cgPath);
      cgroup = made;
      if (scope) made.systemdUnit = scope.unit;
      undo.push('cgroup', () => {
        killInit(); // it may have joined: a populated cgroup can't be removed
        try {
          if (!scope) driver.destroy(made);
        } finally {
          removeMadeDirs(made);
        }
      });
      rec.cgroup = made;
      saveRecord(dir, rec);
      driver.apply(made, resources);
      driver.applyDevices(made, spec.linux?.resources?.devices); // always: deny-all and the defaults at least
      failpoint('create:cgroup');
      trace('cgroup ready');
      return driver.joinFiles(made);
    };

    let selfJoin: string[];
    try {
      ({ selfJoin } = entry.enter({
        spawn: () => {
          const c = spawnInit(); // with a user namespace: here, after the cgroup
          saveRecord(dir, rec);
          return c;
        },
        cgroup: makeCgroup,
        beforeJoin: (c) => {
          if (usernsWanted) checkInitUserNamespace(spec, c, configFile, rootfs);
        },
      }));
    } finally {
      userns?.close();
    }
    if (!child || !cgroup) throw new ContainerError('internal: the init was not spawned');
    const spawned: Launched = child;
    const made: CgroupRecord = cgroup;
    const uns = userns as InitUserNamespace | undefined; // (assigned in a callback)
    if (uns) handFifosToMappedRoot(spawned, dir);
    const rdt = spec.linux?.intelRdt;
    if (rdt) {
      rec.intelRdt = setupIntelRdt(findResctrl() as string, id, rdt); // checked mounted by hostProblems
      const r = rec.intelRdt;
      undo.push('intel rdt', () => removeIntelRdt(r));
      saveRecord(dir, rec);
      joinIntelRdt(r, spawned.pid);
    }

    const plan: InitPlan = {
      type: 'plan',
      startsAtOnce: opts.startsAtOnce === true,
      spec,
      rootfs,
      stateDir: dir,
      seccompCache: join(opts.root, '.seccomp'),
      bundle,
      preserveFds: opts.preserveFds,
      noPivot: opts.noPivot,
      consoleSocket: opts.consoleSocket,
      cgroupJoin: selfJoin,
      cgroupPaths: made.paths,
      cgroupHierarchies: hostHierarchies().map((h) => ({ controllers: h.controllers, version: h.version })),
      ...uns?.planFds(spawned),
      sessionKeyring: opts.noNewKeyring ? undefined : sessionKeyringName(id),
      trace: traceHandoff(),
    };
    traceStage('drive init');
    driveInit(spawned.chan, plan, rec, spec);
    // The init is past its set-up: the engine starts no more threads before execve.
    if (onceReady) {
      // the unit first (else daemon-reload would reset pids.max), then the file: systemd
      // writes TasksMax into the cgroup, and a limit of 0 is 1 for systemd (pidsProperties)
      if (scope) setUnitProperties(scope.unit, pidsProperties(onceReady));
      driver.apply(made, onceReady);
    }
    failpoint('create:ready');

    trace('init ready');
    if (opts.pidFile) writePidFile(opts.pidFile, spawned.pid);
    delete rec.creator;
    saveRecord(dir, rec);
    return { rec, dir, spec };
  } catch (e) {
    traceStage('undo');
    const released = undo.unwind((name, err) => logWarn(`cleanup after failed create: ${name}: ${(err as Error).message}`));
    logDebug(`create failed: released ${released.join(', ')}`);
    throw e;
  } finally {
    unlock();
  }
}

/** The pids limit waits until the init is ready. The init joins with all of its
 * engine's threads (cgroup2 moves the whole process: 5 threads here; v1 the main
 * thread, which later starts others), and the kernel refuses every new task once
 * pids.current reaches pids.max — the engine's next thread, i.e. an abort in the
 * init (`--pids-limit 4` killed it). Moving a process in is never refused, and a
 * limit below pids.current is allowed: only later forks fail. So the limit goes in
 * once the init has reported ready (blocked on exec.fifo, then execve, which
 * leaves one thread), before `create` returns and anything of the container runs. */
export function splitPidsLimit(res: Resources | undefined): { now: Resources | undefined; onceReady?: Resources } {
  if (!res?.pids) return { now: res };
  const { pids, ...now } = res;
  return { now, onceReady: { pids } };
}

/** Directories above the leaf that a failed create made (v2), deepest first;
 * one that another container uses meanwhile stays (rmdir fails). */
function removeMadeDirs(cg: CgroupRecord): void {
  for (const d of [...(cg.made ?? [])].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // not empty: shared with another container
    }
  }
}

function driveInit(chan: SyncChannel, plan: InitPlan, rec: ContainerRecord, spec: Spec): void {
  try {
    chan.send(plan);
    chan.expect('createRuntime');
    failpoint('create:init-mounted');
    // the network namespace exists now (the init made it), and the hooks see the devices
    if (spec.linux?.netDevices) moveNetDevices(spec, rec.pid);
    const state = toOciState(rec, 'creating');
    runHooks(spec.hooks, 'prestart', state);
    runHooks(spec.hooks, 'createRuntime', state);
    chan.send({ type: 'continue', state: { ...state, ociVersion: OCI_VERSION } });
    const ready = chan.expect('ready');
    logDebug(`init stages (ms): ${ready.stages.map(([n, ms]) => `${n} ${ms.toFixed(2)}`).join(', ')}`);
  } catch (e) {
    if (e instanceof ChildError) throw new ContainerError(`unable to start container process: ${e.message}`, { cause: e });
    if (e instanceof ProtocolError && e.got === 'eof') throw new ContainerError('container init exited before it was ready');
    throw e;
  } finally {
    chan.close();
  }
}


