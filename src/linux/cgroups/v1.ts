// cgroups: where a container's cgroup lives and how its limits are written.
// The layout is read from /proc/self/mountinfo and /proc/self/cgroup, never assumed:
//   v1      one hierarchy per controller (cpu, memory, name=systemd, ...)
//   hybrid  v1 hierarchies plus a cgroup2 mount (often /sys/fs/cgroup/unified) with no controllers
//   v2      one unified hierarchy
// Drivers share the CgroupDriver interface; the record kept in state.json lists
// the directories so that later commands need not recompute anything.
import { hugetlbFiles, pidsMax } from '../resources13';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Resources } from '../../spec/types';
import { CgroupV2, enableSubtreeControllers, readControllers } from './v2';
import { cause } from '../../trace/record';
import * as libc from '../libc';
import { parseMountInfo } from '../mountinfo';

export interface CgroupRecord {
  /** 1 for v1/hybrid hosts, 2 for unified hosts. */
  version?: 1 | 2;
  /** controller (or "unified" / "name=systemd") → absolute directory of the container's cgroup */
  paths: Record<string, string>;
  /** The cgroup path as the container sees it relative to each hierarchy root. */
  path?: string;
  /** Directories above the leaf that this create made (v2): a failed create removes them. */
  made?: string[];
  /** --systemd-cgroup: the transient scope unit systemd made for the container (stopped on delete). */
  systemdUnit?: string;
}

export interface Hierarchy {
  /** v1: the controllers (and name=…) of this mount; v2: ["unified"] */
  controllers: string[];
  mountpoint: string;
  /** The path inside the hierarchy that is mounted at mountpoint (usually "/"). */
  root: string;
  version: 1 | 2;
}

export class CgroupError extends Error {
  /** The errno name of the failed write (ENOTSUP, EBUSY, ...), when there was one. */
  get code(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

// ---- layout discovery ---------------------------------------------------

/** Parse cgroup mounts from a mountinfo text (exported for unit tests). */
export function parseCgroupMounts(mountinfo: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const { fstype, superOptions, root, mountpoint } of parseMountInfo(mountinfo)) {
    if (fstype === 'cgroup2') {
      out.push({ controllers: ['unified'], mountpoint, root: root || '/', version: 2 });
    } else if (fstype === 'cgroup') {
      const known = superOptions.split(',').filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
      if (known.length > 0) out.push({ controllers: known, mountpoint, root: root || '/', version: 1 });
    }
  }
  // the same hierarchy may be mounted twice (e.g. inside a container): keep the first
  const seen = new Set<string>();
  return out.filter((h) => {
    const k = h.controllers.join(',');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids',
  'hugetlb', 'net_cls', 'net_prio', 'perf_event', 'rdma', 'misc',
]);


/** /proc/<pid>/cgroup → controller key → path (v2 entries under "unified"). */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, hid, ctrls, path] = m as unknown as [string, string, string, string];
    if (hid === '0' && ctrls === '') out.unified = path;
    else for (const c of ctrls.split(',')) out[c] = path;
  }
  return out;
}

let cachedHierarchies: Hierarchy[] | undefined;
export function hostHierarchies(): Hierarchy[] {
  cachedHierarchies ??= parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  return cachedHierarchies;
}

export function hostCgroupVersion(hs = hostHierarchies()): 1 | 2 {
  return hs.some((h) => h.version === 1) ? 1 : 2;
}

/** Resolve linux.cgroupsPath the way runc does:
 *  - absent: a default per container
 *  - absolute: relative to each hierarchy's root
 *  - relative: relative to the runtime's own cgroup
 *  - "slice:prefix:name" (systemd form; no systemd here): mapped to /slice/prefix-name.scope
 */
