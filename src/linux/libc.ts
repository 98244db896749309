// The one module that talks to libc. Every other module goes through the small
// wrappers here, which turn a -1 return into a SysError carrying the syscall,
// the path it was about and the errno name.
import { getKoffi, type KoffiModule } from './koffi';
import { mkdirSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { errnoName } from './errno';

export { errnoName };

/** strerror(3) in lower case, the way Go (and so runc) prints errno text;
 * podman and containerd match on these words ("no such file or directory"). */
export function errnoText(errno: number): string {
  const s = f.strerror(errno) as string;
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export class SysError extends Error {
  constructor(
    readonly syscall: string,
    readonly path: string | undefined,
    readonly errno: number,
  ) {
    super(`${syscall}${path !== undefined ? ' ' + path : ''}: ${errnoText(errno)} (${errnoName(errno)})`);
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

function check(ret: number | bigint, syscall: string, path?: string): number {
  const r = Number(ret);
  if (r < 0) throw new SysError(syscall, path, getKoffi().errno());
  return r;
}

// ---- prototypes -----------------------------------------------------------
// Parsed on first call: a command pays only for the functions it uses.
const PROTOS = {
  strerror: 'const char *strerror(int)',
  mmap: 'void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)',
  mount: 'int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)',
  umount2: 'int umount2(const char *target, int flags)',
  unshare: 'int unshare(int flags)',
  setns: 'int setns(int fd, int nstype)',
  chdir: 'int chdir(const char *path)',
  fchdir: 'int fchdir(int fd)',
  chroot: 'int chroot(const char *path)',
  sethostname: 'int sethostname(const char *name, size_t len)',
  setdomainname: 'int setdomainname(const char *name, size_t len)',
  mknod: 'int mknod(const char *path, uint32_t mode, uint64_t dev)',
  mkfifo: 'int mkfifo(const char *path, uint32_t mode)',
  mkdirat: 'int mkdirat(int dirfd, const char *path, uint32_t mode)',
  mknodat: 'int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)',
  unlinkat: 'int unlinkat(int dirfd, const char *path, int flags)',
  fchownat: 'int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)',
  symlinkat: 'int symlinkat(const char *target, int dirfd, const char *path)',
  openat: 'int openat(int dirfd, const char *path, int flags, ...)',
  close: 'int close(int fd)',
  dup3: 'int dup3(int oldfd, int newfd, int flags)',
  fcntl: 'int fcntl(int fd, int cmd, ...)',
  ioctl: 'int ioctl(int fd, unsigned long req, ...)',
  execve: 'int execve(const char *path, const char **argv, const char **envp)',
  setresuid: 'int setresuid(uint32_t r, uint32_t e, uint32_t s)',
  setresgid: 'int setresgid(uint32_t r, uint32_t e, uint32_t s)',
  setgroups: 'int setgroups(size_t n, const void *list)',
  umask: 'uint32_t umask(uint32_t mask)',
  prlimit: 'int prlimit(int pid, int resource, const void *newlim, void *oldlim)',
  prctl: 'int prctl(int option, ...)',
  kill: 'int kill(int pid, int sig)',
  getpid: 'int getpid()',
  setsid: 'int setsid()',
  pipe2: 'int pipe2(void *fds, int flags)',
  syscall: 'long syscall(long nr, ...)',
  sigaction: 'int sigaction(int sig, const void *act, void *old)',
  sigprocmask: 'int sigprocmask(int how, const void *set, void *old)',
  poll: 'int poll(void *fds, unsigned long nfds, int timeout)',
  write: 'long write(int fd, const void *buf, size_t n)',
  read: 'long read(int fd, void *buf, size_t n)',
  flock: 'int flock(int fd, int op)',
  socket: 'int socket(int domain, int type, int protocol)',
  connect: 'int connect(int fd, const void *addr, uint32_t len)',
  sendmsg: 'long sendmsg(int fd, const void *msg, int flags)',
  recvmsg: 'long recvmsg(int fd, void *msg, int flags)',
  bind: 'int bind(int fd, const void *addr, uint32_t len)',
  listen: 'int listen(int fd, int backlog)',
  accept4: 'int accept4(int fd, void *addr, void *len, int flags)',
  symlink: 'int symlink(const char *target, const char *path)',
  chown: 'int lchown(const char *path, uint32_t uid, uint32_t gid)',
  capset: 'int capset(void *hdr, const void *data)',
  waitpid: 'int waitpid(int pid, _Out_ int *status, int options)',
  unlockpt: 'int unlockpt(int fd)',
  ptsname_r: 'int ptsname_r(int fd, void *buf, size_t len)',
  lsetxattr: 'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)',
  lgetxattr: 'long lgetxattr(const char *path, const char *name, void *value, size_t size)',
  posix_spawn: 'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
  posix_spawn_file_actions_init: 'int posix_spawn_file_actions_init(void *actions)',
  posix_spawn_file_actions_destroy: 'int posix_spawn_file_actions_destroy(void *actions)',
  posix_spawn_file_actions_adddup2: 'int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)',
  posix_spawn_file_actions_addchdir_np: 'int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)',
  statfs: 'int statfs(const char *path, void *buf)',
  fstatfs: 'int fstatfs(int fd, void *buf)',
  eventfd: 'int eventfd(unsigned int initval, int flags)',
  inotify_init1: 'int inotify_init1(int flags)',
  inotify_add_watch: 'int inotify_add_watch(int fd, const char *path, uint32_t mask)',
  getresgid: 'int getresgid(_Out_ uint32_t *r, _Out_ uint32_t *e, _Out_ uint32_t *s)',
  clock_gettime: 'int clock_gettime(int clock, void *ts)',
};

// koffi's own function type (its arguments are checked at call time, by koffi)
type LibcFunction = ReturnType<ReturnType<KoffiModule['load']>['func']>;
let libc: ReturnType<KoffiModule['load']> | undefined;
const raw = {} as Record<keyof typeof PROTOS, LibcFunction>;
function bindProto(name: keyof typeof PROTOS): LibcFunction {
  libc ??= getKoffi().load('libc.so.6');
  raw[name] ??= libc.func(PROTOS[name]) as LibcFunction;
  return raw[name];
}
/** The --trace recorder's socket: src/trace/record.ts plugs its recorders in and
 * turns tracing on (libc does not import the recorder, so the two form no cycle). */
export const tracer = {
  on: false,
  fd: -1,
  /** one call made (ret undefined: about to be made, execve) */
  call: (_name: string, _args: unknown[], _ret: unknown, _errno: number, _t0: number, _t1: number): void => undefined,
  /** a cgroup or procfs file written, a cgroup made or removed */
  fileWrite: (_call: string, _path: string, _data: string | undefined, _errno: string | undefined, _t0: number, _t1: number): void => undefined,
};

// Every call below goes through this proxy. With `toyrun --trace` on, it hands out
// a wrapper that records the call (src/trace/record.ts); off, the bound function
// itself: one boolean test per call, nothing formatted.
const f = new Proxy(raw, {
  get(_cache, name: keyof typeof PROTOS) {
    const fn = raw[name] ?? bindProto(name);
    return tracer.on ? traced(name, fn) : fn;
  },
});
/** Not steps of their own: libc helpers that make no syscall, and the clock the tracer reads. */
const UNTRACED = new Set<string>(['strerror', 'getpid', 'clock_gettime', 'cfmakeraw', 'posix_spawn_file_actions_init',
  'posix_spawn_file_actions_destroy', 'posix_spawn_file_actions_adddup2', 'posix_spawn_file_actions_addchdir_np']);
function traced(name: string, fn: LibcFunction): LibcFunction {
  if (UNTRACED.has(name)) return fn;
  const call = (...args: unknown[]): unknown => {
    const t0 = monotonicMs();
    // execve returns only on failure: the step is written before the process image goes
    if (name === 'execve') tracer.call(name, args, undefined, 0, t0, t0);
    const ret = (fn as (...a: unknown[]) => unknown)(...args);
    const k = getKoffi();
    const errno = k.errno();
    tracer.call(name, args, ret, errno, t0, monotonicMs());
    k.errno(errno); // the caller reads it next (check())
    return ret;
  };
  const async = (fn as { async?: (...a: unknown[]) => unknown }).async;
  return Object.assign(call, { async: async?.bind(fn) }) as unknown as LibcFunction;
}
const timespec = Buffer.alloc(16);
/** CLOCK_MONOTONIC in ms: one clock for every process of a traced command. */
export function monotonicMs(): number {
  (raw.clock_gettime ?? bindProto('clock_gettime'))(1 /* CLOCK_MONOTONIC */, timespec);
  return Number(timespec.readBigInt64LE(0)) * 1e3 + Number(timespec.readBigInt64LE(8)) / 1e6;
}
/** writeFileSync, as a traced step: the cgroup and procfs files the runtime writes are
 * kernel interfaces too (`write /sys/fs/cgroup/memory/…/memory.limit_in_bytes = 33554432`). */
export function writeFile(path: string, data: string): void {
  if (!tracer.on) return writeFileSync(path, data);
  fsStep('write', path, data, () => writeFileSync(path, data));
}
/** mkdirSync and rmdirSync, traced: how a cgroup is made and removed. */
export function mkdir(path: string): void {
  if (!tracer.on) return mkdirSync(path);
  fsStep('mkdir', path, undefined, () => mkdirSync(path));
}
export function rmdir(path: string): void {
  if (!tracer.on) return rmdirSync(path);
  fsStep('rmdir', path, undefined, () => rmdirSync(path));
}
function fsStep(call: string, path: string, data: string | undefined, fn: () => void): void {
  const t0 = monotonicMs();
  try {
    fn();
    tracer.fileWrite(call, path, data, undefined, t0, monotonicMs());
  } catch (e) {
    tracer.fileWrite(call, path, data, (e as NodeJS.ErrnoException).code ?? 'error', t0, monotonicMs());
    throw e;
  }
}

// ---- constants (x86-64) ---------------------------------------------------
export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  NEWTIME: 0x00000080,
  FS: 0x00000200,
} as const;

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

export const MNT_DETACH = 2;
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000, // fs.constants.O_PATH is undefined in Node
} as const;
export const AT_FDCWD = -100;
export const F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1, F_DUPFD_CLOEXEC = 1030;
export const SYS = {
  rt_sigaction: 13,
  pivot_root: 155,
  close_range: 436,
  openat2: 437,
  seccomp: 317,
  memfd_create: 319,
  mount_setattr: 442,
  open_tree: 428,
  move_mount: 429,
  pidfd_open: 434,
  getcwd: 79,
  setresgid: 119,
  add_key: 248,
  keyctl: 250,
  statx: 332,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
} as const;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;
export const PR = {
  SET_PDEATHSIG: 1,
  SET_CHILD_SUBREAPER: 36,
  GET_DUMPABLE: 3,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;
export const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

// ---- wrappers ------------------------------------------------------------
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
  check(f.mount(source, target, fstype, flags, data), 'mount', target);
}
export function umount2(target: string, flags: number): void {
  check(f.umount2(target, flags), 'umount2', target);
}
export function unshare(flags: number): void {
  check(f.unshare(flags), 'unshare');
}
export function setns(fd: number, nstype: number, what?: string): void {
  check(f.setns(fd, nstype), 'setns', what);
}
export function chdir(path: string): void {
  check(f.chdir(path), 'chdir', path);
}
export function fchdir(fd: number): void {
  check(f.fchdir(fd), 'fchdir');
}
export function chroot(path: string): void {
  check(f.chroot(path), 'chroot', path);
}
export function pivotRoot(newRoot: string, putOld: string): void {
  check(f.syscall(SYS.pivot_root, 'str', newRoot, 'str', putOld), 'pivot_root', newRoot);
}
export function sethostname(name: string): void {
  check(f.sethostname(name, Buffer.byteLength(name)), 'sethostname', name);
}
export function setdomainname(name: string): void {
  check(f.setdomainname(name, Buffer.byteLength(name)), 'setdomainname', name);
}
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}
export function mknod(path: string, mode: number, dev: bigint): void {
  check(f.mknod(path, mode, dev), 'mknod', path);
}
export function mkfifo(path: string, mode: number): void {
  check(f.mkfifo(path, mode), 'mkfifo', path);
}
export function mkdirat(dirfd: number, path: string, mode: number): void {
  check(f.mkdirat(dirfd, path, mode), 'mkdirat', path);
}
export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): void {
  check(f.mknodat(dirfd, path, mode, dev), 'mknodat', path);
}
export const AT_SYMLINK_NOFOLLOW = 0x100;
export function unlinkat(dirfd: number, path: string, flags = 0): void {
  check(f.unlinkat(dirfd, path, flags), 'unlinkat', path);
}
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
  check(f.fchownat(dirfd, path, uid, gid, flags), 'fchownat', path);
}
export function symlinkat(target: string, dirfd: number, path: string): void {
  check(f.symlinkat(target, dirfd, path), 'symlinkat', path);
}
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(f.openat(dirfd, path, flags, 'uint32_t', mode), 'open', path);
}
/** openat that reports errno instead of throwing (for ENXIO/EINTR polling). */
export function tryOpenat(dirfd: number, path: string, flags: number): { fd: number; errno: number } {
  const fd = f.openat(dirfd, path, flags, 'uint32_t', 0) as number;
  return fd < 0 ? { fd, errno: getKoffi().errno() } : { fd, errno: 0 };
}
export function close(fd: number): void {
  f.close(fd);
}
export function dup3(oldfd: number, newfd: number, flags = 0): void {
  check(f.dup3(oldfd, newfd, flags), 'dup3');
}
export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check(f.fcntl(fd, cmd, 'int', arg), 'fcntl');
}
export function ioctl(fd: number, req: number, arg: Buffer | number, what = 'ioctl'): number {
  return typeof arg === 'number'
    ? check(f.ioctl(fd, req, 'long', arg), what)
    : check(f.ioctl(fd, req, 'void *', arg), what);
}
/** Returns only on failure. */
export function execve(path: string, argv: string[], envp: string[]): never {
  f.execve(path, [...argv, null], [...envp, null]);
  throw new SysError('execve', path, getKoffi().errno());
}
export function setresuid(uid: number): void {
  check(f.setresuid(uid, uid, uid), 'setresuid', String(uid));
}
export function setresgid(gid: number): void {
  check(f.setresgid(gid, gid, gid), 'setresgid', String(gid));
}
/** The raw setresgid(2) syscall: unlike glibc's wrapper, which makes every thread
 * of the process change (its setxid broadcast), it changes the calling thread only.
 * -1 keeps a value. */
