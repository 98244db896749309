// linux.memoryPolicy (runtime-spec 1.3): the NUMA memory policy of the
// container's processes, through set_mempolicy(2). A task's policy is inherited
// by fork and kept across execve, so the init (and the exec helper) set it on
// themselves just before exec.
import * as libc from './libc';
import type { MemoryPolicy } from '../spec/types';
import { parseCpuList } from './sched';

// include/uapi/linux/mempolicy.h
export const MPOL_MODES: Record<string, number> = {
  MPOL_DEFAULT: 0, MPOL_PREFERRED: 1, MPOL_BIND: 2, MPOL_INTERLEAVE: 3, MPOL_LOCAL: 4, MPOL_PREFERRED_MANY: 5, MPOL_WEIGHTED_INTERLEAVE: 6,
};
export const MPOL_FLAGS: Record<string, number> = { MPOL_F_STATIC_NODES: 1 << 15, MPOL_F_RELATIVE_NODES: 1 << 14, MPOL_F_NUMA_BALANCING: 1 << 13 };
const NO_NODES = new Set(['MPOL_DEFAULT', 'MPOL_LOCAL']);

export function memoryPolicyProblems(mp: MemoryPolicy | undefined): string[] {
  if (!mp) return [];
  const out: string[] = [];
  const nodes = mp.nodes ? parseCpuList(mp.nodes) : [];
  if (mp.nodes && !nodes) out.push(`/linux/memoryPolicy/nodes: "${mp.nodes}" is not a node list such as 0-3,7`);
  // set_mempolicy(2): MPOL_DEFAULT and MPOL_LOCAL take no nodes; the others need at least one
  // (MPOL_PREFERRED alone accepts an empty set, meaning local allocation)
  if (NO_NODES.has(mp.mode) && nodes && nodes.length > 0) out.push(`/linux/memoryPolicy/nodes must be empty for ${mp.mode}`);
  if (!NO_NODES.has(mp.mode) && mp.mode !== 'MPOL_PREFERRED' && (!nodes || nodes.length === 0)) out.push(`/linux/memoryPolicy/nodes is required for ${mp.mode}`);
  return out;
}

/** The nodemask as unsigned longs, and the maxnode argument for it. */
export function nodemask(nodes: number[]): { mask: Buffer; maxnode: number } {
  const words = Math.max(1, Math.ceil((Math.max(-1, ...nodes) + 1) / 64));
  const mask = Buffer.alloc(words * 8);
  for (const n of nodes) mask[n >> 3] = (mask[n >> 3] as number) | (1 << (n & 7));
  // the kernel reads maxnode - 1 bits (mm/mempolicy.c get_nodes)
  return { mask, maxnode: words * 64 + 1 };
}

export function applyMemoryPolicy(mp: MemoryPolicy | undefined): void {
  if (!mp) return;
  const flags = (mp.flags ?? []).reduce((m, f) => m | (MPOL_FLAGS[f] as number), 0);
  const nodes = mp.nodes ? (parseCpuList(mp.nodes) ?? []) : [];
  const mode = (MPOL_MODES[mp.mode] as number) | flags;
  if (nodes.length === 0) libc.setMempolicy(mode, null, 0);
  else {
    const { mask, maxnode } = nodemask(nodes);
    libc.setMempolicy(mode, mask, maxnode);
  }
}
