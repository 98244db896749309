// User namespaces: the uid/gid maps and the kernel rules about writing them,
// and a holder process that makes a new user namespace exist.
//
// A multithreaded process (Node, Bun) can neither unshare(CLONE_NEWUSER) nor
// setns() into a user namespace (EINVAL), so the runtime never enters one
// itself: it asks util-linux `unshare` to create one (the holder), writes the
// maps for it as the privileged parent, keeps an fd on the namespace, and
// starts later processes inside it with util-linux `nsenter` (src/process/userns.ts).
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { cause } from '../trace/record';
import * as libc from './libc';
import { AT_FDCWD, O, SysError } from './libc';
import { findNamespace } from './namespaces';
import { writeIdMapsWithHelpers } from './rootless-idmap';
import type { IdMapping, Spec } from '../spec/types';

// Absolute paths: the runtime may run with an empty environment (no PATH).
export const UNSHARE = '/usr/bin/unshare';
export const NSENTER = '/usr/bin/nsenter';
const SH = '/bin/sh';

/** The kernel accepts at most this many lines per map (UID_GID_MAP_MAX_EXTENTS). */
export const MAX_MAP_LINES = 340;
/** ...written in one write() of less than a page (map_write refuses count >= PAGE_SIZE). */
export const MAX_MAP_BYTES = 4095;
const U32_MAX = 0xffffffff;

/** The text the kernel expects in /proc/<pid>/uid_map: one "inside outside count" line per range. */
export function formatIdMap(maps: IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** Parse /proc/<pid>/uid_map or gid_map (columns are space padded). */
export function parseIdMap(text: string): IdMapping[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [containerID, hostID, size] = l.split(/\s+/).map(Number) as [number, number, number];
      return { containerID, hostID, size };
    });
}

/** The host id a container id maps to, or undefined when it is not mapped. */
export function toHostId(maps: IdMapping[], id: number): number | undefined {
  const m = maps.find((r) => id >= r.containerID && id - r.containerID < r.size);
  return m ? m.hostID + (id - m.containerID) : undefined;
}

function overlaps(aStart: number, aSize: number, bStart: number, bSize: number): boolean {
  return aStart < bStart + bSize && bStart < aStart + aSize;
}

/** What the kernel's map_write would refuse (EINVAL), said with the JSON path. */
export function idMapProblems(maps: IdMapping[], at: string): string[] {
  const problems: string[] = [];
  if (maps.length > MAX_MAP_LINES) problems.push(`${at} has ${maps.length} ranges: the kernel accepts at most ${MAX_MAP_LINES}`);
  const bytes = Buffer.byteLength(formatIdMap(maps));
  if (bytes > MAX_MAP_BYTES) problems.push(`${at} is ${bytes} bytes as text: the kernel accepts less than 4096`);
  maps.forEach((m, i) => {
    if (m.size < 1) problems.push(`${at}/${i}/size must be at least 1`);
    if (m.containerID + m.size - 1 >= U32_MAX) problems.push(`${at}/${i}: containerID ${m.containerID} + size ${m.size} goes past ${U32_MAX - 1}`);
    if (m.hostID + m.size - 1 >= U32_MAX) problems.push(`${at}/${i}: hostID ${m.hostID} + size ${m.size} goes past ${U32_MAX - 1}`);
    for (let j = 0; j < i; j++) {
      const o = maps[j] as IdMapping;
      if (overlaps(m.containerID, m.size, o.containerID, o.size)) {
        problems.push(`${at}/${i}: container ids ${m.containerID}-${m.containerID + m.size - 1} overlap ${at}/${j} (${o.containerID}-${o.containerID + o.size - 1})`);
      }
      if (overlaps(m.hostID, m.size, o.hostID, o.size)) {
        problems.push(`${at}/${i}: host ids ${m.hostID}-${m.hostID + m.size - 1} overlap ${at}/${j} (${o.hostID}-${o.hostID + o.size - 1})`);
      }
    }
  });
  return problems;
}

/** process.user must name ids that exist in the user namespace: setresuid/setresgid/setgroups
 * refuse unmapped ids (EINVAL), and the mapped root must exist for the runtime to act there. */