export function setresgidThisThread(r: number, e: number, s: number): void {
  check(f.syscall(SYS.setresgid, 'int', r, 'int', e, 'int', s), 'setresgid', `${r} ${e} ${s}`);
}
export function getresgid(): [number, number, number] {
  const r = [0], e = [0], s = [0];
  check(f.getresgid(r, e, s), 'getresgid');
  return [r[0] ?? 0, e[0] ?? 0, s[0] ?? 0];
}
export function setgroups(gids: number[]): void {
  const buf = Buffer.alloc(Math.max(4, gids.length * 4));
  gids.forEach((g, i) => buf.writeUInt32LE(g, i * 4));
  check(f.setgroups(gids.length, buf), 'setgroups');
}
export function umask(mask: number): number {
  return f.umask(mask) as number;
}
export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4,
  RLIMIT_RSS: 5, RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};
export function setrlimit(resource: number, soft: number | bigint, hard: number | bigint): void {
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(BigInt(soft), 0);
  buf.writeBigUInt64LE(BigInt(hard), 8);
  check(f.prlimit(0, resource, buf, null), 'setrlimit', `type ${resource}`);
}
export function prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  return check(
    f.prctl(option, 'unsigned long', arg2, 'unsigned long', arg3, 'unsigned long', arg4, 'unsigned long', arg5),
    'prctl',
    String(option),
  );
}
export function kill(pid: number, sig: number): void {
  check(f.kill(pid, sig), 'kill', String(pid));
}
export function getpid(): number {
  return f.getpid() as number;
}
export function setsid(): void {
  check(f.setsid(), 'setsid');
}
/** A pipe whose both ends are close-on-exec; spawn() dup2s the end it passes on, which clears the flag there. */
export function pipe(): [number, number] {
  const buf = Buffer.alloc(8);
  check(f.pipe2(buf, O.CLOEXEC), 'pipe2');
  return [buf.readInt32LE(0), buf.readInt32LE(4)];
}
export function closeRangeCloexec(first: number): void {
  check(f.syscall(SYS.close_range, 'unsigned int', first, 'unsigned int', 0xffffffff, 'unsigned int', CLOSE_RANGE_CLOEXEC), 'close_range');
}
export function rawSyscall(nr: number, ...args: unknown[]): number {
  return check(f.syscall(nr, ...args), `syscall ${nr}`);
}
// ---- keyrings (keyctl(2); glibc has no wrapper, libkeyutils is not a dependency) ----
export const KEYCTL = { JOIN_SESSION_KEYRING: 1, SETPERM: 5, DESCRIBE: 6, SEARCH: 10, READ: 11, INVALIDATE: 21 } as const;
export const KEY_SPEC_SESSION_KEYRING = -3;
/** keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): join the named keyring, creating it if
 * no keyring of that name is searchable by us; returns its serial. */
