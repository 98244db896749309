// linux.intelRdt (runtime-spec 1.3): Intel RDT / AMD QoS through the resctrl
// filesystem (Documentation/arch/x86/resctrl.rst). A container is a CTRL_MON
// group — a directory of the resctrl mount named by closID, or by the container
// id when closID is unset — with a `schemata` file (one line per resource:
// "L3:0=7f0;1=1f", "MB:0=20;1=70") and a `tasks` file; enableMonitoring adds a
// MON group mon_groups/<container-id>/ under it. Tasks are moved by writing
// their pid to `tasks` ("0": the writer), the CTRL_MON group first (a MON group
// only takes tasks of its parent's CLOSID: EINVAL otherwise).
//
// The functions take the resctrl root as an argument: the unit tests stand a
// temporary directory in for /sys/fs/resctrl. Where resctrl is not mounted, the
// spec requires an error: create refuses the config before it makes anything.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IntelRdt } from '../spec/types';

export interface RdtRecord {
  /** The CTRL_MON group directory (the resctrl root itself for closID "/"). */
  dir: string;
  /** Made by us for an unset closID: removed on delete (the spec: only then). */
  removeOnDelete: boolean;
  /** The MON group (enableMonitoring): always removed on delete. */
  monDir?: string;
}

/** Where resctrl is mounted in our mount namespace, from /proc/self/mountinfo. */
export function findResctrl(mountinfo?: string): string | undefined {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.split(' ')[0] === 'resctrl') return pre?.split(' ')[4]?.replace(/\\040/g, ' ');
  }
  return undefined;
}

export function intelRdtProblems(rdt: IntelRdt | undefined, resctrlRoot: string | undefined): string[] {
  if (!rdt) return [];
  if (!resctrlRoot) return ['/linux/intelRdt: not supported on this host: no resctrl filesystem is mounted (needs an Intel RDT or AMD QoS CPU, CONFIG_X86_CPU_RESCTRL, and `mount -t resctrl resctrl /sys/fs/resctrl`)'];
  const out: string[] = [];
  const schemata = schemataLines(rdt);
  if (rdt.closID && rdt.closID !== '/' && schemata.length === 0 && !existsSync(join(resctrlRoot, rdt.closID))) {
    out.push(`/linux/intelRdt/closID: no pre-configured CLOS ${rdt.closID} in ${resctrlRoot}`);
  }
  return out;
}

/** The lines for `schemata`, in the spec's order: l3CacheSchema, memBwSchema, then schemata. */
export function schemataLines(rdt: IntelRdt): string[] {
  return [rdt.l3CacheSchema, rdt.memBwSchema, ...(rdt.schemata ?? [])].filter((l): l is string => !!l && l.trim() !== '');
}

/** "L3:0=7f0;1=1f" → {"L3": {"0": 0x7f0, "1": 0x1f}}: the kernel prints masks zero-padded,
 * so lines are compared by value (hex for cache masks, decimal for MB). */
export function parseSchemata(lines: string[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const line of lines) {
    const m = /^\s*([A-Za-z0-9_]+)\s*:(.*)$/.exec(line);
    if (!m) continue;
    const res = (m[1] as string).toUpperCase();
    const doms = out.get(res) ?? new Map<string, number>();
    for (const part of (m[2] as string).split(';')) {
      const [dom, val] = part.split('=').map((x) => x.trim());
      if (dom === undefined || val === undefined || dom === '') continue;
      doms.set(dom, res.startsWith('MB') ? Number(val) : parseInt(val, 16));
    }
    out.set(res, doms);
  }
  return out;
}

/** The domains `want` gives, with different values in `have`. */
export function schemataMismatch(want: string[], have: string[]): string[] {
  const w = parseSchemata(want), h = parseSchemata(have);
  const bad: string[] = [];
  for (const [res, doms] of w) {
    for (const [dom, v] of doms) if (h.get(res)?.get(dom) !== v) bad.push(`${res}:${dom}`);
  }
  return bad;
}

/** Make or check the container's CTRL_MON group and write its schemata, as the spec's rules say. */
export function setupIntelRdt(root: string, containerId: string, rdt: IntelRdt): RdtRecord {
  const lines = schemataLines(rdt);
  const closID = rdt.closID;
  const dir = !closID ? join(root, containerId) : closID === '/' ? root : join(root, closID);
  const rec: RdtRecord = { dir, removeOnDelete: false };
  if (!closID) {
    // our own group, named after the container: it must not exist yet
    mkdirSync(dir);
    rec.removeOnDelete = true;
  } else if (closID !== '/' && !existsSync(dir)) {
    if (lines.length === 0) throw new Error(`linux.intelRdt.closID: no pre-configured CLOS ${closID} in ${root}`);
    mkdirSync(dir); // made for the schemata, but named by the caller: kept on delete (the spec)
  } else if (closID !== '/' && lines.length > 0) {
    // an existing group is shared: it must already say what we would write
    const have = readFileSync(join(dir, 'schemata'), 'utf8').split('\n');
    const bad = schemataMismatch(lines, have);
    if (bad.length > 0) throw new Error(`linux.intelRdt: CLOS ${closID} exists with a different schemata (${bad.join(', ')}): ${have.join(' | ').trim()}`);
    return withMonitoring(rec, containerId, rdt);
  }
  try {
    if (lines.length > 0) writeFileSync(join(dir, 'schemata'), lines.join('\n') + '\n');
    return withMonitoring(rec, containerId, rdt);
  } catch (e) {
    removeIntelRdt(rec);
    throw e;
  }
}

function withMonitoring(rec: RdtRecord, containerId: string, rdt: IntelRdt): RdtRecord {
  if (!rdt.enableMonitoring) return rec;
  const mon = join(rec.dir, 'mon_groups', containerId);
  try {
    // ENOSPC when the RMIDs are used up, and no mon_groups without monitoring: errors, as the spec requires
    mkdirSync(mon, { recursive: true });
  } catch (e) {
    throw new Error(`linux.intelRdt.enableMonitoring: cannot create the MON group ${mon}: ${(e as Error).message}`, { cause: e });
  }
  rec.monDir = mon;
  return rec;
}

/** The tasks files a process joins, in order: the CTRL_MON group, then the MON group. */
export function rdtTasksFiles(rec: RdtRecord): string[] {
  return [join(rec.dir, 'tasks'), ...(rec.monDir ? [join(rec.monDir, 'tasks')] : [])];
}

export function joinIntelRdt(rec: RdtRecord, pid: number): void {
  for (const f of rdtTasksFiles(rec)) writeFileSync(f, String(pid));
}

/** Delete: the MON group always, the CTRL_MON group only if we named it. rmdir on
 * resctrl moves the group's tasks back to the parent (no need to empty it first). */
export function removeIntelRdt(rec: RdtRecord, rmdir: (dir: string) => void = rmdirSync): void {
  for (const d of [rec.monDir, rec.removeOnDelete ? rec.dir : undefined]) {
    if (!d) continue;
    try {
      rmdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
