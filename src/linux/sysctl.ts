// linux.sysctl: only keys that belong to a namespace the container owns may be
// written; anything else would change the host for everyone.
import { findNamespace } from './namespaces';
import { writeProcFile } from './procfs';
import type { Spec } from '../spec/types';

// The IPC namespace owns kernel.msg*, kernel.shm*, kernel.sem (and their *_next_id) and fs.mqueue.*.
function isIpcKey(key: string): boolean {
  return /^kernel\.(msg|shm)/.test(key) || key === 'kernel.sem' || key === 'kernel.sem_next_id' || key.startsWith('fs.mqueue.');
}
const UTS_KEYS = new Set(['kernel.hostname', 'kernel.domainname']);

/** Why a key is refused, or undefined when it is namespaced in this container. */
export function sysctlRefusal(spec: Spec, key: string): string | undefined {
  const nss = spec.linux?.namespaces;
  // "net.ipv4/../../kernel/core_pattern" starts like a namespaced key and names a host-wide one
  if (sysctlPath(key).split('/').some((p) => p === '' || p === '.' || p === '..')) {
    return `sysctl ${JSON.stringify(key)}: expected names separated by dots (no empty, "." or ".." parts)`;
  }
  if (isIpcKey(key)) {
    return findNamespace(nss, 'ipc') ? undefined : `sysctl ${key} needs an ipc namespace`;
  }
  if (key.startsWith('net.')) {
    return findNamespace(nss, 'network') ? undefined : `sysctl ${key} needs a network namespace`;
  }
  if (UTS_KEYS.has(key)) {
    return findNamespace(nss, 'uts') ? undefined : `sysctl ${key} needs a uts namespace`;
  }
  return `sysctl ${key} is not namespaced: it would change the host (refused)`;
}

export function checkSysctls(spec: Spec): string[] {
  return Object.keys(spec.linux?.sysctl ?? {}).map((k) => sysctlRefusal(spec, k)).filter((r): r is string => r !== undefined);
}

/** The file of a key below the procfs root ("net.ipv4.ip_forward" -> "sys/net/ipv4/ip_forward"). */
export function sysctlPath(key: string): string {
  return 'sys/' + key.replace(/\./g, '/');
}

/** Runs after pivot_root, through procFd (src/linux/procfs.ts): never through the
 * path /proc/sys, which whoever can write the rootfs may have redirected. */
export function applySysctls(spec: Spec, procFd: () => number): void {
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    const refusal = sysctlRefusal(spec, key);
    if (refusal) throw new Error(refusal);
    try {
      writeProcFile(procFd(), sysctlPath(key), value);
    } catch (e) {
      throw new Error(`sysctl ${key}=${value}: ${(e as Error).message}`, { cause: e });
    }
  }
}