export function keyctlJoinSessionKeyring(name: string | null): number {
  return check(f.syscall(SYS.keyctl, 'int', KEYCTL.JOIN_SESSION_KEYRING, 'str', name), 'keyctl(JOIN_SESSION_KEYRING)', name ?? undefined);
}
/** keyctl(KEYCTL_DESCRIBE): "type;uid;gid;perm;description". */
export function keyctlDescribe(key: number): string {
  const buf = Buffer.alloc(4096);
  const n = check(f.syscall(SYS.keyctl, 'int', KEYCTL.DESCRIBE, 'int', key, 'void *', buf, 'size_t', buf.length), 'keyctl(DESCRIBE)', String(key));
  return buf.subarray(0, Math.max(0, Math.min(n, buf.length) - 1)).toString();
}
export function keyctlSetperm(key: number, perm: number): void {
  check(f.syscall(SYS.keyctl, 'int', KEYCTL.SETPERM, 'int', key, 'uint32_t', perm >>> 0), 'keyctl(SETPERM)', String(key));
}
/** add_key(type, description, payload, keyring): returns the new key's serial. */
export function addKey(type: string, description: string, payload: Buffer, keyring: number): number {
  return check(f.syscall(SYS.add_key, 'str', type, 'str', description, 'void *', payload, 'size_t', payload.length, 'int', keyring), 'add_key', description);
}
export function keyctlInvalidate(key: number): void {
  check(f.syscall(SYS.keyctl, 'int', KEYCTL.INVALIDATE, 'int', key), 'keyctl(INVALIDATE)', String(key));
}
/** memfd_create(name, MFD_CLOEXEC): an anonymous file, for output that may outgrow a pipe. */
export function memfdCreate(name: string): number {
  return check(f.syscall(SYS.memfd_create, 'str', name, 'unsigned int', 1), 'memfd_create', name);
}
let sockFprog: unknown;
/** struct sock_fprog *, for seccomp(2). */
function sockFprogType(): unknown {
  const koffi = getKoffi();
  sockFprog ??= koffi.pointer(koffi.struct('sock_fprog', { len: 'uint16_t', filter: 'void *' }));
  return sockFprog;
}
/** seccomp(SECCOMP_SET_MODE_FILTER, flags, &{len, filter}): install a compiled
 * BPF program (struct sock_filter[]) on the calling thread. */