export function resolveCgroupPath(cgroupsPath: string | undefined, id: string, systemd: boolean, ownPath?: string): string {
  let p = cgroupsPath ?? '';
  if (p === '' && systemd) p = `system.slice:toyrun:${id}`; // runc: system.slice:runc:<id>
  if (p === '') return `/toyrun/${id}`;
  const parts = p.split(':');
  if (systemd || (parts.length === 3 && !p.startsWith('/'))) {
    if (parts.length !== 3) throw new CgroupError(`cgroupsPath ${JSON.stringify(p)}: expected "slice:prefix:name" with --systemd-cgroup`);
    const [slice, prefix, name] = parts as [string, string, string];
    p = `/${expandSlice(slice || 'system.slice')}/${prefix ? `${prefix}-${name}` : name}.scope`;
    return p.replace(/\/+/g, '/');
  }
  if (p.includes('..')) throw new CgroupError(`cgroupsPath ${JSON.stringify(p)} must not contain ".."`);
  // Without ownPath a relative path stays relative: on v1 each hierarchy has
  // its own "own cgroup", so the driver joins it per hierarchy (as runc does).
  if (p.startsWith('/')) return p;
  return ownPath === undefined ? p.replace(/^\.\//, '') : join(ownPath, p);
}

/** Where a relative cgroupsPath lands in one hierarchy: below the cgroup the
 * runtime itself is in there (/proc/self/cgroup, keyed by controller). */
export function joinOwnCgroup(path: string, key: string, own: Record<string, string> = ownCgroups()): string {
  return path.startsWith('/') ? path : join(own[key] ?? '/', path);
}

/** Where a cgroupsPath lands on a unified (v2-only) host, as runc's fs2 does: an
 * absolute path below the root; a relative one below the *parent* of the runtime's
 * own cgroup. The own cgroup holds processes (the runtime, its caller's service),
 * and a cgroup with processes can neither enable domain controllers for a child
 * ("no internal processes", EBUSY) nor take threaded ones without turning into a
 * "domain threaded" root that refuses domain children (ENOTSUP). */
export function v2CgroupPath(path: string, own: Record<string, string> = ownCgroups()): string {
  return path.startsWith('/') ? path : join(dirname(own.unified ?? '/'), path);
}

export function ownCgroups(): Record<string, string> {
  try {
    return parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return {};
  }
}

/** systemd nests "a-b-c.slice" as a.slice/a-b.slice/a-b-c.slice. */
function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice === '-.slice') return slice;
  const name = slice.slice(0, -'.slice'.length);
  const parts = name.split('-');
  return parts.map((_, i) => parts.slice(0, i + 1).join('-') + '.slice').join('/');
}

// ---- helpers ---------------------------------------------------------------

export function writeCgroupFile(dir: string, file: string, value: string): void {
  try {
    libc.writeFile(join(dir, file), value);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CgroupError(`write ${join(dir, file)} (${JSON.stringify(value)}): ${err.code ?? err.message}`, { cause: e });
  }
}

export function readCgroupFile(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').trim();
}

function mkdirLevels(base: string, rel: string, eachLevel: (dir: string) => void): string {
  let dir = base;
  for (const part of rel.split('/').filter(Boolean)) {
    dir = join(dir, part);
    if (!existsSync(dir)) {
      try {
        libc.mkdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    // Every level, not only the ones we made: a parallel create may have made a
    // parent and not yet filled it in (an empty parent cpuset would be copied).
    eachLevel(dir);
  }
  return dir;
}

/** A new v1 cpuset is empty and refuses tasks (ENOSPC) until cpus and mems are set: inherit the parent's. */
function inheritCpuset(dir: string): void {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    try {
      // the parent's value, not a config field's: the cgroup's own existence is the cause
      if (readCgroupFile(dir, f) === '') cause('/linux/cgroupsPath', () => libc.writeFile(join(dir, f), readCgroupFile(dirname(dir), f)));
    } catch {
      // not a cpuset hierarchy level we can fix: the join will report it
    }
  }
}

export function pidsIn(rec: CgroupRecord): number[] {
  const dir = rec.paths.pids ?? rec.paths.unified ?? rec.paths.memory ?? Object.values(rec.paths)[0];
  if (!dir) return [];
  const seen = new Set<number>();
  const walk = (d: string): void => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) seen.add(Number(l));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      // a vanished sub-cgroup has no processes left
    }
  };
  walk(dir);
  return [...seen].sort((a, b) => a - b);
}

// ---- joining ----------------------------------------------------------------------

