// cgroup v1 (and hybrid hosts): one hierarchy per controller, each with its own
// directory for the container; on a hybrid host the controller-less cgroup2
// mount gets one too (it may hold leftovers such as hugetlb).
import { hugetlbFiles, pidsMax } from '../resources13';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Resources } from '../../spec/types';
import { cause } from '../../trace/record';
import * as libc from '../libc';
import { deviceRuleText, withDefaultDeviceRules } from './devices';
import {
  CgroupError, deviceWeight, enableSubtreeControllers, errnoOf, isSet, readCgroupFile, readControllers, removeCgroupDir, sleepMs, writeCgroupFile,
} from './files';
import { pidsBelow, procsJoin, tasksJoin } from './join';
import { hostHierarchies, joinOwnCgroup, ownCgroups, plannedDirs } from './layout';
import { statsV1 } from './stats';
import { watchOomV1 } from './oom';
import type { CgroupDriver, CgroupRecord, Hierarchy, JoinFiles, OomWatch, StatsObject } from './types';

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

  plannedDirs(path: string): Record<string, string> {
    return plannedDirs(path, this.hierarchies, this.own());
  }

  create(path: string): CgroupRecord {
    const own = this.own();
    const paths = plannedDirs(path, this.hierarchies, own);
    for (const h of this.hierarchies) {
      const isCpuset = h.controllers.includes('cpuset');
      mkdirLevels(h.mountpoint, relative(h.mountpoint, paths[h.controllers[0] as string] as string), isCpuset ? inheritCpuset : () => undefined);
    }
    return { version: 1, paths, path: joinOwnCgroup(path, 'memory', own) };
  }

  /** v1 hierarchies by their tasks files (the calling thread only); a hybrid
   * host's cgroup2 directory by cgroup.procs (join.ts says who writes which). */
  joinFiles(rec: CgroupRecord): JoinFiles {
    const v1 = tasksJoin(Object.entries(rec.paths).filter(([c]) => c !== 'unified').map(([, d]) => d));
    if (!rec.paths.unified) return v1;
    const v2 = procsJoin(rec.paths.unified);
    return { byParent: [...v1.byParent, ...v2.byParent], bySelf: [...v1.bySelf, ...v2.bySelf] };
  }

  pids(rec: CgroupRecord): number[] {
    return pidsBelow(rec.paths.pids ?? rec.paths.unified ?? rec.paths.memory ?? Object.values(rec.paths)[0]);
  }

  stats(rec: CgroupRecord): StatsObject {
    return statsV1(rec);
  }

  watchOom(rec: CgroupRecord): OomWatch | undefined {
    return watchOomV1(rec.paths.memory);
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