/** seccomp(SECCOMP_SET_MODE_FILTER); returns the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER. */
export function seccompSetModeFilter(program: Buffer, flags: number): number {
  return check(f.syscall(SYS.seccomp, 'unsigned int', 1, 'unsigned int', flags, sockFprogType(), { len: program.length / 8, filter: program }), 'seccomp');
}
// seccomp(SECCOMP_SET_MODE_FILTER) then execve, as raw syscalls in a few bytes of
// x86-64 code, so that nothing of the engine runs between the filter and the program:
// the engine reads the clock on its own (its GC's timers), which is a real syscall
// where the clocksource has no vDSO (hpet, as in emulated VMs), and a profile whose
// default kills would kill the init there (seen on Debian 12's kernel in QEMU).
//   long f(struct sock_fprog *prog, const char *path, char **argv, char **envp, unsigned long flags)
// returns only on failure: seccomp's result (-errno, or a thread id for TSYNC), or
// execve's -errno minus 0x10000.
const SECCOMP_EXECVE_X64 = Buffer.from([
  0x49, 0x89, 0xf1, //        mov r9, rsi        path
  0x49, 0x89, 0xca, //        mov r10, rcx       envp (syscall clobbers rcx)
  0x4c, 0x89, 0xc6, //        mov rsi, r8        flags
  0x49, 0x89, 0xd0, //        mov r8, rdx        argv
  0x48, 0x89, 0xfa, //        mov rdx, rdi       prog
  0xbf, 0x01, 0, 0, 0, //     mov edi, 1         SECCOMP_SET_MODE_FILTER
  0xb8, 0x3d, 0x01, 0, 0, //  mov eax, 317       seccomp
  0x0f, 0x05, //              syscall
  0x48, 0x85, 0xc0, //        test rax, rax
  0x75, 0x16, //              jnz out
  0x4c, 0x89, 0xcf, //        mov rdi, r9
  0x4c, 0x89, 0xc6, //        mov rsi, r8
  0x4c, 0x89, 0xd2, //        mov rdx, r10
  0xb8, 0x3b, 0, 0, 0, //     mov eax, 59        execve
  0x0f, 0x05, //              syscall
  0x48, 0x2d, 0, 0, 0x01, 0, // sub rax, 0x10000
  0xc3, //                    out: ret
]);
const EXECVE_FAILED = 0x10000;
/** The filter and the program in one step (see above); undefined off x86-64, where
 * the two go in one after the other. The code page comes from a memfd mapped
 * read+exec: never writable and executable at once. */
