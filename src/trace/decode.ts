// Turning a libc call's raw arguments into the kernel's own words for the trace:
// `mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)`. Runs only
// when tracing (the tables are built on first use).
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { CLONE, errnoName, MNT_DETACH, MOUNT_ATTR, MS, O, PR, SYS } from '../linux/libc';

export interface DescribedCall {
  call: string;
  args: string;
  errno?: string;
  ret?: number;
}

let tables: ReturnType<typeof buildTables> | undefined;
function buildTables() {
  const sys: Record<number, string> = { 321: 'bpf', 203: 'sched_setaffinity', 204: 'sched_getaffinity', 135: 'personality',
    238: 'set_mempolicy', 239: 'get_mempolicy', 251: 'ioprio_set', 252: 'ioprio_get', 314: 'sched_setattr', 315: 'sched_getattr' };
  for (const [name, nr] of Object.entries(SYS)) sys[nr] = name;
  const pr: Record<number, string> = {};
  for (const [name, v] of Object.entries(PR)) if (!name.startsWith('CAP_AMBIENT_')) pr[v] = `PR_${name}`;
  return {
    sys,
    pr,
    clone: Object.entries(CLONE).map(([n, v]): [string, number] => [`CLONE_${n}`, v]),
    ms: Object.entries(MS).map(([n, v]): [string, number] => [`MS_${n}`, v]),
    o: Object.entries(O).filter(([n]) => n !== 'RDONLY' && n !== 'WRONLY' && n !== 'RDWR').map(([n, v]): [string, number] => [`O_${n}`, v]),
    attr: Object.entries(MOUNT_ATTR).map(([n, v]): [string, number] => [`MOUNT_ATTR_${n}`, v]),
  };
}
function t(): ReturnType<typeof buildTables> {
  tables ??= buildTables();
  return tables;
}

