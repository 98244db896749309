// The one module that talks to libc. Every other module goes through the small
// wrappers here, which turn a -1 return into a SysError carrying the syscall,
// the path it was about and the errno name.
import koffi from 'koffi';
import { constants as osConstants } from 'node:os';

const lib = koffi.load('libc.so.6');

const ERRNO_NAMES: Record<number, string> = {};
for (const [name, num] of Object.entries(osConstants.errno)) {
  if (ERRNO_NAMES[num] === undefined) ERRNO_NAMES[num] = name;
}

const strerror_ = lib.func('const char *strerror(int)');

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** strerror(3) in lower case, the way Go (and so runc) prints errno text;
 * podman and containerd match on these words ("no such file or directory"). */
export function errnoText(errno: number): string {
  const s = strerror_(errno) as string;
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
  if (r < 0) throw new SysError(syscall, path, koffi.errno());
  return r;
}

// ---- prototypes -----------------------------------------------------------
const f = {
  mount: lib.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  unshare: lib.func('int unshare(int flags)'),
  setns: lib.func('int setns(int fd, int nstype)'),
  chdir: lib.func('int chdir(const char *path)'),
  fchdir: lib.func('int fchdir(int fd)'),
  chroot: lib.func('int chroot(const char *path)'),
  sethostname: lib.func('int sethostname(const char *name, size_t len)'),
  setdomainname: lib.func('int setdomainname(const char *name, size_t len)'),
  mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
  mkfifo: lib.func('int mkfifo(const char *path, uint32_t mode)'),
  openat: lib.func('int openat(int dirfd, const char *path, int flags, ...)'),
  close: lib.func('int close(int fd)'),
  dup3: lib.func('int dup3(int oldfd, int newfd, int flags)'),
  fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
  ioctl: lib.func('int ioctl(int fd, unsigned long req, ...)'),
  execve: lib.func('int execve(const char *path, const char **argv, const char **envp)'),
  setresuid: lib.func('int setresuid(uint32_t r, uint32_t e, uint32_t s)'),
  setresgid: lib.func('int setresgid(uint32_t r, uint32_t e, uint32_t s)'),
  setgroups: lib.func('int setgroups(size_t n, const void *list)'),
  umask: lib.func('uint32_t umask(uint32_t mask)'),
  prlimit: lib.func('int prlimit(int pid, int resource, const void *newlim, void *oldlim)'),
  prctl: lib.func('int prctl(int option, ...)'),
  kill: lib.func('int kill(int pid, int sig)'),
  getpid: lib.func('int getpid()'),
  setsid: lib.func('int setsid()'),
  pipe2: lib.func('int pipe2(void *fds, int flags)'),
  syscall: lib.func('long syscall(long nr, ...)'),
  sigaction: lib.func('int sigaction(int sig, const void *act, void *old)'),
  sigprocmask: lib.func('int sigprocmask(int how, const void *set, void *old)'),
  poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  write: lib.func('long write(int fd, const void *buf, size_t n)'),
  read: lib.func('long read(int fd, void *buf, size_t n)'),
  flock: lib.func('int flock(int fd, int op)'),
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  connect: lib.func('int connect(int fd, const void *addr, uint32_t len)'),
  sendmsg: lib.func('long sendmsg(int fd, const void *msg, int flags)'),
  symlink: lib.func('int symlink(const char *target, const char *path)'),
  chown: lib.func('int lchown(const char *path, uint32_t uid, uint32_t gid)'),
  capget: lib.func('int capget(void *hdr, void *data)'),
  capset: lib.func('int capset(void *hdr, const void *data)'),
  waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
  grantpt: lib.func('int grantpt(int fd)'),
  unlockpt: lib.func('int unlockpt(int fd)'),
  ptsname_r: lib.func('int ptsname_r(int fd, void *buf, size_t len)'),
};

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
export const F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1;
export const SYS = {
  pivot_root: 155,
  close_range: 436,
  openat2: 437,
  seccomp: 317,
  mount_setattr: 442,
  open_tree: 428,
  move_mount: 429,
  pidfd_open: 434,
} as const;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;
export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;
export const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

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
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(f.openat(dirfd, path, flags, 'uint32_t', mode), 'open', path);
}
/** openat that reports errno instead of throwing (for ENXIO/EINTR polling). */
export function tryOpenat(dirfd: number, path: string, flags: number): { fd: number; errno: number } {
  const fd = f.openat(dirfd, path, flags, 'uint32_t', 0) as number;
  return fd < 0 ? { fd, errno: koffi.errno() } : { fd, errno: 0 };
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
  throw new SysError('execve', path, koffi.errno());
}
export function setresuid(uid: number): void {
  check(f.setresuid(uid, uid, uid), 'setresuid', String(uid));
}
export function setresgid(gid: number): void {
  check(f.setresgid(gid, gid, gid), 'setresgid', String(gid));
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
export function getrlimit(resource: number): { soft: bigint; hard: bigint } {
  const buf = Buffer.alloc(16);
  check(f.prlimit(0, resource, null, buf), 'getrlimit');
  return { soft: buf.readBigUInt64LE(0), hard: buf.readBigUInt64LE(8) };
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
/** Reset every signal to SIG_DFL and unblock all: ignored dispositions and the
 * mask survive execve, and the engine ignores SIGPIPE/SIGXFSZ. */
export function resetSignals(): void {
  const act = Buffer.alloc(152); // struct sigaction (x86-64 glibc): handler=SIG_DFL, empty mask, flags 0
  for (let sig = 1; sig < 65; sig++) {
    if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue; // KILL, STOP, glibc-reserved
    f.sigaction(sig, act, null);
  }
  const empty = Buffer.alloc(128);
  check(f.sigprocmask(2 /* SIG_SETMASK */, empty, null), 'sigprocmask');
}
/** SIG_IGN for one signal (set with sigaction directly: the engine's own handling may need threads). */
export function ignoreSignal(sig: number): void {
  const act = Buffer.alloc(152);
  act.writeBigUInt64LE(1n, 0); // SIG_IGN
  check(f.sigaction(sig, act, null), 'sigaction', String(sig));
}
/** poll(2) a single fd; returns revents (0 on timeout). */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const buf = Buffer.alloc(8);
  buf.writeInt32LE(fd, 0);
  buf.writeInt16LE(events, 4);
  const n = f.poll(buf, 1, timeoutMs) as number;
  if (n < 0) {
    const e = koffi.errno();
    if (e === 4 /* EINTR */) return 0;
    throw new SysError('poll', undefined, e);
  }
  return n === 0 ? 0 : buf.readInt16LE(6);
}
export const POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16;
export function write(fd: number, data: Buffer): number {
  return check(f.write(fd, data, data.length), 'write');
}
export function read(fd: number, buf: Buffer): number {
  return check(f.read(fd, buf, buf.length), 'read');
}
export function flock(fd: number, op: number): boolean {
  const r = f.flock(fd, op) as number;
  if (r === 0) return true;
  const e = koffi.errno();
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
export function capget(hdr: Buffer, data: Buffer): void {
  check(f.capget(hdr, data), 'capget');
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
export function grantpt(fd: number): void {
  check(f.grantpt(fd), 'grantpt');
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
export function bufferAddress(buf: Buffer): bigint {
  return koffi.address(buf);
}
export { koffi };
