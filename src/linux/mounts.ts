// Mounts of config.json, done inside the container's mount namespace before pivot_root.
// Destinations are resolved *inside* the rootfs: a symlink in the image (or one
// raced in by another container sharing the rootfs) can never redirect a mount
// onto a host path. The kernel does the resolution: openat2(RESOLVE_IN_ROOT)
// gives an O_PATH fd, and the mount targets /proc/self/fd/N, that very inode.
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import * as libc from './libc';
import { MS, O, SYS, SysError } from './libc';
import type { Mount } from '../spec/types';
import { attachTreeAt } from './idmap';
import { ownUnifiedDir } from './cgroups/layout';

// ---- option parsing --------------------------------------------------------

interface FlagOpt {
  clear: boolean;
  flag: number;
}
const FLAG_OPTIONS: Record<string, FlagOpt> = {
  defaults: { clear: false, flag: 0 },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  suid: { clear: true, flag: MS.NOSUID },
  nosuid: { clear: false, flag: MS.NOSUID },
  dev: { clear: true, flag: MS.NODEV },
  nodev: { clear: false, flag: MS.NODEV },
  exec: { clear: true, flag: MS.NOEXEC },
  noexec: { clear: false, flag: MS.NOEXEC },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
  async: { clear: true, flag: MS.SYNCHRONOUS },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  remount: { clear: false, flag: MS.REMOUNT },
  mand: { clear: false, flag: MS.MANDLOCK },
  nomand: { clear: true, flag: MS.MANDLOCK },
  atime: { clear: true, flag: MS.NOATIME },
  noatime: { clear: false, flag: MS.NOATIME },
  diratime: { clear: true, flag: MS.NODIRATIME },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  bind: { clear: false, flag: MS.BIND },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  norelatime: { clear: true, flag: MS.RELATIME },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  iversion: { clear: false, flag: MS.I_VERSION },
  noiversion: { clear: true, flag: MS.I_VERSION },
  silent: { clear: false, flag: MS.SILENT },
  loud: { clear: true, flag: MS.SILENT },
  symfollow: { clear: true, flag: MS.NOSYMFOLLOW },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  acl: { clear: false, flag: MS.POSIXACL },
  noacl: { clear: true, flag: MS.POSIXACL },
};

export const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Recursive mount attributes (mount_setattr with AT_RECURSIVE). */
const MOUNT_ATTR: Record<string, { set: number; clr: number }> = {
  rro: { set: 0x1, clr: 0 },
  rrw: { set: 0, clr: 0x1 },
  rnosuid: { set: 0x2, clr: 0 },
  rsuid: { set: 0, clr: 0x2 },
  rnodev: { set: 0x4, clr: 0 },
  rdev: { set: 0, clr: 0x4 },
  rnoexec: { set: 0x8, clr: 0 },
  rexec: { set: 0, clr: 0x8 },
  rnoatime: { set: 0x10, clr: 0x70 },
  rrelatime: { set: 0, clr: 0x70 },
  rstrictatime: { set: 0x20, clr: 0x70 },
  rnodiratime: { set: 0x80, clr: 0 },
  rdiratime: { set: 0, clr: 0x80 },
  rnosymfollow: { set: 0x200000, clr: 0 },
  rsymfollow: { set: 0, clr: 0x200000 },
};

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  recAttrSet: number;
  recAttrClr: number;
  data: string[];
  tmpcopyup: boolean;
}

/** Split mount options into mount(2) flags, propagation changes and fs-specific data. */
export function parseMountOptions(options: string[] = []): ParsedOptions {
  const out: ParsedOptions = { flags: 0, propagation: [], recAttrSet: 0, recAttrClr: 0, data: [], tmpcopyup: false };
  for (const opt of options) {
    const f = FLAG_OPTIONS[opt];
    if (f) {
      out.flags = f.clear ? out.flags & ~f.flag : out.flags | f.flag;
      continue;
    }
    const p = PROPAGATION_OPTIONS[opt];
    if (p !== undefined) {
      out.propagation.push(p);
      continue;
    }
    const a = MOUNT_ATTR[opt];
    if (a) {
      out.recAttrSet |= a.set;
      out.recAttrClr |= a.clr;
      continue;
    }
    if (opt === 'idmap' || opt === 'ridmap') continue; // done by the runtime (src/linux/idmap.ts)
    if (opt === 'tmpcopyup') {
      out.tmpcopyup = true;
      continue;
    }
    out.data.push(opt);
  }
  return out;
}