function bits(v: number, names: [string, number][], zero = '0'): string {
  const out: string[] = [];
  let rest = v >>> 0;
  for (const [n, b] of names) {
    if (b !== 0 && (rest & b) === b) {
      out.push(n);
      rest &= ~b >>> 0;
    }
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out.length > 0 ? out.join('|') : zero;
}

function openFlags(v: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR'][v & 3] ?? 'O_ACCMODE';
  const rest = bits(v & ~3, t().o, '');
  return rest ? `${acc}|${rest}` : acc;
}

function dirfd(fd: unknown): string {
  return fd === -100 ? 'AT_FDCWD' : fdName(fd);
}

/** "fd 7 (/proc/123/ns/net)": what the fd is open on, while /proc can tell. */
function fdName(fd: unknown): string {
  if (typeof fd !== 'number' || fd < 0) return String(fd);
  try {
    return `fd ${fd} (${readlinkSync(`/proc/self/fd/${fd}`)})`;
  } catch {
    return `fd ${fd}`;
  }
}

function str(v: unknown, max = 120): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return JSON.stringify(v.length > max ? v.slice(0, max) + '…' : v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  if (Array.isArray(v)) return `[${v.filter((x) => x !== null).map((x) => str(x, 60)).join(', ')}]`;
  return '{…}';
}

function preview(buf: unknown, n: unknown): string {
  if (!Buffer.isBuffer(buf) || typeof n !== 'number') return str(buf);
  const text = buf.subarray(0, Math.min(n, 60)).toString('utf8').replace(/[^\x20-\x7e]/g, '.');
  return `${n} bytes ${JSON.stringify(text + (n > 60 ? '…' : ''))}`;
}

function capSet(data: unknown): string {
  if (!Buffer.isBuffer(data) || data.length < 24) return str(data);
  const u64 = (off: number): string => `0x${((BigInt(data.readUInt32LE(off + 12)) << 32n) | BigInt(data.readUInt32LE(off))).toString(16)}`;
  return `effective=${u64(0)}, permitted=${u64(4)}, inheritable=${u64(8)}`;
}

/** The variadic values of syscall(nr, type, value, ...). */
function values(args: unknown[]): unknown[] {
  return args.slice(1).filter((_, i) => i % 2 === 1);
}

function syscallArgs(name: string, v: unknown[]): string {
  switch (name) {
    case 'pivot_root':
      return `${str(v[0])}, ${str(v[1])}`;
    case 'seccomp': {
      const prog = v[2] as { len?: number } | undefined;
      return `SECCOMP_SET_MODE_FILTER, flags ${String(v[1])}, ${prog?.len ?? '?'} BPF instructions`;
    }
    case 'close_range':
      return `${String(v[0])}, ~0, CLOSE_RANGE_CLOEXEC`;
    case 'mount_setattr': {
      const a = v[3];
      const set = Buffer.isBuffer(a) ? Number(a.readBigUInt64LE(0)) : 0, clr = Buffer.isBuffer(a) ? Number(a.readBigUInt64LE(8)) : 0;
      return `${fdName(v[0])}, "", ${(Number(v[2]) & 0x8000) ? 'AT_RECURSIVE|' : ''}AT_EMPTY_PATH, set=${bits(set, t().attr)}, clr=${bits(clr, t().attr)}`;
    }
    case 'open_tree':
      return `${fdName(v[0])}, "", ${Number(v[2]) & 1 ? 'OPEN_TREE_CLONE|' : ''}${Number(v[2]) & 0x8000 ? 'AT_RECURSIVE|' : ''}AT_EMPTY_PATH`;
    case 'move_mount':
      return `${fdName(v[0])}, "", ${fdName(v[2])}, ""`;
    case 'openat2': {
      const how = v[2];
      const flags = Buffer.isBuffer(how) ? Number(how.readBigUInt64LE(0)) : 0, resolve = Buffer.isBuffer(how) ? Number(how.readBigUInt64LE(16)) : 0;
      return `${dirfd(v[0])}, ${str(v[1])}, ${openFlags(flags)}, resolve=0x${resolve.toString(16)}`;
    }
    case 'fsopen':
      return `${str(v[0])}, FSOPEN_CLOEXEC`;
    case 'fsconfig':
      return `fd ${String(v[0])}, ${['SET_FLAG', 'SET_STRING', '', '', '', '', 'CMD_CREATE'][Number(v[1])] ?? v[1]}${v[2] ? `, ${str(v[2])}` : ''}${typeof v[3] === 'string' ? `, ${str(v[3])}` : ''}`;
    default:
      return v.map((x) => str(x)).join(', ');
  }
}

/** name and args as the libc.ts wrapper got them; ret undefined before the call (execve). */
export function describeCall(name: string, a: unknown[], ret: unknown, errno: number): DescribedCall {
  let call = name;
  let args: string;
  switch (name) {
    case 'mount':
      args = `${str(a[0])}, ${str(a[1])}, ${str(a[2])}, ${bits(Number(a[3]), t().ms)}, ${str(a[4])}`;
      break;
    case 'umount2':
      args = `${str(a[0])}, ${Number(a[1]) === MNT_DETACH ? 'MNT_DETACH' : String(a[1])}`;
      break;
    case 'unshare':
      args = bits(Number(a[0]), t().clone);
      break;
    case 'setns':
      args = `${fdName(a[0])}, ${bits(Number(a[1]), t().clone)}`;
      break;
    case 'openat':
      args = `${dirfd(a[0])}, ${str(a[1])}, ${openFlags(Number(a[2]))}${Number(a[2]) & O.CREAT ? `, 0${Number(a[4]).toString(8)}` : ''}`;
      break;
    case 'mkdirat': case 'unlinkat': case 'symlinkat': case 'fchownat': case 'mknodat':
      args = a.map((x, i) => (i === 0 && name !== 'symlinkat' ? dirfd(x) : typeof x === 'number' && i === 2 && (name === 'mkdirat' || name === 'mknodat') ? `0${x.toString(8)}` : str(x))).join(', ');
      break;
    case 'mkfifo': case 'mknod':
      args = `${str(a[0])}, 0${Number(a[1]).toString(8)}${a[2] !== undefined ? `, ${String(a[2])}` : ''}`;
      break;
    case 'flock':
      args = `${String(a[0])}, ${bits(Number(a[1]), [['LOCK_SH', 1], ['LOCK_EX', 2], ['LOCK_NB', 4], ['LOCK_UN', 8]])}`;
      break;
    case 'fcntl': {
      const cmds: Record<number, string> = { 1: 'F_GETFD', 2: 'F_SETFD', 3: 'F_GETFL', 4: 'F_SETFL', 1030: 'F_DUPFD_CLOEXEC' };
      args = `${String(a[0])}, ${cmds[Number(a[1])] ?? a[1]}, ${String(a[3])}`;
      break;
    }
    case 'prctl':
      args = [t().pr[Number(a[0])] ?? String(a[0]), ...values(a).map(String)].join(', ').replace(/(, 0)+$/, '');
      break;
    case 'ioctl':
      args = `${String(a[0])}, 0x${Number(a[1]).toString(16)}, ${str(a[3])}`;
      break;
    case 'execve': {
      const env = (a[2] as unknown[] | undefined)?.filter((x) => x !== null) ?? [];
      // values of the environment stay out of the trace (they may be secrets): names only
      args = `${str(a[0])}, ${str(a[1])}, env: ${env.map((e) => String(e).split('=')[0]).join(' ') || '(empty)'}`;
      break;
    }
    case 'write':
      args = `${String(a[0])}, ${preview(a[1], a[2])}`;
      break;
    case 'read': case 'recvmsg': case 'sendmsg':
      args = `${String(a[0])}, ${Buffer.isBuffer(a[1]) ? `<${a[1].length} bytes>` : str(a[1])}`;
      break;
    case 'capset':
      args = capSet(a[1]);
      break;
    case 'setgroups': {
      const n = Number(a[0]), b = a[1];
      args = `${n}, [${Buffer.isBuffer(b) ? Array.from({ length: n }, (_, i) => b.readUInt32LE(i * 4)).join(', ') : ''}]`;
      break;
    }
    case 'posix_spawn':
      args = `${str(a[1])}, ${str(a[4])}`;
      break;
    case 'sethostname': case 'setdomainname':
      args = str(a[0]);
      break;
    case 'syscall':
      call = t().sys[Number(a[0])] ?? `syscall ${String(a[0])}`;
      args = syscallArgs(call, values(a));
      break;
    case 'waitpid': case 'wait4':
      args = `${String(a[0])}, options ${String(a[2])}`;
      break;
    default:
      args = a.map((x) => str(x)).join(', ');
  }
  if (ret === undefined) return { call, args };
  const r = typeof ret === 'bigint' ? Number(ret) : typeof ret === 'number' ? ret : 0;
  if (name === 'posix_spawn' || name === 'ptsname_r') {
    if (r !== 0) return { call, args, errno: errnoName(r) };
    const pid = (a[0] as number[] | undefined)?.[0];
    return { call, args, ...(name === 'posix_spawn' && pid ? { ret: pid } : {}) };
  }
  if (name === 'umask') return { call, args, ret: r };
  if (r < 0) return { call, args, errno: errnoName(errno) };
  return { call, args, ...(r > 0 ? { ret: r } : {}) };
}

export function describeFileWrite(path: string, data: string): string {
  const v = data.length > 80 ? data.slice(0, 80) + '…' : data;
  return `${path} = ${JSON.stringify(v.replace(/\n$/, ''))}`;
}

/** The config field behind a cgroup or procfs file, when nothing more precise was set. */
const FILE_CAUSE: Record<string, string> = {
  'memory.limit_in_bytes': '/linux/resources/memory/limit',
  'memory.max': '/linux/resources/memory/limit',
  'memory.memsw.limit_in_bytes': '/linux/resources/memory/swap',
  'memory.swap.max': '/linux/resources/memory/swap',
  'memory.soft_limit_in_bytes': '/linux/resources/memory/reservation',
  'memory.low': '/linux/resources/memory/reservation',
  'memory.swappiness': '/linux/resources/memory/swappiness',
  'memory.oom_control': '/linux/resources/memory/disableOOMKiller',
  'memory.kmem.tcp.limit_in_bytes': '/linux/resources/memory/kernelTCP',
  'cpu.shares': '/linux/resources/cpu/shares',
  'cpu.weight': '/linux/resources/cpu/shares',
  'cpu.cfs_quota_us': '/linux/resources/cpu/quota',
  'cpu.cfs_period_us': '/linux/resources/cpu/period',
  'cpu.max': '/linux/resources/cpu/quota',
  'cpu.cfs_burst_us': '/linux/resources/cpu/burst',
  'cpu.rt_period_us': '/linux/resources/cpu/realtimePeriod',
  'cpu.rt_runtime_us': '/linux/resources/cpu/realtimeRuntime',
  'cpu.idle': '/linux/resources/cpu/idle',
  'cpuset.cpus': '/linux/resources/cpu/cpus',
  'cpuset.mems': '/linux/resources/cpu/mems',
  'pids.max': '/linux/resources/pids/limit',
  'blkio.weight': '/linux/resources/blockIO/weight',
  'io.weight': '/linux/resources/blockIO/weight',
  'devices.allow': '/linux/resources/devices',
  'devices.deny': '/linux/resources/devices',
  'net_cls.classid': '/linux/resources/network/classID',
  'net_prio.ifpriomap': '/linux/resources/network/priorities',
  'cgroup.procs': '/linux/cgroupsPath',
  tasks: '/linux/cgroupsPath',
  oom_score_adj: '/process/oomScoreAdj',
};
export function causeOfFile(path: string): string | undefined {
  const b = basename(path);
  if (path.startsWith('/proc/sys/')) return '/linux/sysctl';
  if (b.startsWith('hugetlb.')) return '/linux/resources/hugepageLimits';
  return FILE_CAUSE[b];
}
