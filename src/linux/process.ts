// The last steps before execve: rlimits, user, working directory, file
// descriptors and signal state. Everything here changes the calling process
// (the init, or an exec'd process) and runs on the main thread.
import { readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import * as libc from './libc';
import { F_GETFL, F_SETFD, F_SETFL, O, RLIMIT, SysError, errnoText } from './libc';
import type { Process, Rlimit, User } from '../spec/types';
import { writeProcFile } from './procfs';
import { dropBoundingSet, keepCapsAcrossSetuid, setCapabilitySets } from './capabilities';

export class ExecError extends Error {}

export function applyRlimits(rlimits: Rlimit[] | undefined): void {
  for (const r of rlimits ?? []) {
    const n = RLIMIT[r.type];
    if (n === undefined) throw new Error(`unknown rlimit type ${r.type}`);
    try {
      libc.setrlimit(n, r.soft, r.hard);
    } catch (e) {
      // runc's wording: podman maps "operation not permitted" to exit code 126.
      if (e instanceof SysError) throw new Error(`error setting rlimit type ${n}: ${errnoText(e.errno)}`, { cause: e });
      throw e;
    }
  }
}

/** Through procFd (src/linux/procfs.ts), by PID: "self" is a symlink, which the
 * resolution refuses, and the path /proc may no longer be our procfs. */
export function setOomScoreAdj(adj: number | undefined, procFd: () => number): void {
  if (adj === undefined) return;
  writeProcFile(procFd(), `${libc.getpid()}/oom_score_adj`, String(adj));
}

/** groups, then gid, then uid: after setuid we could no longer change the others. */
export function switchUser(user: User): void {
  // A user namespace made by an ordinary user has setgroups "deny" (the kernel's
  // condition for its gid_map, CVE-2014-8989): no group list can be set there,
  // and the one we have is already empty of mapped groups. runc does the same.
  if (setgroupsDenied()) {
    if ((user.additionalGids ?? []).length > 0) {
      throw new Error('/process/user/additionalGids cannot be set in a rootless container: setgroups is denied in its user namespace');
    }
  } else {
    libc.setgroups(user.additionalGids ?? []);
  }
  libc.setresgid(user.gid);
  libc.setresuid(user.uid);
}

function setgroupsDenied(): boolean {
  try {
    return readFileSync('/proc/self/setgroups', 'utf8').trim() === 'deny';
  } catch {
    return false;
  }
}

export function envValue(env: string[] | undefined, key: string): string | undefined {
  const prefix = key + '=';
  const hit = (env ?? []).slice().reverse().find((e) => e.startsWith(prefix));
  return hit?.slice(prefix.length);
}

function isExecutableFile(p: string): boolean {
  try {
    const st = statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** exec.LookPath semantics with runc's error texts, which podman and containerd match on. */
export function lookPath(arg0: string, env: string[] | undefined): string {
  if (arg0.includes('/')) {
    try {
      const st = statSync(arg0);
      if (st.isDirectory()) throw new ExecError(`exec: "${arg0}": is a directory`);
      if ((st.mode & 0o111) === 0) throw new ExecError(`exec: "${arg0}": permission denied`);
    } catch (e) {
      if (e instanceof ExecError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? 'ENOENT';
      const errno = -((e as NodeJS.ErrnoException).errno ?? -2);
      throw new ExecError(`exec: "${arg0}": stat ${arg0}: ${errnoText(errno)} (${code})`);
    }
    return arg0;
  }
  const path = envValue(env, 'PATH');
  for (const dir of (path ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = posix.join(dir, arg0);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new ExecError(`exec: "${arg0}": executable file not found in $PATH`);
}

/** Only 0-2 and the --preserve-fds range may reach the program: they lose
 * close-on-exec (the engine sets it) and O_NONBLOCK (libuv may set it); every
 * other descriptor, whoever opened it, is marked close-on-exec. */
export function prepareFds(preserveFds: number): void {
  const last = 2 + preserveFds;
  for (let fd = 0; fd <= last; fd++) {
    try {
      libc.fcntl(fd, F_SETFD, 0);
      if (fd <= 2) {
        const fl = libc.fcntl(fd, F_GETFL);
        if (fl & O.NONBLOCK) libc.fcntl(fd, F_SETFL, fl & ~O.NONBLOCK);
      }
    } catch {
      // a closed stdio fd stays closed
    }
  }
  libc.closeRangeCloexec(last + 1);
}

export function setNoNewPrivileges(p: Process): void {
  if (p.noNewPrivileges) libc.prctl(libc.PR.SET_NO_NEW_PRIVS, 1);
}

/** A cwd such as /proc/self/fd/N can name a directory outside the container
 * (an fd the runtime still holds): after chdir, the kernel must report a path
 * inside our root, or we refuse to run anything there (CVE-2024-21626). */
export function checkCwdInsideRoot(requested: string): void {
  const cwd = libc.getcwd();
  if (!cwd.startsWith('/')) throw new Error(`cwd ${requested} resolves outside the container root (${cwd}): refused`);
}

/** Does the process keep CAP_SYS_ADMIN anyway (effective and permitted)? */
export function holdsSysAdmin(p: Process): boolean {
  const c = p.capabilities;
  return (c?.effective ?? []).includes('CAP_SYS_ADMIN') && (c?.permitted ?? []).includes('CAP_SYS_ADMIN');
}

/** chdir to process.cwd while still root, as runc does: the user may be unable
 * to search a directory on the way (a volume owned by the container's root, mode
 * 0700) yet the process is allowed to work there. Returns false on EACCES/EPERM:
 * try again as the user (root may be the one refused, e.g. root-squashed NFS). */
export function enterCwd(cwd: string): boolean {
  try {
    libc.chdir(cwd);
    return true;
  } catch (e) {
    if (e instanceof SysError && (e.code === 'EACCES' || e.code === 'EPERM')) return false;
    throw e;
  }
}

/** Become process.user with exactly process.capabilities (capabilities(7) order:
 * bounding set first, permitted kept across the uid change, then the sets).
 * `hold` keeps one capability effective a little longer (see seccomp).
 * `cwdPending`: enterCwd was refused before the switch, so chdir now, as the user. */
export function becomeUser(p: Process, hold?: string, cwdPending = false): void {
  dropBoundingSet(p.capabilities);
  keepCapsAcrossSetuid(true);
  switchUser(p.user ?? { uid: 0, gid: 0 });
  keepCapsAcrossSetuid(false);
  setCapabilitySets(p.capabilities, hold);
  libc.umask(p.user?.umask ?? 0o022);
  if (cwdPending) libc.chdir(p.cwd);
}