export function isBind(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

// ---- resolving paths inside the root ---------------------------------------------

/** openat2(rootfd, path, O_PATH, RESOLVE_IN_ROOT): the kernel treats rootfd as "/"
 * for every component, symlinks and ".." included. */
export function openInRoot(rootFd: number, path: string, extraFlags = 0): number {
  return libc.openat2(rootFd, path, O.PATH | extraFlags, libc.RESOLVE.IN_ROOT | libc.RESOLVE.NO_MAGICLINKS);
}

/** mkdir -p inside the root, one component at a time. Each parent is an O_PATH
 * fd the kernel resolved inside the root, and mkdirat never follows the name it
 * creates: a symlink raced into the path cannot make us create anything outside
 * (a walk over host paths followed by mkdir could, CVE-2021-30465). */
function mkdirAllAt(rootFd: number, path: string, mode: number, depth = 0): void {
  if (depth > 40) throw new SysError('mkdir', path, 40 /* ELOOP */);
  let parent = '/';
  for (const part of path.split('/').filter((p) => p !== '' && p !== '.')) {
    const here = parent.endsWith('/') ? parent + part : `${parent}/${part}`; // ".." is left to the kernel
    if (!existsInRoot(rootFd, here)) {
      const pfd = openInRoot(rootFd, parent, O.DIRECTORY);
      try {
        libc.mkdirat(pfd, part, mode);
      } catch (e) {
        if (!(e instanceof SysError && e.code === 'EEXIST')) throw e;
        // A dangling symlink: create its target, inside the root, as runc does.
        const target = readlinkSync(`/proc/self/fd/${pfd}/${part}`);
        mkdirAllAt(rootFd, target.startsWith('/') ? target : `${parent}/${target}`, mode, depth + 1);
      } finally {
        libc.close(pfd);
      }
    }
    parent = here;
  }
}

function existsInRoot(rootFd: number, path: string): boolean {
  try {
    libc.close(openInRoot(rootFd, path));
    return true;
  } catch (e) {
    if (e instanceof SysError && e.code === 'ENOENT') return false;
    throw e;
  }
}

function withRootFd<T>(root: string, fn: (rootFd: number) => T): T {
  const rootFd = libc.openat(libc.AT_FDCWD, root, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    return fn(rootFd);
  } finally {
    libc.close(rootFd);
  }
}

/** mkdir -p inside the root. */
export function mkdirInRoot(root: string, path: string, mode = 0o755): void {
  withRootFd(root, (rootFd) => mkdirAllAt(rootFd, path, mode));
}

/** Run fn with an O_PATH fd of the directory that holds `path` inside the root
 * (made if missing) and the last component's name: whatever fn creates, removes
 * or changes through *at(dirFd, name) calls stays in that directory, however the
 * path's components are swapped for symlinks meanwhile. */
export function inParentInRoot<T>(root: string, path: string, fn: (dirFd: number, name: string) => T): T {
  return withRootFd(root, (rootFd) => {
    const clean = posix.resolve('/', path);
    if (clean === '/') throw new SysError('open', path, 21 /* EISDIR */);
    const dir = posix.dirname(clean);
    mkdirAllAt(rootFd, dir, 0o755);
    const dirFd = openInRoot(rootFd, dir, O.DIRECTORY);
    try {
      return fn(dirFd, posix.basename(clean));
    } finally {
      libc.close(dirFd);
    }
  });
}

/** symlink(target, path) inside the root; false if path exists already. */
export function symlinkInRoot(root: string, target: string, path: string): boolean {
  return inParentInRoot(root, path, (dirFd, name) => {
    try {
      libc.symlinkat(target, dirFd, name);
      return true;
    } catch (e) {
      if (e instanceof SysError && e.code === 'EEXIST') return false;
      throw e;
    }
  });
}

/** Create the destination (a directory, or an empty file when binding a file). */
export function ensureDestination(root: string, dest: string, asFile: boolean): void {
  withRootFd(root, (rootFd) => {
    if (existsInRoot(rootFd, dest)) return;
    if (!asFile) {
      mkdirAllAt(rootFd, dest, 0o755);
      return;
    }
    mkdirAllAt(rootFd, posix.dirname(dest), 0o755);
    const pfd = openInRoot(rootFd, posix.dirname(dest), O.DIRECTORY);
    try {
      // O_NOFOLLOW: a symlink raced in as the file name is refused, not followed
      libc.close(libc.openat(pfd, posix.basename(dest), O.CREAT | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, 0o644));
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'EEXIST')) throw e;
    } finally {
      libc.close(pfd);
    }
  });
}

