// Resource semantics that runtime-spec 1.3 settled, shared by the v1 and v2 drivers:
//  - pids.limit: -1 (any negative) is "max"; 0 is a real limit of zero tasks
//    (the 1.3 note). Configs older than 1.3 keep runc 1.1's reading: 0 was "unset".
//  - hugepageLimits: the reservation limit (hugetlb.<size>.rsvd.*) where the kernel
//    has it, as well as the fault limit, so that mmap fails instead of a SIGBUS later.
//  - memory.checkBeforeUpdate: `update` refuses a limit below the current usage
//    (v1's kernel refuses it anyway; on v2 it would OOM-kill instead).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Memory, Resources } from '../spec/types';

export function pidsMax(limit: number): string {
  return limit < 0 ? 'max' : String(limit);
}

/** Is `version` (a config's ociVersion) at least 1.<minor>? */
export function atLeast(version: string | undefined, minor: number): boolean {
  const m = /^1\.(\d+)\./.exec(version ?? '');
  return m !== null && Number(m[1]) >= minor;
}

/** Resources as this config's spec version means them, for the drivers (which read 1.3). */
export function resourcesForVersion(res: Resources | undefined, ociVersion: string | undefined): Resources | undefined {
  if (!res?.pids || res.pids.limit !== 0 || atLeast(ociVersion, 3)) return res;
  return { ...res, pids: { limit: -1 } };
}

/** The hugetlb files to write for one page size in dir: the reservation limit first
 * (where the kernel has it), then the fault limit. v1 and v2 name them differently. */
export function hugetlbFiles(dir: string, pageSize: string, v2: boolean): string[] {
  const rsvd = v2 ? `hugetlb.${pageSize}.rsvd.max` : `hugetlb.${pageSize}.rsvd.limit_in_bytes`;
  const fault = v2 ? `hugetlb.${pageSize}.max` : `hugetlb.${pageSize}.limit_in_bytes`;
  return existsSync(join(dir, rsvd)) ? [rsvd, fault] : [fault];
}

/** checkBeforeUpdate: the new limit must not be below what the cgroup uses now. */
export function memoryUpdateProblem(memoryDir: string | undefined, version: 1 | 2 | undefined, m: Memory | undefined): string | undefined {
  if (!m?.checkBeforeUpdate || m.limit === undefined || m.limit <= 0 || !memoryDir) return undefined;
  let usage: number;
  try {
    usage = Number(readFileSync(join(memoryDir, version === 2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8').trim());
  } catch {
    return undefined;
  }
  return usage > m.limit ? `linux.resources.memory.limit: ${m.limit} is below the container's current memory usage (${usage}) and checkBeforeUpdate is set` : undefined;
}
