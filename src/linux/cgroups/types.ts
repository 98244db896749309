// The shapes shared by the cgroup modules: the record kept in state.json, a
// mounted hierarchy, and the manager interface both versions implement. Types
// only: every module here may import this one and it imports none of them.
import type { Resources } from '../../spec/types';

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

/** The files a new process is moved through: `byParent` get its PID from the
 * parent while it boots, `bySelf` get "0" from the process itself (join.ts). */
export interface JoinFiles {
  byParent: string[];
  bySelf: string[];
}

export interface OomWatch {
  fd: number;
  /** OOM kills since the last call (0 for a wake-up that was not an OOM, e.g. the cgroup going away) */
  consume(): number;
  close(): void;
}

type N = bigint;
export type StatsValue = N | number | string | null | StatsValue[] | { [k: string]: StatsValue };
export type StatsObject = { [k: string]: StatsValue };

/** A cgroup manager: everything the engine does with a container's cgroup, one
 * implementation per cgroup version (v1.ts also covers hybrid hosts; v2.ts unified
 * ones). Nothing outside this directory branches on the version. */
export interface CgroupDriver {
  readonly version: 1 | 2;
  /** The directories create(path) makes, by controller key, computed without
   * touching anything (layout.ts's plannedDirs: the one place that computes them). */
  plannedDirs(path: string): Record<string, string>;
  /** Create the directories of the container's cgroup; returns the record to store. */
  create(path: string): CgroupRecord;
  /** Write linux.resources into an existing cgroup (all but devices). */
  apply(rec: CgroupRecord, res: Resources | undefined): void;
  /** The device policy: deny all, then linux.resources.devices, then the
   * defaults. Applied by create whether or not the config lists devices: a new
   * cgroup inherits its parent's allow-all, and with CAP_MKNOD (a Docker and
   * containerd default) a container could mknod and read the host's disks. */
  applyDevices(rec: CgroupRecord, devices: Resources['devices']): void;
  /** How a new process joins the cgroup: by its parent, by itself (join.ts). */
  joinFiles(rec: CgroupRecord): JoinFiles;
  /** The processes in the cgroup and its sub-cgroups, sorted. */
  pids(rec: CgroupRecord): number[];
  /** Usage figures in runc's `events --stats` shape. */
  stats(rec: CgroupRecord): StatsObject;
  /** Notification of OOM kills, or undefined without a memory controller. */
  watchOom(rec: CgroupRecord): OomWatch | undefined;
  freeze(rec: CgroupRecord): void;
  thaw(rec: CgroupRecord): void;
  isFrozen(rec: CgroupRecord): boolean;
  /** Remove the container's cgroup directories (leaf only; parents may be shared). */
  destroy(rec: CgroupRecord): void;
}
