// OCI runtime-spec types (config.json and state), the subset toyrun implements.
// Field names follow the spec exactly so that JSON maps onto them directly.

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  /** toyrun extension (ignored by other runtimes): an image stacked with overlayfs. */
  'org.toyrun.image'?: ImageRoot;
}

export interface ImageRoot {
  /** Tar archives (plain or gzip) or directories, relative to the bundle, bottom first. */
  layers: string[];
  /** Keep the upper (writable) layer after delete. */
  persistent?: boolean;
  /** Where a persistent upper layer lives (default: <bundle>/upper). */
  upperDir?: string;
}

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

export type CapabilityName = string;
export interface Capabilities {
  bounding?: CapabilityName[];
  effective?: CapabilityName[];
  inheritable?: CapabilityName[];
  permitted?: CapabilityName[];
  ambient?: CapabilityName[];
}

export interface ConsoleSize {
  height: number;
  width: number;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  scheduler?: Scheduler;
  ioPriority?: IOPriority;
  execCPUAffinity?: CPUAffinity;
}

/** process.scheduler (spec 1.3): the sched_setattr(2) arguments. */
export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export interface IOPriority {
  class: 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';
  priority: number;
}

/** process.execCPUAffinity: CPU lists ("0-3,7") for `exec` processes. */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Device {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface DeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number | null;
  minor?: number | null;
  access?: string;
}

export interface Memory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface Cpu {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface Pids {
  limit: number;
}

export interface WeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: WeightDevice[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface HugepageLimit {
  pageSize: string;
  limit: number;
}

export interface IntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
}

export interface MemoryPolicy {
  mode: string;
  nodes?: string;
  flags?: string[];
}

export interface TimeOffset {
  secs?: number;
  nanosecs?: number;
}

export interface NetDevice {
  name?: string;
}

export interface NetworkResources {
  classID?: number;
  priorities?: { name: string; priority: number }[];
}

export interface Resources {
  devices?: DeviceCgroup[];
  memory?: Memory;
  cpu?: Cpu;
  pids?: Pids;
  blockIO?: BlockIO;
  hugepageLimits?: HugepageLimit[];
  network?: NetworkResources;
  rdma?: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  unified?: Record<string, string>;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  rootfsPropagation?: string;
  seccomp?: Seccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: { domain: string; flags?: string[] };
  timeOffsets?: Record<string, TimeOffset>;
  netDevices?: Record<string, NetDevice>;
  memoryPolicy?: MemoryPolicy;
  intelRdt?: IntelRdt;
}

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** The state object of the OCI runtime spec, as `toyrun state` prints it. */
export interface State {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
}