// ---- doing the mounts --------------------------------------------------------------

export interface MountContext {
  rootfs: string;
  rootFd: number;
  /** Mount cgroupfs in the container's cgroup namespace (else bind the host dirs). */
  cgroupNs: boolean;
  cgroupPaths: Record<string, string>;
  cgroupHierarchies: { controllers: string[]; version: 1 | 2 }[];
  /** Set by mountOne: the fd fsmount gave for the procfs mounted at /proc (src/linux/procfs.ts). */
  procMount?: number;
  /** Read-only mounts made read-write for now (see readonlyLater): an O_PATH fd
   * of each mount's root and the flags to remount it with. */
  pendingReadonly?: { fd: number; dest: string; flags: number }[];
}

function isStrictlyUnder(path: string, dir: string): boolean {
  const p = posix.resolve('/', path), d = posix.resolve('/', dir);
  return p !== d && (d === '/' || p.startsWith(`${d}/`));
}

/**
 * Which mounts (by index) are made read-write first and read-only once
 * everything under them exists: a fresh filesystem (tmpfs, ...) with "ro" that
 * gets children, i.e. a later mount's destination, a device, a /dev symlink or
 * process.cwd below it. Mounted read-only at once, the mkdir or mknod of a child
 * fails with EROFS. runc does this for /dev and tmpfs; toyrun for any such
 * filesystem. A bind stays read-only at once: creating a missing child there
 * would write into the host's directory.
 */
export function readonlyLater(mounts: Mount[], children: string[]): Set<number> {
  const later = new Set<number>();
  mounts.forEach((m, i) => {
    const t = m.type ?? '';
    if (isBind(m) || t === 'cgroup' || t === 'cgroup2') return;
    if ((parseMountOptions(m.options).flags & MS.RDONLY) === 0) return;
    const below = (p: string): boolean => isStrictlyUnder(p, m.destination);
    if (mounts.slice(i + 1).some((n) => below(n.destination)) || children.some(below)) later.add(i);
  });
  return later;
}

/** Make the mounts readonlyLater picked read-only, now that their children exist. */
export function finishReadonly(ctx: MountContext): void {
  const pending = ctx.pendingReadonly ?? [];
  for (let next = pending.shift(); next; next = pending.shift()) {
    const { fd, dest, flags } = next; // off the list before use: the caller closes only what is left
    try {
      remountBind(`/proc/self/fd/${fd}`, flags);
    } catch (e) {
      if (e instanceof SysError) throw new SysError(e.syscall, dest, e.errno);
      throw e;
    } finally {
      libc.close(fd);
    }
  }
}

function mountAt(ctx: MountContext, dest: string, fn: (procPath: string) => void): void {
  const fd = openInRoot(ctx.rootFd, dest);
  try {
    fn(`/proc/self/fd/${fd}`);
  } catch (e) {
    // report the container path, not the /proc/self/fd alias the kernel saw
    if (e instanceof SysError && e.path?.startsWith('/proc/self/fd/')) throw new SysError(e.syscall, dest, e.errno);
    throw e;
  } finally {
    libc.close(fd);
  }
}

