// linux.sysctl: only keys that belong to a namespace the container owns may be
// written; anything else would change the host for everyone.
import { writeFileSync } from 'node:fs';
import { findNamespace } from './namespaces';
import type { Spec } from '../spec/types';

// The IPC namespace owns kernel.msg*, kernel.shm*, kernel.sem (and their *_next_id) and fs.mqueue.*.
function isIpcKey(key: string): boolean {
  return /^kernel\.(msg|shm)/.test(key) || key === 'kernel.sem' || key === 'kernel.sem_next_id' || key.startsWith('fs.mqueue.');
}
const UTS_KEYS = new Set(['kernel.hostname', 'kernel.domainname']);

/** Why a key is refused, or undefined when it is namespaced in this container. */
export function sysctlRefusal(spec: Spec, key: string): string | undefined {
  const nss = spec.linux?.namespaces;
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

/** Runs after pivot_root: /proc/sys is the container's. */
export function applySysctls(spec: Spec): void {
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    const refusal = sysctlRefusal(spec, key);
    if (refusal) throw new Error(refusal);
    const path = '/proc/sys/' + key.replace(/\./g, '/');
    try {
      writeFileSync(path, value);
    } catch (e) {
      throw new Error(`sysctl ${key}=${value}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
}
