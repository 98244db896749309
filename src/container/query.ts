// The read-only operations: state, list, ps (src/query.ts is their command line). Their stdout is parsed by callers
// (containerd decodes `ps --format json` and `list --format json`), so on
// success they print exactly the document and nothing else.
import type * as ChildProcess from 'node:child_process';
import { ContainerError, listIds, toOciState } from './store';
import { containerState, loadContainer } from './load';
import { cgroupDriver } from '../linux/cgroups/manager';
import { isRootless, pidNamespaceMembers } from '../linux/rootless';

import type { State } from '../spec/types';

export function stateText(root: string, id: string): string {
  return JSON.stringify(containerState(root, id), null, 2) + '\n';
}

export function listStates(root: string): State[] {
  const out: State[] = [];
  for (const id of listIds(root)) {
    try {
      const { rec, status } = loadContainer(root, id);
      out.push(toOciState(rec, status));
    } catch {
      // removed while we were listing
    }
  }
  return out;
}

export function listText(root: string, format: string, quiet: boolean): string {
  const states = listStates(root);
  if (quiet) return states.map((s) => s.id + '\n').join('');
  if (format === 'json') return JSON.stringify(states) + '\n';
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of states) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root']);
  return table(rows);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('') + '\n').join('');
}

export function psText(root: string, id: string, format: string, psArgs: string[]): string {
  // A stopped container is listed too (runc): its cgroup may still hold processes
  // (a shared PID namespace), and an empty one prints the bare table header.
  const { rec, doubts } = loadContainer(root, id);
  // a cgroup state.json names but the kernel does not confirm is never listed (src/container/trust.ts)
  if (doubts.length > 0 && Object.keys(rec.cgroup.paths).length === 0) throw new ContainerError(['container has no cgroup to list', ...doubts].join(': '));
  // rootless without a cgroup (src/linux/cgroups/rootless.ts): the init's PID namespace
  const pids = Object.keys(rec.cgroup.paths).length === 0 && isRootless() && rec.pidStartTime !== '' && rec.pid > 0
    ? pidNamespaceMembers(rec.pid) : cgroupDriver().pids(rec.cgroup);
  // runc encodes Go's nil slice: `null`, not `[]` (test/fixtures/runc-ps-stopped.json)
  if (format === 'json') return (pids.length === 0 ? 'null' : JSON.stringify(pids)) + '\n';
  // Table: ps(1)'s own output, keeping the header and the container's lines.
  const { execFileSync } = require('node:child_process') as typeof ChildProcess; // only the table form needs it
  const out = execFileSync(psBinary(), psArgs.length > 0 ? psArgs : ['-ef'], { encoding: 'utf8', env: { LC_ALL: 'C' } });
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const pidCol = header.trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw new Error(`ps: no PID column in ${JSON.stringify(header)}`);
  const want = new Set(pids.map(String));
  const keep = lines.slice(1).filter((l) => want.has(l.trim().split(/\s+/)[pidCol] ?? ''));
  return [header, ...keep].join('\n') + '\n';
}

function psBinary(): string {
  for (const p of ['/usr/bin/ps', '/bin/ps']) {
    try {
      require('node:fs').accessSync(p);
      return p;
    } catch {
      // try the next
    }
  }
  throw new Error('ps: /usr/bin/ps not found (install procps)');
}