/** Apply propagation and the flags a bind mount ignores on its first pass. */
function finishMount(target: string, o: ParsedOptions, bind: boolean): void {
  const extra = o.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  // MS_BIND ignores every other flag: a second, remounting pass applies them.
  if (bind && extra !== 0) remountBind(target, extra);
  for (const p of o.propagation) libc.mount(null, target, null, p, null);
  if (o.recAttrSet !== 0 || o.recAttrClr !== 0) setRecursiveAttrs(target, o.recAttrSet, o.recAttrClr);
}

/** Remount a bind mount with flags. In a user namespace the flags the host set
 * on the source mount (nosuid, nodev, noexec) are locked: a remount that would
 * clear one is refused (EPERM), so they are kept, as runc does. */
export function remountBind(target: string, flags: number): void {
  try {
    libc.mount(null, target, null, MS.REMOUNT | MS.BIND | flags, null);
  } catch (e) {
    if (!(e instanceof SysError && e.code === 'EPERM')) throw e;
    const locked = libc.statfsFlags(target) & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
    if ((flags | locked) === flags) throw e;
    libc.mount(null, target, null, MS.REMOUNT | MS.BIND | flags | locked, null);
  }
}

function setRecursiveAttrs(target: string, set: number, clr: number): void {
  const attr = Buffer.alloc(32);
  attr.writeBigUInt64LE(BigInt(set), 0);
  attr.writeBigUInt64LE(BigInt(clr), 8);
  const AT_RECURSIVE = 0x8000;
  libc.rawSyscall(SYS.mount_setattr, 'int', libc.AT_FDCWD, 'str', target, 'unsigned int', AT_RECURSIVE, 'void *', attr, 'size_t', 32);
}

/** idmapTree: a detached idmapped copy of the source, made by the runtime (src/linux/idmap.ts).
 * readonlyAtEnd: mount read-write now, queue the read-only remount (readonlyLater). */
export function mountOne(ctx: MountContext, m: Mount, idmapTree?: number, readonlyAtEnd = false): void {
  const o = parseMountOptions(m.options);
  if (readonlyAtEnd && (o.flags & MS.RDONLY) !== 0) {
    const remountFlags = o.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    mountOne(ctx, { ...m, options: [...(m.options ?? []), 'rw'] }, idmapTree);
    // the root of the mount just made: the remount reaches it whatever is stacked or raced in later
    const fd = openInRoot(ctx.rootFd, m.destination);
    (ctx.pendingReadonly ??= []).push({ fd, dest: m.destination, flags: remountFlags });
    return;
  }
  const bind = isBind(m);
  const type = m.type ?? (bind ? 'bind' : 'none');
  if (bind && idmapTree !== undefined) {
    ensureDestination(ctx.rootfs, m.destination, !statSync(`/proc/self/fd/${idmapTree}`).isDirectory());
    const fd = openInRoot(ctx.rootFd, m.destination);
    try {
      attachTreeAt(idmapTree, fd, m.destination);
    } finally {
      libc.close(fd);
    }
    mountAt(ctx, m.destination, (target) => finishMount(target, o, true));
    return;
  }
  if (bind) {
    const src = m.source ?? '';
    let srcIsDir: boolean;
    try {
      srcIsDir = statSync(src).isDirectory();
    } catch (e) {
      throw new SysError('stat', src, (e as NodeJS.ErrnoException).errno ? -((e as NodeJS.ErrnoException).errno as number) : 2);
    }
    ensureDestination(ctx.rootfs, m.destination, !srcIsDir);
    mountAt(ctx, m.destination, (target) => libc.mount(src, target, null, MS.BIND | (o.flags & MS.REC), null));
    // The fd used above names the directory under the new mount: resolve again
    // to reach the mount itself for the remount and propagation changes.
    mountAt(ctx, m.destination, (target) => finishMount(target, o, true));
    return;
  }
  if (type === 'cgroup' || type === 'cgroup2') {
    mountCgroups(ctx, m, o);
    return;
  }
  if (type === 'proc' || type === 'sysfs') requireOrdinaryDirectory(ctx, m.destination, type);
  if (type === 'proc') {
    mountProc(ctx, m, o);
    return;
  }
  ensureDestination(ctx.rootfs, m.destination, false);
  try {
    mountAt(ctx, m.destination, (target) => libc.mount(m.source ?? type, target, type, o.flags & ~MS.REMOUNT, o.data.join(',') || null));
  } catch (e) {
    const code = e instanceof SysError ? e.code : undefined;
    if (type === 'sysfs' && code === 'EPERM') {
      // sysfs needs privilege over the network namespace's owner: in a user namespace
      // without a network namespace of its own, bind the host's /sys instead, as runc
      // does (recursively: a plain bind of a mount with locked submounts is refused).
      mountAt(ctx, m.destination, (target) => libc.mount('/sys', target, null, MS.BIND | MS.REC, null));
      mountAt(ctx, m.destination, (target) => finishMount(target, o, true));
      return;
    }
    const data = o.data.filter((d) => !d.startsWith('gid='));
    if (!(type === 'devpts' && code === 'EINVAL' && data.length < o.data.length)) throw e;
    // devpts' gid= must name a group mapped in the user namespace: without it the
    // slaves get the opener's group, as with a rootless runc
    mountAt(ctx, m.destination, (target) => libc.mount(m.source ?? type, target, type, o.flags & ~MS.REMOUNT, data.join(',') || null));
  }
  mountAt(ctx, m.destination, (target) => finishMount(target, o, false));
}