/** How a new process joins the container's cgroup: `byParent` files get its PID
 * from the parent while it is still booting, `bySelf` files get "0" from the
 * process itself, as its first stage.
 *
 * Moving a process through cgroup.procs write-locks the global threadgroup
 * rwsem, and the first such write of a burst waits for an RCU grace period
 * (~9 ms here; it also stalls every fork on the host meanwhile). On v1, writing
 * "0" to `tasks` moves only the calling thread and takes no such lock: the
 * process moves its main thread, the one that will execve (exec leaves only that
 * thread; memcg charges follow the thread-group leader, so the engine's later
 * allocations are the container's, and its boot-time ones are not).
 *
 * cgroup2 has no per-thread move for domain cgroups, so that one write pays the
 * grace period. Where the container's cgroup2 directory has neither the memory
 * nor the pids controller (a hybrid host, whose cgroup2 side carries at most
 * leftovers such as hugetlb), nothing there can hold the booting engine to the
 * container's limits: the parent moves the process while its engine boots, and
 * the wait overlaps the boot instead of following it. Otherwise the process
 * moves itself once booted, so that neither the engine's boot memory nor its
 * helper threads count against memory.max and pids.max. */
export function joinFiles(rec: CgroupRecord): { byParent: string[]; bySelf: string[] } {
  const v1Dirs = new Set(Object.entries(rec.paths).filter(([c]) => c !== 'unified').map(([, d]) => d));
  const bySelf = [...v1Dirs].map((d) => join(d, 'tasks'));
  const byParent: string[] = [];
  const unified = rec.paths.unified;
  if (unified) {
    const procs = join(unified, 'cgroup.procs');
    const limiting = readControllers(unified).some((c) => c === 'memory' || c === 'pids');
    (limiting ? bySelf : byParent).push(procs);
  }
  return { byParent, bySelf };
}

/** Start, in the background, the grace period that moving a process through
 * cgroup.procs must wait for. The rcu_sync guarding the threadgroup rwsem lets
 * a writer that comes within about one grace period of the previous one through
 * without a new wait: a no-op move (our own PID into the cgroup we are in) on a
 * worker thread pays the wait while we go on validating, claiming and spawning,
 * and the real move a few milliseconds later finds it paid. Only a head start:
 * if the write fails, or comes too late, the real move waits as it would have. */
export function startMoveGracePeriod(): void {
  const h = hostHierarchies().find((x) => x.version === 2);
  const own = ownCgroups().unified;
  if (!h || own === undefined) return;
  let fd: number;
  try {
    fd = libc.openat(libc.AT_FDCWD, join(h.mountpoint, relToMount(h, own), 'cgroup.procs'), libc.O.WRONLY | libc.O.CLOEXEC);
  } catch {
    return;
  }
  libc.writeInBackground(fd, Buffer.from(String(process.pid)));
}

/** Write `pid` into each join file: cgroup.procs moves the whole process, a v1
 * `tasks` file the one thread of that id (the main thread: the one that execs). */
export function moveIntoCgroup(pid: number, files: string[]): void {
  for (const file of files) writeCgroupFile(dirname(file), basename(file), String(pid));
}

/** All of the cgroup files, for a parent that moves a process it has stopped
 * (the user-namespace stages, where the host-owned files are not writable from inside). */
export function allJoinFiles(rec: CgroupRecord): string[] {
  const { byParent, bySelf } = joinFiles(rec);
  return [...bySelf, ...byParent];
}

// ---- the driver interface ------------------------------------------------------

export interface CgroupDriver {
  readonly version: 1 | 2;
  /** Create the directories of the container's cgroup; returns the record to store. */
  create(path: string): CgroupRecord;
  /** Write linux.resources into an existing cgroup (all but devices). */
  apply(rec: CgroupRecord, res: Resources | undefined): void;
  /** The device policy: deny all, then linux.resources.devices, then the
   * defaults. Applied by create whether or not the config lists devices: a new
   * cgroup inherits its parent's allow-all, and with CAP_MKNOD (a Docker and
   * containerd default) a container could mknod and read the host's disks. */
  applyDevices(rec: CgroupRecord, devices: Resources['devices']): void;
  freeze(rec: CgroupRecord): void;
  thaw(rec: CgroupRecord): void;
  isFrozen(rec: CgroupRecord): boolean;
  /** Remove the container's cgroup directories (leaf only; parents may be shared). */
  destroy(rec: CgroupRecord): void;
}

// ---- cgroup v1 (and hybrid) ------------------------------------------------------