export function prepareSeccompExecve(program: Buffer, flags: number, path: string, argv: string[], envp: string[]): (() => never) | undefined {
  if (process.arch !== 'x64') return undefined;
  const koffi = getKoffi();
  sockFprogType(); // names the struct the prototype below refers to
  const fd = memfdCreate('toyrun-seccomp-execve');
  let code: unknown;
  try {
    if (writeSync(fd, SECCOMP_EXECVE_X64) !== SECCOMP_EXECVE_X64.length) throw new Error('memfd: short write');
    code = f.mmap(null, 4096, 0x1 | 0x4 /* PROT_READ|PROT_EXEC */, 0x02 /* MAP_PRIVATE */, fd, 0);
  } finally {
    close(fd);
  }
  if (!code || koffi.address(code) === 0xffffffffffffffffn) throw new SysError('mmap', 'memfd toyrun-seccomp-execve', koffi.errno());
  const type = koffi.proto('long toyrun_seccomp_execve(sock_fprog *prog, const char *path, const char **argv, const char **envp, unsigned long flags)');
  const prog = { len: program.length / 8, filter: program };
  const a = [...argv, null], e = [...envp, null];
  return () => {
    const r = Number(koffi.call(code, type, prog, path, a, e, flags));
    if (r <= -EXECVE_FAILED) throw new SysError('execve', path, -(r + EXECVE_FAILED));
    if (r < 0) throw new SysError('seccomp', undefined, -r);
    throw new Error(`seccomp: TSYNC could not synchronize thread ${r}`);
  };
}
/** Reset every signal to SIG_DFL and unblock all: ignored dispositions and the
 * mask survive execve, and the engine ignores SIGPIPE, SIGXFSZ and SIGRTMIN.
 * The raw rt_sigaction syscall, because glibc's sigaction refuses 32 and 33. */
export function resetSignals(): void {
  const act = Buffer.alloc(32); // struct kernel_sigaction: handler=SIG_DFL, flags, restorer, mask = 0
  for (let sig = 1; sig < 65; sig++) {
    if (sig === 9 || sig === 19) continue; // SIGKILL, SIGSTOP cannot be changed
    f.syscall(SYS.rt_sigaction, 'int', sig, 'void *', act, 'void *', null, 'size_t', 8);
  }
  const empty = Buffer.alloc(128);
  check(f.sigprocmask(2 /* SIG_SETMASK */, empty, null), 'sigprocmask');
}
/** poll(2) a single fd; returns revents (0 on timeout). */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const buf = Buffer.alloc(8);
  buf.writeInt32LE(fd, 0);
  buf.writeInt16LE(events, 4);
  const n = f.poll(buf, 1, timeoutMs) as number;
  if (n < 0) {
    const e = getKoffi().errno();
    if (e === 4 /* EINTR */) return 0;
    throw new SysError('poll', undefined, e);
  }
  return n === 0 ? 0 : buf.readInt16LE(6);
}
export const POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16;
export function write(fd: number, data: Buffer): number {
  return check(f.write(fd, data, data.length), 'write');
}
/** write(2) on one of the engine's worker threads (koffi's asynchronous call),
 * for a write that may block in the kernel while this thread goes on. The fd is
 * closed once the write is done; errors are ignored. */
export function writeInBackground(fd: number, data: Buffer): void {
  f.write.async(fd, data, data.length, () => {
    try {
      close(fd);
    } catch {
      // closed already
    }
  });
}
export function read(fd: number, buf: Buffer): number {
  return check(f.read(fd, buf, buf.length), 'read');
}
export function flock(fd: number, op: number): boolean {
  const r = f.flock(fd, op) as number;
  if (r === 0) return true;
  const e = getKoffi().errno();
  if (e === 11 /* EWOULDBLOCK */) return false;
  throw new SysError('flock', undefined, e);
}
export function symlink(target: string, path: string): void {
  check(f.symlink(target, path), 'symlink', path);
}
export function lchown(path: string, uid: number, gid: number): void {
  check(f.chown(path, uid, gid), 'lchown', path);
}
export function socket(domain: number, type: number, protocol: number): number {
  return check(f.socket(domain, type, protocol), 'socket');
}
export function connect(fd: number, addr: Buffer, what: string): void {
  check(f.connect(fd, addr, addr.length), 'connect', what);
}
export function sendmsg(fd: number, msg: Buffer, what: string): number {
  return check(f.sendmsg(fd, msg, 0), 'sendmsg', what);
}
export function recvmsg(fd: number, msg: Buffer, what: string, flags = 0): number {
  return check(f.recvmsg(fd, msg, flags), 'recvmsg', what);
}
export function bind(fd: number, addr: Buffer, what: string): void {
  check(f.bind(fd, addr, addr.length), 'bind', what);
}
export function listen(fd: number, backlog: number): void {
  check(f.listen(fd, backlog), 'listen');
}
export function accept(fd: number): number {
  return check(f.accept4(fd, null, null, O.CLOEXEC), 'accept');
}
export function capset(hdr: Buffer, data: Buffer): void {
  check(f.capset(hdr, data), 'capset');
}
/** waitpid(2); returns [pid, status] (pid 0 with WNOHANG when still running). */
export function waitpid(pid: number, options: number): [number, number] {
  const st = [0];
  const r = check(f.waitpid(pid, st, options), 'waitpid', String(pid));
  return [r, st[0] ?? 0];
}
/** Wait for a child that is about to exit (EINTR retried); whatever else went
 * wrong (ECHILD: reaped already) leaves nothing to wait for. */
