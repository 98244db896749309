// What an ordinary user's create needs from the host, said before anything is
// made (src/linux/rootless.ts says what rootless mode is).
import type { Spec } from '../spec/types';
import { findNamespace } from '../linux/namespaces';
import { isRootless, isUnprivileged } from '../linux/rootless';
import { rootlessIdMapProblems } from '../linux/rootless-idmap';
import { readFileSync } from 'node:fs';

/** Problems with JSON paths; [] when root or when nothing is missing. */
export function rootlessProblems(spec: Spec): string[] {
  const problems: string[] = [];
  const user = findNamespace(spec.linux?.namespaces, 'user');
  if (user && !user.path && isRootless() && maxUserNamespaces() === 0) {
    problems.push('/linux/namespaces: user namespaces are disabled here (sysctl user.max_user_namespaces is 0): a rootless container needs one');
  }
  if (!isUnprivileged()) return problems;
  if (!user) {
    // every other namespace, and every mount, needs capabilities an ordinary user
    // has only in a user namespace of its own (runc: "rootless container requires user namespaces")
    problems.push('/linux/namespaces: a rootless container needs a user namespace ({"type": "user"} with uidMappings and gidMappings; see toyrun spec --rootless)');
  }
  problems.push(...rootlessIdMapProblems(spec, true));
  return problems;
}

function maxUserNamespaces(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
  } catch {
    return undefined;
  }
}