/** The errno name under a CgroupError (its cause) or a plain fs error. */
function errnoOf(e: unknown): string | undefined {
  const err = e as Error & { code?: string };
  return err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
}

/** cfs period then quota; a smaller period the kernel refuses (EINVAL: the
 * old quota over the new period would exceed the parent's bandwidth) is
 * written again once the new quota is in, as runc does. */
function writeQuotaAndPeriod(d: string, quota: number | undefined, period: number | undefined): void {
  const setQuota = quota !== undefined && quota !== 0;
  let retryPeriod = false;
  if (period !== undefined && period !== 0) {
    try {
      writeCgroupFile(d, 'cpu.cfs_period_us', String(period));
    } catch (e) {
      if (!(setQuota && errnoOf(e) === 'EINVAL')) throw e;
      retryPeriod = true;
    }
  }
  if (setQuota) writeCgroupFile(d, 'cpu.cfs_quota_us', String(quota));
  if (retryPeriod) writeCgroupFile(d, 'cpu.cfs_period_us', String(period));
}

export class CgroupV1 implements CgroupDriver {
  readonly version = 1 as const;
  constructor(
    private readonly hierarchies: Hierarchy[] = hostHierarchies(),
    private readonly own: () => Record<string, string> = ownCgroups,
  ) {}

  create(path: string): CgroupRecord {
    const paths: Record<string, string> = {};
    const own = this.own();
    for (const h of this.hierarchies) {
      const abs = joinOwnCgroup(path, h.controllers[0] as string, own);
      const rel = relToMount(h, abs);
      const isCpuset = h.controllers.includes('cpuset');
      const dir = mkdirLevels(h.mountpoint, rel, isCpuset ? inheritCpuset : () => undefined);
      for (const c of h.controllers) paths[c] = dir;
    }
    return { version: 1, paths, path: joinOwnCgroup(path, 'memory', own) };
  }

  private dirFor(rec: CgroupRecord, controller: string, what: string): string {
    const dir = rec.paths[controller];
    if (!dir) throw new CgroupError(`${what}: the ${controller} cgroup controller is not mounted on this host`);
    return dir;
  }