export function reapExiting(pid: number | undefined): void {
  if (pid === undefined) return;
  for (;;) {
    try {
      waitpid(pid, 0);
      return;
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'EINTR')) return;
    }
  }
}
/** Read one line (up to "\n") from a blocking fd, EINTR retried; what was read if EOF came first. */
export function readLine(fd: number): string {
  const buf = Buffer.alloc(512);
  let text = '';
  while (!text.includes('\n')) {
    let n: number;
    try {
      n = read(fd, buf);
    } catch (e) {
      if (e instanceof SysError && e.code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) break;
    text += buf.subarray(0, n).toString();
  }
  return text;
}
/** posix_spawn(3): glibc clones with CLONE_VFORK on a private stack and execs
 * from C, so no JavaScript runs in the child and the engine creates no thread.
 * `fds` lists [parentFd, childFd] pairs; dup2 onto the same number clears
 * close-on-exec (glibc >= 2.29), which is how 0-2 survive the engine's CLOEXEC.
 * Everything is built by prepareSpawn(); spawnPrepared() is one native call, so
 * it can run where the engine must not allocate or start threads. */
export interface PreparedSpawn {
  path: string;
  argv: (string | null)[];
  envp: (string | null)[];
  actions: Buffer;
  pid: number[];
}
/** `runtimeChild`: the child is one of toyrun's own engine processes (init, exec helper, user-namespace stages). */
export function prepareSpawn(path: string, argv: string[], envp: string[], fds: [number, number][], cwd: string, runtimeChild = false): PreparedSpawn {
  const actions = Buffer.alloc(512); // posix_spawn_file_actions_t is 80 bytes on glibc x86-64
  check(f.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init');
  // A traced command's engine children (init, exec helper, user-namespace stages) append
  // to the same trace file: its fd goes to them at its own number (see traceHandoff)
  const inherit = tracer.on && tracer.fd >= 0 && runtimeChild ? [[tracer.fd, tracer.fd] as [number, number]] : [];
  for (const [from, to] of [...fds, ...inherit]) check(f.posix_spawn_file_actions_adddup2(actions, from, to), 'posix_spawn_file_actions_adddup2');
  check(f.posix_spawn_file_actions_addchdir_np(actions, cwd), 'posix_spawn_file_actions_addchdir_np', cwd);
  void f.posix_spawn; // bind the prototype now, not inside the critical window
  return { path, argv: [...argv, null], envp: [...envp, null], actions, pid: [0] };
}
export function spawnPrepared(p: PreparedSpawn): number {
  const err = f.posix_spawn(p.pid, p.path, p.actions, null, p.argv, p.envp) as number;
  f.posix_spawn_file_actions_destroy(p.actions);
  if (err !== 0) throw new SysError('posix_spawn', p.path, err); // returns the error, not -1/errno
  return p.pid[0] as number;
}
export function posixSpawn(path: string, argv: string[], envp: string[], fds: [number, number][], cwd: string, runtimeChild = false): number {
  return spawnPrepared(prepareSpawn(path, argv, envp, fds, cwd, runtimeChild));
}
export function unlockpt(fd: number): void {
  check(f.unlockpt(fd), 'unlockpt');
}
export function ptsname(fd: number): string {
  const buf = Buffer.alloc(128);
  const r = f.ptsname_r(fd, buf, buf.length) as number;
  if (r !== 0) throw new SysError('ptsname', undefined, r);
  return buf.subarray(0, buf.indexOf(0)).toString();
}
/** f_flags of statfs(2) (ST_RDONLY, ST_NOSUID, ST_NODEV, ST_NOEXEC share MS_*'s values). */
export function statfsFlags(path: string): number {
  const buf = Buffer.alloc(120); // struct statfs on x86-64; f_flags at 80
  check(f.statfs(path, buf), 'statfs', path);
  return Number(buf.readBigUInt64LE(80));
}
// ---- sockets and terminals (console socket, pty relay) --------------------
const SOCK_PROTOS = {
  tcgetattr: 'int tcgetattr(int fd, void *termios)',
  tcsetattr: 'int tcsetattr(int fd, int when, const void *termios)',
  cfmakeraw: 'void cfmakeraw(void *termios)',
  isatty: 'int isatty(int fd)',
};
const fsock = new Proxy({} as Record<keyof typeof SOCK_PROTOS, LibcFunction>, {
  get(cache, name: keyof typeof SOCK_PROTOS) {
    libc ??= getKoffi().load('libc.so.6');
    cache[name] ??= libc.func(SOCK_PROTOS[name]) as LibcFunction;
    return tracer.on ? traced(name, cache[name]) : cache[name];
  },
});
export const SOL_SOCKET = 1, SCM_RIGHTS = 1;
export const TIOCSCTTY = 0x540e, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TCSANOW = 0;
export const MSG_CMSG_CLOEXEC = 0x40000000;
/** struct termios is 60 bytes on x86-64 glibc. */
export function tcgetattr(fd: number): Buffer {
  const t = Buffer.alloc(64);
  check(fsock.tcgetattr(fd, t), 'tcgetattr');
  return t;
}
export function tcsetattr(fd: number, termios: Buffer): void {
  check(fsock.tcsetattr(fd, TCSANOW, termios), 'tcsetattr');
}
export function cfmakeraw(termios: Buffer): Buffer {
  const t = Buffer.from(termios);
  fsock.cfmakeraw(t);
  return t;
}
export function isatty(fd: number): boolean {
  return fsock.isatty(fd) === 1;
}
/** poll(2) several fds; returns each one's revents (all 0 on timeout or EINTR). */
export function pollFds(fds: { fd: number; events: number }[], timeoutMs: number): number[] {
  const buf = Buffer.alloc(8 * fds.length);
  fds.forEach((p, i) => {
    buf.writeInt32LE(p.fd, i * 8);
    buf.writeInt16LE(p.events, i * 8 + 4);
  });
  const n = f.poll(buf, fds.length, timeoutMs) as number;
  if (n < 0) {
    const e = getKoffi().errno();
    if (e === 4 /* EINTR */) return fds.map(() => 0);
    throw new SysError('poll', undefined, e);
  }
  return fds.map((_, i) => buf.readInt16LE(i * 8 + 6));
}
/** getcwd(2) as the kernel answers it, without glibc's rewriting: a cwd outside
 * the process's root comes back prefixed with "(unreachable)". */
export function getcwd(): string {
  const buf = Buffer.alloc(4096);
  const n = check(f.syscall(SYS.getcwd, 'void *', buf, 'unsigned long', buf.length), 'getcwd');
  return buf.subarray(0, Math.max(0, n - 1)).toString();
}
/** lsetxattr(2): on the link itself, never a symlink's target. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  check(f.lsetxattr(path, name, value, value.length, 0), 'lsetxattr', path);
}
/** lgetxattr(2); undefined when the attribute is absent (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(256);
  const n = Number(f.lgetxattr(path, name, buf, buf.length));
  if (n >= 0) return buf.subarray(0, n);
  const e = getKoffi().errno();
  if (e === 61 /* ENODATA */) return undefined;
  throw new SysError('lgetxattr', path, e);
}
export function bufferAddress(buf: Buffer): bigint {
  return getKoffi().address(buf);
}
export { getKoffi };

