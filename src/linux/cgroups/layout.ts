// Where a container's cgroup lives. The layout is read from /proc/self/mountinfo
// and /proc/self/cgroup, never assumed:
//   v1      one hierarchy per controller (cpu, memory, name=systemd, ...)
//   hybrid  v1 hierarchies plus a cgroup2 mount (often /sys/fs/cgroup/unified) with no controllers
//   v2      one unified hierarchy
// plannedDirs is the one place that turns a cgroupsPath into directories: both
// drivers' create() make exactly what it names, and delete, trust and the
// frozen-cgroup check use it before (or without) a create.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseMountInfo } from '../mountinfo';
import { CgroupError } from './files';
import type { Hierarchy } from './types';

/** Parse cgroup mounts from a mountinfo text (exported for unit tests). */
export function parseCgroupMounts(mountinfo: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const { fstype, superOptions, root, mountpoint } of parseMountInfo(mountinfo)) {
    if (fstype === 'cgroup2') {
      out.push({ controllers: ['unified'], mountpoint, root: root || '/', version: 2 });
    } else if (fstype === 'cgroup') {
      const known = superOptions.split(',').filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
      if (known.length > 0) out.push({ controllers: known, mountpoint, root: root || '/', version: 1 });
    }
  }
  // the same hierarchy may be mounted twice (e.g. inside a container): keep the first
  const seen = new Set<string>();
  return out.filter((h) => {
    const k = h.controllers.join(',');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids',
  'hugetlb', 'net_cls', 'net_prio', 'perf_event', 'rdma', 'misc',
]);


/** /proc/<pid>/cgroup → controller key → path (v2 entries under "unified"). */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, hid, ctrls, path] = m as unknown as [string, string, string, string];
    if (hid === '0' && ctrls === '') out.unified = path;
    else for (const c of ctrls.split(',')) out[c] = path;
  }
  return out;
}

let cachedHierarchies: Hierarchy[] | undefined;
export function hostHierarchies(): Hierarchy[] {
  cachedHierarchies ??= parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  return cachedHierarchies;
}

export function hostCgroupVersion(hs = hostHierarchies()): 1 | 2 {
  return hs.some((h) => h.version === 1) ? 1 : 2;
}

/** Resolve linux.cgroupsPath the way runc does:
 *  - absent: a default per container
 *  - absolute: relative to each hierarchy's root
 *  - relative: relative to the runtime's own cgroup
 *  - "slice:prefix:name" (systemd form; no systemd here): mapped to /slice/prefix-name.scope
 */
export function resolveCgroupPath(cgroupsPath: string | undefined, id: string, systemd: boolean, ownPath?: string): string {
  let p = cgroupsPath ?? '';
  if (p === '' && systemd) p = `system.slice:toyrun:${id}`; // runc: system.slice:runc:<id>
  if (p === '') return `/toyrun/${id}`;
  const parts = p.split(':');
  if (systemd || (parts.length === 3 && !p.startsWith('/'))) {
    if (parts.length !== 3) throw new CgroupError(`cgroupsPath ${JSON.stringify(p)}: expected "slice:prefix:name" with --systemd-cgroup`);
    const [slice, prefix, name] = parts as [string, string, string];
    p = `/${expandSlice(slice || 'system.slice')}/${prefix ? `${prefix}-${name}` : name}.scope`;
    return p.replace(/\/+/g, '/');
  }
  if (p.includes('..')) throw new CgroupError(`cgroupsPath ${JSON.stringify(p)} must not contain ".."`);
  // Without ownPath a relative path stays relative: on v1 each hierarchy has
  // its own "own cgroup", so the driver joins it per hierarchy (as runc does).
  if (p.startsWith('/')) return p;
  return ownPath === undefined ? p.replace(/^\.\//, '') : join(ownPath, p);
}

/** Where a relative cgroupsPath lands in one hierarchy: below the cgroup the
 * runtime itself is in there (/proc/self/cgroup, keyed by controller). */
export function joinOwnCgroup(path: string, key: string, own: Record<string, string> = ownCgroups()): string {
  return path.startsWith('/') ? path : join(own[key] ?? '/', path);
}

/** Where a cgroupsPath lands on a unified (v2-only) host, as runc's fs2 does: an
 * absolute path below the root; a relative one below the *parent* of the runtime's
 * own cgroup. The own cgroup holds processes (the runtime, its caller's service),
 * and a cgroup with processes can neither enable domain controllers for a child
 * ("no internal processes", EBUSY) nor take threaded ones without turning into a
 * "domain threaded" root that refuses domain children (ENOTSUP). */
export function v2CgroupPath(path: string, own: Record<string, string> = ownCgroups()): string {
  return path.startsWith('/') ? path : join(dirname(own.unified ?? '/'), path);
}

/** Our own cgroup's directory on the host's cgroup2 mount (undefined without one). */
export function ownUnifiedDir(): string | undefined {
  const h = hostHierarchies().find((x) => x.version === 2);
  const own = ownCgroups().unified;
  return h && own !== undefined ? join(h.mountpoint, relToMount(h, own)) : undefined;
}

export function ownCgroups(): Record<string, string> {
  try {
    return parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return {};
  }
}

/** systemd nests "a-b-c.slice" as a.slice/a-b.slice/a-b-c.slice. */
function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice === '-.slice') return slice;
  const name = slice.slice(0, -'.slice'.length);
  const parts = name.split('-');
  return parts.map((_, i) => parts.slice(0, i + 1).join('-') + '.slice').join('/');
}

/** A path of the hierarchy (as /proc/self/cgroup names it) relative to where
 * the hierarchy is mounted. */
export function relToMount(h: Hierarchy, path: string): string {
  // A hierarchy mounted at a sub-path (root != "/") can only reach paths below it.
  if (h.root !== '/' && path.startsWith(h.root + '/')) return path.slice(h.root.length);
  return path;
}

/** The directories a driver's create(path) makes, by controller key, computed
 * without touching anything: the one place that turns a cgroupsPath into
 * directories (both drivers create what it names). On a unified host, the
 * unified mount's directory (a relative path below the parent of our own cgroup,
 * as runc's fs2); on v1/hybrid hosts, one per hierarchy (a relative path below
 * our own cgroup there). A hierarchy mounted at a sub-path (its mountinfo root is
 * not "/", as inside a container) reaches the path from that root down. */
export function plannedDirs(path: string, hierarchies: Hierarchy[] = hostHierarchies(), own = ownCgroups()): Record<string, string> {
  const paths: Record<string, string> = {};
  const unified = hierarchies.find((h) => h.version === 2);
  if (hostCgroupVersion(hierarchies) === 2 && unified) return { unified: join(unified.mountpoint, relToMount(unified, v2CgroupPath(path, own))) };
  for (const h of hierarchies) {
    const dir = join(h.mountpoint, relToMount(h, joinOwnCgroup(path, h.controllers[0] as string, own)));
    for (const c of h.controllers) paths[c] = dir;
  }
  return paths;
}