/** proc and sysfs go on a plain directory (or a missing one, made here), never
 * through a symlink in the image: a /proc pointing elsewhere would leave the
 * real procfs where maskedPaths and readonlyPaths do not look (CVE-2023-28642;
 * runc's words). The last component is checked without following it; the
 * components before it resolve inside the root like every destination. */
function requireOrdinaryDirectory(ctx: MountContext, dest: string, type: string): void {
  const clean = posix.resolve('/', dest);
  const name = posix.basename(clean);
  if (clean === '/') throw new Error(`filesystem "${type}" must be mounted on ordinary directory (not the root)`);
  let dirFd: number;
  try {
    dirFd = openInRoot(ctx.rootFd, posix.dirname(clean), O.DIRECTORY);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ENOENT') return; // made as directories below
    throw e;
  }
  try {
    let st;
    try {
      st = lstatSync(`/proc/self/fd/${dirFd}/${name}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (!st.isDirectory()) {
      const what = st.isSymbolicLink() ? `a symlink to ${readlinkSync(`/proc/self/fd/${dirFd}/${name}`)}` : 'not a directory';
      throw new Error(`filesystem "${type}" must be mounted on ordinary directory: ${clean} is ${what} (CVE-2023-28642)`);
    }
  } finally {
    libc.close(dirFd);
  }
}

// mount(2) flags that fsmount takes as mount attributes, and those that are superblock flags for fsconfig.
const ATTR_OF_FLAG: [number, number][] = [
  [MS.RDONLY, libc.MOUNT_ATTR.RDONLY], [MS.NOSUID, libc.MOUNT_ATTR.NOSUID], [MS.NODEV, libc.MOUNT_ATTR.NODEV],
  [MS.NOEXEC, libc.MOUNT_ATTR.NOEXEC], [MS.NOATIME, libc.MOUNT_ATTR.NOATIME], [MS.STRICTATIME, libc.MOUNT_ATTR.STRICTATIME],
  [MS.NODIRATIME, libc.MOUNT_ATTR.NODIRATIME],
];
const SB_FLAG_NAMES: [number, string][] = [[MS.SYNCHRONOUS, 'sync'], [MS.DIRSYNC, 'dirsync'], [MS.LAZYTIME, 'lazytime'], [MS.MANDLOCK, 'mand'], [MS.SILENT, 'silent']];

/** proc with fsopen/fsmount, attached by fd on the destination: the mount fd is
 * kept (for /proc) as the handle later steps reach the container's procfs by,
 * whatever becomes of the path "/proc" in a rootfs others can write. */
function mountProc(ctx: MountContext, m: Mount, o: ParsedOptions): void {
  ensureDestination(ctx.rootfs, m.destination, false);
  let attrs = 0;
  for (const [flag, attr] of ATTR_OF_FLAG) if (o.flags & flag) attrs |= attr;
  const options = [...SB_FLAG_NAMES.filter(([flag]) => o.flags & flag).map(([, name]) => name), ...o.data];
  const mnt = libc.newFilesystemMount('proc', options, attrs);
  let keep = false;
  try {
    const fd = openInRoot(ctx.rootFd, m.destination);
    try {
      libc.moveMountTo(mnt, fd, m.destination);
    } finally {
      libc.close(fd);
    }
    if (posix.resolve('/', m.destination) === '/proc') {
      if (ctx.procMount !== undefined) libc.close(ctx.procMount);
      ctx.procMount = mnt;
      keep = true;
    }
  } finally {
    if (!keep) libc.close(mnt);
  }
  mountAt(ctx, m.destination, (target) => finishMount(target, o, false));
}

/** /sys/fs/cgroup inside the container. On v2, one cgroup2 mount. On v1, a tmpfs
 * with one mount per hierarchy: the hierarchy itself when the container has a
 * cgroup namespace (its root is then the container's cgroup), else a bind of
 * the container's own directory, so that no other cgroup is reachable. */
function mountCgroups(ctx: MountContext, m: Mount, o: ParsedOptions): void {
  ensureDestination(ctx.rootfs, m.destination, false);
  const ro = (o.flags & MS.RDONLY) !== 0;
  const base = o.flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  const v1 = ctx.cgroupHierarchies.filter((h) => h.version === 1);
  if (v1.length === 0) {
    let bound = false;
    mountAt(ctx, m.destination, (t) => {
      try {
        libc.mount('cgroup2', t, 'cgroup2', base | (ro ? MS.RDONLY : 0), null);
      } catch (e) {
        // A user namespace without its own cgroup namespace may not mount cgroup2 (EPERM:
        // the cgroup namespace is the host's; runc #2158). runc binds the host's whole
        // /sys/fs/cgroup then; we bind the container's own cgroup, as on v1, so that no
        // other cgroup is reachable — rootless without a delegated cgroup, the one it
        // shares with its caller (ours now: the init has not moved).
        const own = ctx.cgroupPaths.unified ?? ownUnifiedDir(); // read before pivot_root
        if (!(e instanceof SysError && (e.code === 'EPERM' || e.code === 'EBUSY')) || !own) throw e;
        libc.mount(own, t, null, MS.BIND, null);
        bound = true;
      }
    });
    if (bound) mountAt(ctx, m.destination, (t) => libc.mount(null, t, null, MS.REMOUNT | MS.BIND | base | (ro ? MS.RDONLY : 0), null));
    return;
  }
  mountAt(ctx, m.destination, (t) => libc.mount('tmpfs', t, 'tmpfs', base, 'mode=755'));
  for (const h of ctx.cgroupHierarchies) {
    const name = h.version === 2 ? 'unified' : h.controllers.map((c) => c.replace(/^name=/, '')).join(',');
    const sub = posix.join(m.destination, name);
    mkdirInRoot(ctx.rootfs, sub);
    const hostDir = ctx.cgroupPaths[h.controllers[0] as string];
    // rootless: a hierarchy the runtime could not write has no container cgroup
    // (src/linux/cgroups/rootless.ts): its directory stays empty, as with runc
    if (!ctx.cgroupNs && !hostDir) continue;
    mountAt(ctx, sub, (t) => {
      if (ctx.cgroupNs) {
        if (h.version === 2) libc.mount('cgroup2', t, 'cgroup2', base, null);
        else libc.mount('cgroup', t, 'cgroup', base, h.controllers.join(','));
      } else if (hostDir) {
        libc.mount(hostDir, t, null, MS.BIND, null);
      }
    });
    if (ro) mountAt(ctx, sub, (t) => libc.mount(null, t, null, MS.REMOUNT | MS.BIND | MS.RDONLY | base, null));
    // cpu,cpuacct style joint mounts get the usual per-controller symlinks
    if (h.controllers.length > 1) {
      for (const c of h.controllers) {
        symlinkInRoot(ctx.rootfs, name, posix.join(m.destination, c)); // unless it exists
      }
    }
  }
  if (ro) mountAt(ctx, m.destination, (t) => libc.mount(null, t, null, MS.REMOUNT | MS.RDONLY | base, null));
}