// ---- cgroup resources: bpf (v2 device filter), eventfd (v1 OOM), inotify (v2 OOM) ----
const SYS_bpf = 321;
/** bpf(2): attr is the command's union bpf_attr, zero-padded. */
export function bpf(cmd: number, attr: Buffer, what: string): number {
  return check(f.syscall(SYS_bpf, 'int', cmd, 'void *', attr, 'unsigned int', attr.length), 'bpf', what);
}
export const EFD_CLOEXEC = 0o2000000, IN_CLOEXEC = 0o2000000, IN_MODIFY = 0x2;
export function eventfd(flags: number): number {
  return check(f.eventfd(0, flags), 'eventfd');
}
export function inotifyInit(flags: number): number {
  return check(f.inotify_init1(flags), 'inotify_init1');
}
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  return check(f.inotify_add_watch(fd, path, mask), 'inotify_add_watch', path);
}

// ---- scheduling, I/O priority, affinity, personality, NUMA policy (spec 1.3 process/linux fields)
const SYS_sched_setaffinity = 203, SYS_sched_getaffinity = 204, SYS_personality = 135;
const SYS_set_mempolicy = 238, SYS_get_mempolicy = 239, SYS_ioprio_set = 251, SYS_ioprio_get = 252;
const SYS_sched_setattr = 314, SYS_sched_getattr = 315;
/** sched_setattr(2) on pid (0: the caller); attr is a struct sched_attr (size in its first u32). */
export function schedSetattr(pid: number, attr: Buffer): void {
  check(f.syscall(SYS_sched_setattr, 'int', pid, 'void *', attr, 'unsigned int', 0), 'sched_setattr');
}
export function schedGetattr(pid: number, attr: Buffer): void {
  check(f.syscall(SYS_sched_getattr, 'int', pid, 'void *', attr, 'unsigned int', attr.length, 'unsigned int', 0), 'sched_getattr');
}
export const IOPRIO_WHO_PROCESS = 1;
export function ioprioSet(which: number, who: number, ioprio: number): void {
  check(f.syscall(SYS_ioprio_set, 'int', which, 'int', who, 'int', ioprio), 'ioprio_set');
}
export function ioprioGet(which: number, who: number): number {
  return check(f.syscall(SYS_ioprio_get, 'int', which, 'int', who), 'ioprio_get');
}
/** sched_setaffinity(2): mask is a cpu_set_t-style bitmap (a multiple of 8 bytes). */
export function schedSetaffinity(pid: number, mask: Buffer, what: string): void {
  check(f.syscall(SYS_sched_setaffinity, 'int', pid, 'size_t', mask.length, 'void *', mask), 'sched_setaffinity', what);
}
export function schedGetaffinity(pid: number, mask: Buffer): number {
  return check(f.syscall(SYS_sched_getaffinity, 'int', pid, 'size_t', mask.length, 'void *', mask), 'sched_getaffinity');
}
/** personality(2); 0xffffffff queries without changing. Returns the previous persona. */
export function personality(persona: number): number {
  return check(f.syscall(SYS_personality, 'unsigned long', persona), 'personality');
}
/** set_mempolicy(2): mode | mode flags, nodemask as unsigned longs, maxnode = bits in the mask + 1. */
export function setMempolicy(mode: number, nodemask: Buffer | null, maxnode: number): void {
  check(f.syscall(SYS_set_mempolicy, 'int', mode, 'void *', nodemask, 'unsigned long', maxnode), 'set_mempolicy');
}
export function getMempolicy(nodemask: Buffer, maxnode: number): number {
  const mode = Buffer.alloc(4);
  check(f.syscall(SYS_get_mempolicy, 'void *', mode, 'void *', nodemask, 'unsigned long', maxnode, 'void *', null, 'unsigned long', 0), 'get_mempolicy');
  return mode.readInt32LE(0);
}

