// Idmapped mounts (Linux 5.12+): a mount that shows its files' owners through a
// user namespace's maps, so a rootfs or a volume owned by host root is owned by
// the container's root inside, without chown. Creating one needs privilege over
// the filesystem's own user namespace (the host's), so the runtime makes it
// before the container exists: open_tree(OPEN_TREE_CLONE) gives a detached copy
// of the source, mount_setattr(MOUNT_ATTR_IDMAP) attaches the maps, and the fd
// is handed down to the init, which move_mount()s it into place.
import { release } from 'node:os';
import * as libc from './libc';
import { AT_FDCWD, MS, O, SYS, SysError } from './libc';
import type { IdMapping, Mount, Spec } from '../spec/types';

const OPEN_TREE_CLONE = 1;
const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const MOUNT_ATTR_IDMAP = 0x00100000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;

/** Annotation (a toyrun extension) asking for the rootfs to be idmapped with the container's user namespace. */
export const ROOTFS_IDMAP_ANNOTATION = 'org.toyrun.idmap-rootfs';

export function idmapSupported(rel = release()): boolean {
  const [major, minor] = rel.split('.').map((x) => parseInt(x, 10)) as [number, number];
  return major > 5 || (major === 5 && minor >= 12);
}

function syscall(name: string, path: string, nr: number, ...args: unknown[]): number {
  try {
    return libc.rawSyscall(nr, ...args);
  } catch (e) {
    if (e instanceof SysError) throw new SysError(name, path, e.errno);
    throw e;
  }
}

/** A detached copy of source whose ids read through the user namespace usernsFd. */
export function idmappedTree(source: string, usernsFd: number, recursive: boolean): number {
  const rec = recursive ? AT_RECURSIVE : 0;
  const fd = syscall('open_tree', source, SYS.open_tree, 'int', AT_FDCWD, 'str', source, 'unsigned int', OPEN_TREE_CLONE | O.CLOEXEC | rec);
  try {
    const attr = Buffer.alloc(32); // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
    attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_IDMAP), 0);
    // A clone of a shared mount joins its peer group (clone_mnt without CL_PRIVATE):
    // every mount the init later makes on this tree (proc, dev, sys under the
    // rootfs; anything below a volume) would appear in the host's namespace, and
    // pivot_root refuses a shared new root (EINVAL). On a systemd host "/" is shared.
    // Slave, as the rootfs's default rslave: host mounts still reach in, ours never leak out.
    attr.writeBigUInt64LE(BigInt(MS.SLAVE), 16);
    attr.writeBigUInt64LE(BigInt(usernsFd), 24);
    syscall('mount_setattr', source, SYS.mount_setattr, 'int', fd, 'str', '', 'unsigned int', AT_EMPTY_PATH | rec, 'void *', attr, 'size_t', 32);
    return fd;
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** Attach a detached tree at target. */
export function attachTree(treeFd: number, target: string): void {
  syscall('move_mount', target, SYS.move_mount, 'int', treeFd, 'str', '', 'int', AT_FDCWD, 'str', target, 'unsigned int', MOVE_MOUNT_F_EMPTY_PATH);
}

/** Attach a detached tree on the directory or file open (O_PATH) on targetFd
 * (move_mount refuses a /proc/self/fd magic link as its target path). */
export function attachTreeAt(treeFd: number, targetFd: number, what: string): void {
  libc.moveMountTo(treeFd, targetFd, what);
}

/** "idmap" (this mount) or "ridmap" (and the mounts below it), runc's and crun's option names. */
export function idmapOption(m: Mount): 'idmap' | 'ridmap' | undefined {
  const o = m.options ?? [];
  return o.includes('ridmap') ? 'ridmap' : o.includes('idmap') ? 'idmap' : undefined;
}

export interface IdmapRequest {
  /** The rootfs, or the index in spec.mounts. */
  index: 'rootfs' | number;
  source: string;
  recursive: boolean;
  /** The mount's own maps; absent: the container's user namespace. */
  maps?: { uid: IdMapping[]; gid: IdMapping[] };
}

export function idmapRequests(spec: Spec, rootfs: string): IdmapRequest[] {
  const out: IdmapRequest[] = [];
  if (spec.annotations?.[ROOTFS_IDMAP_ANNOTATION] === 'true') out.push({ index: 'rootfs', source: rootfs, recursive: true });
  (spec.mounts ?? []).forEach((m, index) => {
    const opt = idmapOption(m);
    if (!opt || !m.source) return;
    const maps = m.uidMappings?.length || m.gidMappings?.length ? { uid: m.uidMappings ?? [], gid: m.gidMappings ?? [] } : undefined;
    out.push({ index, source: m.source, recursive: opt === 'ridmap', maps });
  });
  return out;
}

/** Rules a schema can't say: idmap is for bind mounts, and needs maps from somewhere. */
export function idmapProblems(spec: Spec, hasUserns: boolean): string[] {
  const problems: string[] = [];
  const rootIdmap = spec.annotations?.[ROOTFS_IDMAP_ANNOTATION];
  if (rootIdmap !== undefined && rootIdmap !== 'true' && rootIdmap !== 'false') problems.push(`/annotations/${ROOTFS_IDMAP_ANNOTATION} must be "true" or "false"`);
  const any = rootIdmap === 'true' || (spec.mounts ?? []).some((m) => idmapOption(m));
  if (any && !idmapSupported()) problems.push(`idmapped mounts need Linux 5.12 or later (this is ${release()})`);
  if (rootIdmap === 'true' && !hasUserns) problems.push(`/annotations/${ROOTFS_IDMAP_ANNOTATION} needs a user namespace in /linux/namespaces`);
  (spec.mounts ?? []).forEach((m, i) => {
    const opt = idmapOption(m);
    if (!opt) return;
    const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (!bind) problems.push(`/mounts/${i}/options: ${opt} is only supported on bind mounts`);
    const own = (m.uidMappings?.length ?? 0) > 0 && (m.gidMappings?.length ?? 0) > 0;
    if (!own && (m.uidMappings?.length || m.gidMappings?.length)) problems.push(`/mounts/${i}: uidMappings and gidMappings go together`);
    if (!hasUserns) problems.push(`/mounts/${i}/options: ${opt} is supported in containers with a user namespace`);
  });
  return problems;
}