export function unmappedUserProblems(spec: Spec, uidMap: IdMapping[], gidMap: IdMapping[], source: string): string[] {
  const problems: string[] = [];
  if (toHostId(uidMap, 0) === undefined) problems.push(`uid 0 is not mapped in ${source === 'config' ? '/linux/uidMappings' : source}: the runtime needs a root inside the user namespace`);
  if (toHostId(gidMap, 0) === undefined) problems.push(`gid 0 is not mapped in ${source === 'config' ? '/linux/gidMappings' : source}: the runtime needs a root group inside the user namespace`);
  const u = spec.process?.user;
  if (!u) return problems;
  const uidAt = source === 'config' ? '/linux/uidMappings' : source;
  const gidAt = source === 'config' ? '/linux/gidMappings' : source;
  if (toHostId(uidMap, u.uid) === undefined) problems.push(`/process/user/uid ${u.uid} is not mapped in ${uidAt}`);
  if (toHostId(gidMap, u.gid) === undefined) problems.push(`/process/user/gid ${u.gid} is not mapped in ${gidAt}`);
  (u.additionalGids ?? []).forEach((g, i) => {
    if (toHostId(gidMap, g) === undefined) problems.push(`/process/user/additionalGids/${i} ${g} is not mapped in ${gidAt}`);
  });
  return problems;
}

/** The user-namespace rules of config.json that need no host (runc's validator, plus the kernel's map rules). */
export function userNamespaceProblems(spec: Spec): string[] {
  const ns = findNamespace(spec.linux?.namespaces, 'user');
  const uidMap = spec.linux?.uidMappings;
  const gidMap = spec.linux?.gidMappings;
  const hasMaps = (uidMap?.length ?? 0) > 0 || (gidMap?.length ?? 0) > 0;
  if (!ns) {
    return hasMaps ? ['/linux/uidMappings and /linux/gidMappings need a user namespace (add {"type":"user"} to /linux/namespaces)'] : [];
  }
  if (ns.path) return []; // the maps are the joined namespace's: checked once it is entered
  const problems: string[] = [];
  if (!uidMap?.length) problems.push('/linux/uidMappings is required with a new user namespace');
  if (!gidMap?.length) problems.push('/linux/gidMappings is required with a new user namespace');
  if (problems.length > 0) return problems;
  problems.push(...idMapProblems(uidMap ?? [], '/linux/uidMappings'), ...idMapProblems(gidMap ?? [], '/linux/gidMappings'));
  if (problems.length > 0) return problems;
  return unmappedUserProblems(spec, uidMap ?? [], gidMap ?? [], 'config');
}

/** CAP_SETGID in our own (the parent) user namespace: with it the kernel lets us
 * write any gid_map and setgroups may stay allowed. Without it (a rootless
 * runtime) gid_map can only be written after setgroups is denied: otherwise a
 * process could drop a group that denies it access (CVE-2014-8989). */
export function writerHasCapSetgid(status = readFileSync('/proc/self/status', 'utf8')): boolean {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  const eff = BigInt('0x' + (line?.slice(7).trim() ?? '0'));
  return (eff & (1n << 6n)) !== 0n; // CAP_SETGID = 6
}

/** One write() per file: the kernel accepts a map exactly once, whole. */
function writeProcFile(path: string, data: string): void {
  const fd = libc.openat(AT_FDCWD, path, O.WRONLY | O.CLOEXEC);
  try {
    const buf = Buffer.from(data);
    const n = libc.write(fd, buf);
    if (n !== buf.length) throw new SysError('write', path, 5 /* EIO */);
  } catch (e) {
    if (e instanceof SysError && e.path === undefined) throw new SysError(e.syscall, path, e.errno);
    throw e;
  } finally {
    libc.close(fd);
  }
}

/** setgroups first (the kernel refuses "deny" once gid_map is written), then the maps. */
export function writeIdMaps(pid: number, uidMap: IdMapping[], gidMap: IdMapping[]): void {
  if (writeIdMapsWithHelpers(pid, uidMap, gidMap)) return; // an ordinary user's ranges (src/linux/rootless-idmap.ts)
  if (!writerHasCapSetgid()) writeProcFile(`/proc/${pid}/setgroups`, 'deny');
  cause('/linux/uidMappings', () => writeProcFile(`/proc/${pid}/uid_map`, formatIdMap(uidMap)));
  cause('/linux/gidMappings', () => writeProcFile(`/proc/${pid}/gid_map`, formatIdMap(gidMap)));
}