  apply(rec: CgroupRecord, res: Resources | undefined): void {
    if (!res) return;
    const { memory, cpu, pids, blockIO, hugepageLimits, network } = res;
    // A controller is required only for values that are set: `"memory": {}` needs none.
    if (memory && isSet(memory, ['limit', 'reservation', 'swap', 'kernelTCP', 'swappiness', 'disableOOMKiller'])) {
      const d = this.dirFor(rec, 'memory', 'linux.resources.memory');
      const limit = memory.limit !== undefined ? String(memory.limit) : undefined;
      const swap = memory.swap !== undefined ? String(memory.swap) : undefined;
      if (swap !== undefined && !existsSync(join(d, 'memory.memsw.limit_in_bytes'))) {
        if (memory.swap !== -1 && memory.swap !== memory.limit) {
          throw new CgroupError('linux.resources.memory.swap: swap accounting is disabled on this host (no memory.memsw.limit_in_bytes)');
        }
      }
      const hasMemsw = swap !== undefined && existsSync(join(d, 'memory.memsw.limit_in_bytes'));
      // memsw must stay >= limit at every moment: order the writes by direction.
      try {
        if (limit !== undefined) writeCgroupFile(d, 'memory.limit_in_bytes', limit);
        if (hasMemsw) writeCgroupFile(d, 'memory.memsw.limit_in_bytes', swap);
      } catch {
        if (hasMemsw) writeCgroupFile(d, 'memory.memsw.limit_in_bytes', swap);
        if (limit !== undefined) writeCgroupFile(d, 'memory.limit_in_bytes', limit);
      }
      if (memory.reservation !== undefined) writeCgroupFile(d, 'memory.soft_limit_in_bytes', String(memory.reservation));
      if (memory.swappiness !== undefined) writeCgroupFile(d, 'memory.swappiness', String(memory.swappiness));
      if (memory.disableOOMKiller) writeCgroupFile(d, 'memory.oom_control', '1');
      if (memory.kernelTCP !== undefined && existsSync(join(d, 'memory.kmem.tcp.limit_in_bytes'))) {
        writeCgroupFile(d, 'memory.kmem.tcp.limit_in_bytes', String(memory.kernelTCP));
      }
      // memory.kernel is deprecated and gone from kernels >= 5.16: accepted, not applied.
    }
    if (cpu) {
      const needsCpu = cpu.shares ?? cpu.quota ?? cpu.period ?? cpu.realtimeRuntime ?? cpu.realtimePeriod ?? cpu.burst ?? cpu.idle;
      if (needsCpu !== undefined) {
        const d = this.dirFor(rec, 'cpu', 'linux.resources.cpu');
        if (cpu.shares !== undefined && cpu.shares !== 0) writeCgroupFile(d, 'cpu.shares', String(cpu.shares));
        writeQuotaAndPeriod(d, cpu.quota, cpu.period);
        if (cpu.burst !== undefined) writeCgroupFile(d, 'cpu.cfs_burst_us', String(cpu.burst));
        if (cpu.realtimePeriod !== undefined && cpu.realtimePeriod !== 0) writeCgroupFile(d, 'cpu.rt_period_us', String(cpu.realtimePeriod));
        if (cpu.realtimeRuntime !== undefined && cpu.realtimeRuntime !== 0) writeCgroupFile(d, 'cpu.rt_runtime_us', String(cpu.realtimeRuntime));
        if (cpu.idle !== undefined) writeCgroupFile(d, 'cpu.idle', String(cpu.idle));
      }
      if (cpu.cpus) writeCgroupFile(this.dirFor(rec, 'cpuset', 'linux.resources.cpu.cpus'), 'cpuset.cpus', cpu.cpus);
      if (cpu.mems) writeCgroupFile(this.dirFor(rec, 'cpuset', 'linux.resources.cpu.mems'), 'cpuset.mems', cpu.mems);
    }
    if (pids) {
      const d = this.dirFor(rec, 'pids', 'linux.resources.pids');
      writeCgroupFile(d, 'pids.max', pidsMax(pids.limit));
    }
    if (blockIO && isSet(blockIO, ['weight', 'leafWeight', 'weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'])) {
      const d = this.dirFor(rec, 'blkio', 'linux.resources.blockIO');
      const weightFile = existsSync(join(d, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight';
      const wantsWeight = (blockIO.weight ?? 0) !== 0 || (blockIO.weightDevice ?? []).some((w) => w.weight !== undefined);
      if (wantsWeight && !existsSync(join(d, weightFile))) {
        // weights are an I/O scheduler feature (CFQ, BFQ); throttling works without one
        throw new CgroupError('linux.resources.blockIO.weight: no blkio.weight or blkio.bfq.weight on this host (neither CFQ nor BFQ is the I/O scheduler)');
      }
      if (blockIO.weight !== undefined && blockIO.weight !== 0) writeCgroupFile(d, weightFile, String(blockIO.weight));
      if (blockIO.leafWeight !== undefined && blockIO.leafWeight !== 0) writeCgroupFile(d, 'blkio.leaf_weight', String(blockIO.leafWeight));
      for (const [i, w] of (blockIO.weightDevice ?? []).entries()) {
        deviceWeight(i, w, () => {
          if (w.weight !== undefined) writeCgroupFile(d, weightFile.replace('weight', 'weight_device'), `${w.major}:${w.minor} ${w.weight}`);
          if (w.leafWeight !== undefined) writeCgroupFile(d, 'blkio.leaf_weight_device', `${w.major}:${w.minor} ${w.leafWeight}`);
        });
      }
      const throttles: [keyof typeof blockIO, string][] = [
        ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
        ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
        ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
        ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
      ];
      for (const [key, file] of throttles) {
        const list = blockIO[key];
        if (Array.isArray(list)) for (const t of list) writeCgroupFile(d, file, `${t.major}:${t.minor} ${(t as { rate: number }).rate}`);
      }
    }
    for (const h of hugepageLimits ?? []) {
      // Hybrid hosts may run hugetlb on the cgroup2 side (this one does).
      const v2 = !rec.paths.hugetlb && rec.paths.unified ? this.unifiedWith(rec, 'hugetlb') : undefined;
      const d = v2 ?? this.dirFor(rec, 'hugetlb', 'linux.resources.hugepageLimits');
      for (const file of hugetlbFiles(d, h.pageSize, v2 !== undefined)) writeCgroupFile(d, file, String(h.limit));
    }
    if (network) {
      if (network.classID !== undefined) writeCgroupFile(this.dirFor(rec, 'net_cls', 'linux.resources.network.classID'), 'net_cls.classid', String(network.classID));
      for (const p of network.priorities ?? []) {
        writeCgroupFile(this.dirFor(rec, 'net_prio', 'linux.resources.network.priorities'), 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
      }
    }
    for (const [file, value] of Object.entries(res.unified ?? {})) {
      // a hybrid host's cgroup2 side may hold controllers (this one: hugetlb): their files can be set
      const controller = file.slice(0, file.indexOf('.'));
      const v2 = rec.paths.unified && /^[a-z_]+\.[A-Za-z0-9_.]+$/.test(file) ? this.unifiedWith(rec, controller) : undefined;
      if (!v2) throw new CgroupError(`linux.resources.unified.${file}: the ${controller} controller is not on this host's cgroup2 hierarchy (cgroup v1 host)`);
      if (!existsSync(join(v2, file))) throw new CgroupError(`linux.resources.unified.${file}: no such cgroup file in ${v2}`);
      writeCgroupFile(v2, file, value);
    }
  }

  applyDevices(rec: CgroupRecord, devices: Resources['devices']): void {
    const d = this.dirFor(rec, 'devices', devices ? 'linux.resources.devices' : 'the default device policy');
    for (const rule of withDefaultDeviceRules(devices)) {
      writeCgroupFile(d, rule.allow ? 'devices.allow' : 'devices.deny', deviceRuleText(rule));
    }
  }

  /** The unified directory if the cgroup2 side of a hybrid host has `controller`
   * (enabled on the way down on first use). */
  private unifiedWith(rec: CgroupRecord, controller: string): string | undefined {
    const h = this.hierarchies.find((x) => x.version === 2);
    const dir = rec.paths.unified;
    if (!h || !dir || !readControllers(h.mountpoint).includes(controller)) return undefined;
    let cur = h.mountpoint;
    for (const part of dir.slice(h.mountpoint.length).split('/').filter(Boolean)) {
      if (!readControllers(cur).includes(controller)) return undefined;
      enableSubtreeControllers(cur, [controller]);
      cur = join(cur, part);
    }
    return readControllers(dir).includes(controller) ? dir : undefined;
  }

  freeze(rec: CgroupRecord): void {
    const d = this.dirFor(rec, 'freezer', 'pause');
    writeCgroupFile(d, 'freezer.state', 'FROZEN');
    for (let i = 0; i < 1000 && readCgroupFile(d, 'freezer.state') !== 'FROZEN'; i++) sleepMs(1);
  }
  thaw(rec: CgroupRecord): void {
    writeCgroupFile(this.dirFor(rec, 'freezer', 'resume'), 'freezer.state', 'THAWED');
  }
  isFrozen(rec: CgroupRecord): boolean {
    const d = rec.paths.freezer;
    if (!d) return false;
    try {
      return readCgroupFile(d, 'freezer.state') !== 'THAWED';
    } catch {
      return false;
    }
  }

  destroy(rec: CgroupRecord): void {
    const dirs = [...new Set(Object.values(rec.paths))];
    for (const d of dirs) removeCgroupDir(d);
  }
}

/** A per-device I/O weight needs a weight-aware scheduler (BFQ, or iocost on v2)
 * on that very device: the kernel refuses others with EOPNOTSUPP (blkg_conf_prep).
 * runc writes such weights only where BFQ is and ignores them elsewhere: warn
 * (in the --log file) and go on; any other failure stays an error. */
let warnSink: (msg: string) => void = (msg) => process.stderr.write(`warning: ${msg}\n`);
/** Where cgroup warnings go: the commands hand in the CLI's log (src/linux/ does not
 * import it: test/unit/imports.test.ts); stderr until then. */
export function setCgroupWarningSink(fn: (msg: string) => void): void {
  warnSink = fn;
}

export function deviceWeight(i: number, w: { major: number; minor: number }, write: () => void): void {
  try {
    write();
  } catch (e) {
    const code = e instanceof CgroupError ? e.code : undefined;
    if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOENT') throw e;
    warnSink(`linux.resources.blockIO.weightDevice[${i}]: device ${w.major}:${w.minor} takes no I/O weight (no BFQ or iocost on it), ignored: ${(e as Error).message}`);
  }
}

/** Any of these fields holds a value (a non-empty list for arrays). */
function isSet<T extends object>(o: T, keys: (keyof T)[]): boolean {
  return keys.some((k) => {
    const v = o[k];
    return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null;
  });
}

function relToMount(h: Hierarchy, path: string): string {
  // A hierarchy mounted at a sub-path (root != "/") can only reach paths below it.
  if (h.root !== '/' && path.startsWith(h.root + '/')) return path.slice(h.root.length);
  return path;
}

/** The directories CgroupV1.create(path) makes, computed without touching anything. */
export function cgroupDirs(path: string, hierarchies: Hierarchy[] = hostHierarchies(), own = ownCgroups()): Record<string, string> {
  const paths: Record<string, string> = {};
  const unified = hierarchies.find((h) => h.version === 2);
  if (hostCgroupVersion(hierarchies) === 2 && unified) return { unified: join(unified.mountpoint, relToMount(unified, v2CgroupPath(path, own))) };
  for (const h of hierarchies) {
    const dir = join(h.mountpoint, relToMount(h, joinOwnCgroup(path, h.controllers[0] as string, own)));
    for (const c of h.controllers) paths[c] = dir;
  }
  return paths;
}

/** rmdir the leaf, and its descendants first (a container may create sub-cgroups). */
export function removeCgroupDir(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupDir(join(dir, e.name));
  } catch {
    // gone already
  }
  for (let i = 0; i < 200; i++) {
    try {
      libc.rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw new CgroupError(`rmdir ${dir}: ${code ?? String(e)}`);
      sleepMs(5); // the last task is still exiting
    }
  }
  throw new CgroupError(`rmdir ${dir}: EBUSY (processes still in the cgroup)`);
}

// Every container gets the devices runc always allows, on top of linux.resources.devices
// (runc 1.1.5's devices.list, read on this host). Not 5:1: the host's /dev/console
// (the container's /dev/console is a pts, 136:N). mknod of any node is allowed; opening
// one is not, unless a rule says so.
export const DEFAULT_ALLOWED_DEVICES: { type: 'c' | 'b'; major: number | null; minor: number | null; access: string }[] = [
  { type: 'c', major: null, minor: null, access: 'm' },
  { type: 'b', major: null, minor: null, access: 'm' },
  { type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { type: 'c', major: 10, minor: 200, access: 'rwm' }, // net/tun (runc keeps it: runc#4555)
  { type: 'c', major: 136, minor: null, access: 'rwm' }, // pts/*
];

export function withDefaultDeviceRules(rules: Resources['devices']): NonNullable<Resources['devices']> {
  const list = [...(rules ?? [])];
  // Start from deny-all, as runc does on v1 and v2 alike: a new v1 cgroup
  // inherits its parent's allow-all, so a spec without a deny-all rule would
  // leave every device open. The container's rules follow, then the defaults.
  return [{ allow: false, type: 'a', access: 'rwm' }, ...list, ...DEFAULT_ALLOWED_DEVICES.map((d) => ({ allow: true, ...d }))];
}

export function deviceRuleText(r: NonNullable<Resources['devices']>[number]): string {
  const t = r.type ?? 'a';
  if (t === 'a' && (r.major === undefined || r.major === null) && (r.minor === undefined || r.minor === null)) return 'a';
  const num = (n: number | null | undefined): string => (n === undefined || n === null || n < 0 ? '*' : String(n));
  return `${t} ${num(r.major)}:${num(r.minor)} ${r.access || 'rwm'}`;
}

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** v1 for v1 and hybrid hosts (the v1 driver also creates the cgroup in the
 * controller-less cgroup2 mount), v2 for a unified host. */
export function cgroupDriver(hs = hostHierarchies()): CgroupDriver {
  if (hostCgroupVersion(hs) === 1) return new CgroupV1(hs);
  const unified = hs.find((h) => h.version === 2);
  if (!unified) throw new CgroupError('no cgroup filesystem is mounted (neither cgroup v1 nor cgroup2 in /proc/self/mountinfo)');
  return new CgroupV2(unified.mountpoint);
}