// ---- fd-based path resolution and the new mount API ------------------------
// For work after pivot_root, where a path through /proc (/proc/self/fd/N) or
// through the rootfs could have been swapped by someone else: every step holds
// an fd and says how the kernel may resolve from it.
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;
export const AT_EMPTY_PATH = 0x1000, AT_RECURSIVE = 0x8000;
export const OPEN_TREE_CLONE = 1;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80 } as const;
export const PROC_SUPER_MAGIC = 0x9fa0;

/** openat2(2): `resolve` is a RESOLVE_* mask; errors name `what` (the container path). */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, what = path): number {
  const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
  how.writeBigUInt64LE(BigInt(flags | O.CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return check(f.syscall(SYS.openat2, 'int', dirfd, 'str', path, 'void *', how, 'size_t', 24), 'openat2', what);
}
/** f_type of fstatfs(2): which filesystem an fd is on. */
export function fstatfsType(fd: number, what?: string): number {
  const buf = Buffer.alloc(120);
  check(f.fstatfs(fd, buf), 'fstatfs', what);
  return Number(buf.readBigInt64LE(0));
}
/** The id of the mount an fd is on (statx STATX_MNT_ID, Linux 5.8). */
export function mountIdOf(fd: number, what?: string): bigint {
  const buf = Buffer.alloc(256);
  const STATX_MNT_ID = 0x1000;
  check(f.syscall(SYS.statx, 'int', fd, 'str', '', 'int', AT_EMPTY_PATH, 'unsigned int', STATX_MNT_ID, 'void *', buf), 'statx', what);
  if ((buf.readUInt32LE(0) & STATX_MNT_ID) === 0) throw new SysError('statx', what, 95 /* EOPNOTSUPP */);
  return buf.readBigUInt64LE(144);
}
/** open_tree(2) of an fd (AT_EMPTY_PATH): with OPEN_TREE_CLONE, a detached copy of its mount. */
export function openTreeOf(fd: number, flags: number, what?: string): number {
  return check(f.syscall(SYS.open_tree, 'int', fd, 'str', '', 'unsigned int', flags | AT_EMPTY_PATH | O.CLOEXEC), 'open_tree', what);
}
/** move_mount(2) of a detached tree onto the file or directory open on targetFd. */
export function moveMountTo(treeFd: number, targetFd: number, what?: string): void {
  check(f.syscall(SYS.move_mount, 'int', treeFd, 'str', '', 'int', targetFd, 'str', '', 'unsigned int', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH), 'move_mount', what);
}
/** mount_setattr(2) on the mount of an fd (AT_EMPTY_PATH; `flags` may add AT_RECURSIVE). */
export function mountSetattr(fd: number, flags: number, set: number, clr: number, what?: string): void {
  const attr = Buffer.alloc(32); // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd }
  attr.writeBigUInt64LE(BigInt(set), 0);
  attr.writeBigUInt64LE(BigInt(clr), 8);
  check(f.syscall(SYS.mount_setattr, 'int', fd, 'str', '', 'unsigned int', flags | AT_EMPTY_PATH, 'void *', attr, 'size_t', 32), 'mount_setattr', what);
}
const FSCONFIG_SET_FLAG = 0, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6;
/** fsopen + fsconfig + fsmount: a new, detached instance of `fstype` (an fd on its root).
 * `options` are the filesystem's own ("key" or "key=value"); `attrs` MOUNT_ATTR_* flags. */
export function newFilesystemMount(fstype: string, options: string[], attrs: number): number {
  const fs = check(f.syscall(SYS.fsopen, 'str', fstype, 'unsigned int', 1 /* FSOPEN_CLOEXEC */), 'fsopen', fstype);
  try {
    for (const o of options) {
      const eq = o.indexOf('=');
      if (eq < 0) check(f.syscall(SYS.fsconfig, 'int', fs, 'unsigned int', FSCONFIG_SET_FLAG, 'str', o, 'void *', null, 'int', 0), 'fsconfig', `${fstype} ${o}`);
      else check(f.syscall(SYS.fsconfig, 'int', fs, 'unsigned int', FSCONFIG_SET_STRING, 'str', o.slice(0, eq), 'str', o.slice(eq + 1), 'int', 0), 'fsconfig', `${fstype} ${o}`);
    }
    check(f.syscall(SYS.fsconfig, 'int', fs, 'unsigned int', FSCONFIG_CMD_CREATE, 'void *', null, 'void *', null, 'int', 0), 'fsconfig', `${fstype} create`);
    return check(f.syscall(SYS.fsmount, 'int', fs, 'unsigned int', 1 /* FSMOUNT_CLOEXEC */, 'unsigned int', attrs), 'fsmount', fstype);
  } finally {
    close(fs);
  }
}