/**
 * Create a user namespace with the given maps and return an fd on it.
 *
 * The holder is `unshare --user -- sh -c 'echo ready; read _'`: its "ready"
 * line proves unshare() is done (no polling of /proc/<pid>/ns/user); it then
 * blocks on its stdin. We write the maps as its privileged parent, open
 * /proc/<holder>/ns/user (the fd keeps the namespace alive), and close its
 * stdin: it exits. If we die first, its stdin closes just the same.
 */
export function createUserNamespace(uidMap: IdMapping[], gidMap: IdMapping[]): number {
  let [fromHolder, holderOut] = libc.pipe();
  let [holderIn, toHolder] = libc.pipe();
  let pid: number | undefined;
  try {
    pid = libc.posixSpawn(UNSHARE, [UNSHARE, '--user', '--', SH, '-c', 'echo ready; read _'], [],
      [[holderIn, 0], [holderOut, 1], [holderOut, 2]], '/');
    // our copies of its ends would hide its exit from readLine
    libc.close(holderIn);
    libc.close(holderOut);
    holderIn = holderOut = -1;
    const line = libc.readLine(fromHolder);
    if (line !== 'ready\n') {
      throw new Error(`${UNSHARE} --user failed to create a user namespace${line ? ': ' + line.trim() : ''}`);
    }
    try {
      writeIdMaps(pid, uidMap, gidMap);
    } catch (e) {
      throw new Error(`writing the user namespace maps: ${(e as Error).message}`, { cause: e });
    }
    return libc.openat(AT_FDCWD, `/proc/${pid}/ns/user`, O.RDONLY | O.CLOEXEC);
  } finally {
    if (holderIn >= 0) libc.close(holderIn);
    if (holderOut >= 0) libc.close(holderOut);
    libc.close(fromHolder);
    libc.close(toHolder); // the holder reads EOF and exits
    if (pid !== undefined) libc.reapExiting(pid);
  }
}

const NS_GET_NSTYPE = 0xb703;

/** Refuse a user namespace path that is not one (nsenter would only say "Invalid argument"). */
export function checkUserNamespacePath(path: string): string | undefined {
  let fd: number;
  try {
    fd = libc.openat(AT_FDCWD, path, O.RDONLY | O.CLOEXEC);
  } catch (e) {
    return `cannot open ${path}: ${(e as Error).message}`;
  }
  try {
    const type = libc.ioctl(fd, NS_GET_NSTYPE, 0, 'ioctl(NS_GET_NSTYPE)');
    return type === libc.CLONE.NEWUSER ? undefined : `${path} is not a user namespace`;
  } catch {
    return `${path} is not a namespace file`;
  } finally {
    libc.close(fd);
  }
}

/** Whether a host id lies in the outside half of a map. */
export function isMappedHostId(maps: IdMapping[], hostId: number): boolean {
  return maps.some((m) => hostId >= m.hostID && hostId - m.hostID < m.size);
}

/**
 * Why a host path can't be reached by the container's root (host ids uid, gid),
 * or undefined if every directory on the way lets it search. Its capabilities
 * count only for inodes whose owner and group are both mapped in its namespace
 * (capable_wrt_inode_uidgid); for the others only the mode bits do (ACLs are
 * not consulted: the kernel may still allow more).
 */
export function unreachableBy(path: string, uid: number, gid: number, uidMap: IdMapping[] = [], gidMap: IdMapping[] = []): string | undefined {
  const dirs: string[] = [];
  // Absolute first: dirname('.') is '.', and a walk that waits for '/' on a
  // relative path never ends. Stopping where dirname stops changing ends any walk.
  for (let d = dirname(resolve(path)); ; d = dirname(d)) {
    dirs.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of dirs) {
    let st;
    try {
      st = statSync(d);
    } catch {
      return undefined; // a missing path gets its own, clearer, error
    }
    if (isMappedHostId(uidMap, st.uid) && isMappedHostId(gidMap, st.gid)) continue;
    const mode = st.mode;
    const ok = st.uid === uid ? (mode & 0o100) !== 0 : st.gid === gid ? (mode & 0o010) !== 0 : (mode & 0o001) !== 0;
    if (!ok) return `${d} (owner ${st.uid}:${st.gid}, mode ${(mode & 0o7777).toString(8).padStart(4, '0')}) cannot be searched by host uid ${uid} gid ${gid}`;
  }
  return undefined;
}
