// Rootless mode: toyrun run by an ordinary user (or by root inside a user
// namespace that is not the host's, as rootless podman runs its runtime).
//
// What changes, as in runc:
//  - the default state root is $XDG_RUNTIME_DIR/toyrun (runc: $XDG_RUNTIME_DIR/runc);
//  - cgroups the caller cannot write are skipped, with a warning for every
//    resource that was asked for and not applied (src/linux/cgroups/rootless.ts);
//  - the user namespace maps are written by the kernel's unprivileged rule (one
//    line, the caller's own id) or through newuidmap/newgidmap (src/linux/rootless-idmap.ts);
//  - the runtime's files are sealed from inside a private user namespace
//    (src/linux/rootless-seal.ts): the host's mount API needs CAP_SYS_ADMIN.
// `--rootless true|false|auto` (default auto) chooses, as runc's flag does.
import { fstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import * as libc from './libc';
import { join } from 'node:path';

export type RootlessFlag = 'true' | 'false' | 'auto';

let flag: RootlessFlag = 'auto';

/** The global --rootless value; anything else is a usage error (runc: "invalid --rootless value"). */
export function setRootlessFlag(value: string | undefined): void {
  const v = value === undefined || value === '' ? 'true' : value;
  if (v !== 'true' && v !== 'false' && v !== 'auto') throw new Error(`invalid --rootless value ${JSON.stringify(value)}: true, false or auto`);
  flag = v;
}

export function rootlessFlag(): RootlessFlag {
  return flag;
}

/** Our own uid_map, read once: a process never changes user namespace (setns
 * into one is refused to a multithreaded process, and an engine always is). */
let ownUidMap: string | null | undefined;

/** Whether we run in a user namespace other than the host's (whose uid_map maps every id to itself). */
export function inNonInitialUserNamespace(uidMap?: string): boolean {
  let text = uidMap;
  if (text === undefined) {
    if (ownUidMap === undefined) {
      try {
        ownUidMap = readFileSync('/proc/self/uid_map', 'utf8');
      } catch {
        ownUidMap = null;
      }
    }
    if (ownUidMap === null) return false;
    text = ownUidMap;
  }
  const lines = text.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  return !(lines.length === 1 && lines[0]?.[0] === 0 && lines[0][1] === 0 && lines[0][2] === 4294967295);
}

/** runc's auto rule: rootless when not root, or root of a user namespace (whose
 * cgroup files are the host root's, seen as nobody's). */
export function isRootless(): boolean {
  if (flag === 'true') return true;
  if (flag === 'false') return false;
  return (process.geteuid?.() ?? 0) !== 0 || inNonInitialUserNamespace();
}

/** An ordinary user on the host: no capability outside the user namespaces it makes. */
export function isUnprivileged(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

export const SYSTEM_ROOT = '/run/toyrun';

/** Why the default state root can't be chosen, or where it is. runc's rule:
 * $XDG_RUNTIME_DIR/runc when XDG_RUNTIME_DIR is set and we are not root (or
 * root of a user namespace whose $USER is not root). */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): { root: string } | { error: string } {
  const xdg = env.XDG_RUNTIME_DIR;
  const euid = process.geteuid?.() ?? 0;
  const honour = euid !== 0 || (inNonInitialUserNamespace() && env.USER !== 'root');
  if (xdg && honour) return { root: join(xdg, 'toyrun') };
  if (euid !== 0) {
    return { error: 'rootless: XDG_RUNTIME_DIR is not set, so there is no default state directory for a non-root user ' +
      '(/run/toyrun is root\'s): set XDG_RUNTIME_DIR (e.g. /run/user/$(id -u)) or give --root DIR' };
  }
  return { root: SYSTEM_ROOT };
}

/**
 * The processes of a container that has no cgroup (rootless, no delegated
 * subtree): those in its init's PID namespace, found through /proc (ours: the
 * same user). With the host's PID namespace shared, only the init itself.
 */
export function pidNamespaceMembers(initPid: number): number[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return [];
  }
  if (ns === readlinkSync('/proc/self/ns/pid')) return [initPid];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) === ns) out.push(Number(d));
    } catch {
      // exited, or not ours to look at
    }
  }
  return out.sort((a, b) => a - b);
}

const NS_GET_USERNS = 0xb701;

/**
 * Whether this process may setns() back into its own PID namespace after
 * switching its children's elsewhere: that needs CAP_SYS_ADMIN over the user
 * namespace owning it. Root of a user namespace (rootless podman runs its
 * runtime so) lives in the host's PID namespace, owned by the host's user
 * namespace: the way back is closed, and a throwaway stage must do the switch.
 */
export function canSwitchBackPidNamespace(): boolean {
  if (!inNonInitialUserNamespace()) return true;
  let pidNs = -1, owner = -1;
  try {
    pidNs = libc.openat(libc.AT_FDCWD, '/proc/self/ns/pid', libc.O.RDONLY | libc.O.CLOEXEC);
    owner = libc.ioctl(pidNs, NS_GET_USERNS, 0, 'ioctl(NS_GET_USERNS)');
    return fstatSync(owner).ino === statSync('/proc/self/ns/user').ino;
  } catch {
    return false; // EPERM: the owner is above our user namespace
  } finally {
    if (owner >= 0) libc.close(owner);
    if (pidNs >= 0) libc.close(pidNs);
  }
}
