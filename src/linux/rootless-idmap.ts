// User namespace maps written by an ordinary user.
//
// The kernel lets an unprivileged writer map exactly one id: its own (one line,
// size 1; for gid_map only after setgroups is "deny"). Anything more (runc's
// rootless configs under podman map 0 to the user and 1..65536 to a range of
// subordinate ids) goes through shadow's setuid helpers newuidmap/newgidmap
// (Debian package uidmap), which check each range against /etc/subuid and
// /etc/subgid. The ranges are checked here first, so that a missing line is
// named with the JSON path that asks for it.
// node:child_process costs every command that loads it milliseconds: required where used
import type * as ChildProcess from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { IdMapping, Spec } from '../spec/types';
import { findNamespace } from './namespaces';

export const NEWUIDMAP = '/usr/bin/newuidmap';
export const NEWGIDMAP = '/usr/bin/newgidmap';

interface Range {
  start: number;
  count: number;
}

/** The caller's lines of /etc/subuid or /etc/subgid ("name:start:count" or "uid:start:count"). */
export function subordinateRanges(text: string, name: string, id: number): Range[] {
  return text.split('\n').flatMap((l) => {
    const [who, start, count] = l.trim().split(':');
    if (who !== name && who !== String(id)) return [];
    const r = { start: Number(start), count: Number(count) };
    return Number.isInteger(r.start) && Number.isInteger(r.count) && r.count > 0 ? [r] : [];
  });
}

/** Whether the kernel takes this map from an unprivileged writer as it is. */
export function ownIdOnly(maps: IdMapping[], own: number): boolean {
  return maps.length === 1 && maps[0]?.size === 1 && maps[0].hostID === own;
}

function ids(): { uid: number; gid: number; name: string } {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  // /etc/passwd by uid, as shadow's helpers look the user up (getpwuid); without
  // an entry, subuid lines by number still match
  const entry = (readOr('/etc/passwd') ?? '').split('\n').map((l) => l.split(':')).find((f) => f[2] === String(uid));
  return { uid, gid, name: entry?.[0] ?? String(uid) };
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Why an ordinary user can't have these maps, with JSON paths; [] if it can. */
export function rootlessIdMapProblems(spec: Spec, unprivileged: boolean): string[] {
  const user = findNamespace(spec.linux?.namespaces, 'user');
  if (!unprivileged || !user || user.path) return [];
  const me = ids();
  const problems: string[] = [];
  const kinds = [
    { at: '/linux/uidMappings', maps: spec.linux?.uidMappings ?? [], own: me.uid, file: '/etc/subuid', helper: NEWUIDMAP, what: 'uid', flag: '--add-subuids' },
    { at: '/linux/gidMappings', maps: spec.linux?.gidMappings ?? [], own: me.gid, file: '/etc/subgid', helper: NEWGIDMAP, what: 'gid', flag: '--add-subgids' },
  ];
  for (const k of kinds) {
    if (ownIdOnly(k.maps, k.own)) continue;
    if (!existsSync(k.helper)) {
      problems.push(`${k.at} maps more than your own ${k.what} (${k.own}): that needs ${k.helper} (Debian package uidmap), which is missing`);
      continue;
    }
    const ranges = subordinateRanges(readOr(k.file) ?? '', me.name, me.uid);
    if (ranges.length === 0) {
      problems.push(`${k.at} maps more than your own ${k.what} (${k.own}), and ${k.file} has no range for user ${me.name}: ` +
        `add one as root, e.g. usermod ${k.flag} 100000-165535 ${me.name}`);
      continue;
    }
    k.maps.forEach((m, i) => {
      const fits = (m.hostID === k.own && m.size === 1) || ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);
      if (!fits) {
        problems.push(`${k.at}/${i}: host ${k.what}s ${m.hostID}-${m.hostID + m.size - 1} are neither your own ${k.what} (${k.own}) ` +
          `nor inside your ${k.file} ranges (${ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ')})`);
      }
    });
  }
  return problems;
}

/** For an unprivileged writer: true when the maps need newuidmap/newgidmap (written then). */
export function writeIdMapsWithHelpers(pid: number, uidMap: IdMapping[], gidMap: IdMapping[]): boolean {
  if ((process.geteuid?.() ?? 0) === 0) return false;
  const me = ids();
  if (ownIdOnly(uidMap, me.uid) && ownIdOnly(gidMap, me.gid)) return false;
  // newgidmap first would be refused nothing; the order is the kernel's rule for the direct writes
  for (const [helper, maps] of [[NEWUIDMAP, uidMap], [NEWGIDMAP, gidMap]] as const) {
    const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
    const { spawnSync } = require('node:child_process') as typeof ChildProcess; // multi-range maps only
    const r = spawnSync(helper, args, { encoding: 'utf8', env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error) throw new Error(`${helper}: ${r.error.message}`, { cause: r.error });
    if (r.status !== 0) throw new Error(`${helper} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  }
  return true;
}
