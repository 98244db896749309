// Namespaces. In a multithreaded engine only the calling thread moves, so every
// unshare/setns here runs on the main thread and everything after it stays
// synchronous. PID and time namespaces only apply to children: the runtime
// switches them before spawning the init; the init handles the rest itself.
import { fstatSync, statSync } from 'node:fs';
import * as libc from './libc';
import { CLONE, O, AT_FDCWD } from './libc';
import type { Namespace, NamespaceType } from '../spec/types';
import { cause } from '../trace/record';

export const NS_CLONE_FLAG: Record<NamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** The name of each namespace under /proc/<pid>/ns/. */
export const NS_PROC_NAME: Record<NamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

export function findNamespace(nss: Namespace[] | undefined, type: NamespaceType): Namespace | undefined {
  return (nss ?? []).find((n) => n.type === type);
}

/** setns into the namespace at path. The mount namespace also needs this
 * thread to own its fs_struct (the kernel says EINVAL otherwise). */
export function joinNamespace(type: NamespaceType, path: string): void {
  // O_NONBLOCK: a FIFO given as the path must fail setns, not block open() forever
  const fd = libc.openat(AT_FDCWD, path, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
  try {
    // Already a member (nsenter joined it on the way into a user namespace): a second
    // setns would need privileges over its owner, which we no longer have.
    if (isCurrentNamespace(type, fd)) return;
    if (type === 'mount') libc.unshare(CLONE.FS);
    libc.setns(fd, NS_CLONE_FLAG[type], `${path} (${type})`);
  } finally {
    libc.close(fd);
  }
}

function isCurrentNamespace(type: NamespaceType, fd: number): boolean {
  const want = fstatSync(fd);
  const own = statSync(`/proc/self/ns/${NS_PROC_NAME[type]}`);
  return want.ino === own.ino && want.dev === own.dev;
}

/** Join the namespaces that have a path, create the others, except those in skip. */
export function enterNamespaces(nss: Namespace[] | undefined, skip: NamespaceType[]): void {
  const list = (nss ?? []).filter((n) => !skip.includes(n.type));
  const at = (ns: Namespace[]): string => ns.map((n) => `/linux/namespaces/${(nss ?? []).indexOf(n)}`).join(' ');
  for (const n of list) if (n.path) cause(at([n]), () => joinNamespace(n.type, n.path as string));
  const fresh = list.filter((n) => !n.path);
  const flags = fresh.reduce((acc, n) => acc | NS_CLONE_FLAG[n.type], 0);
  if (flags !== 0) cause(at(fresh), () => libc.unshare(flags));
}

/** An fd on the caller's own namespace of a type, to switch back later. */
export function openOwnNamespace(type: NamespaceType): number {
  return libc.openat(AT_FDCWD, `/proc/self/ns/${NS_PROC_NAME[type]}`, O.RDONLY | O.CLOEXEC);
}

export function restoreNamespace(type: NamespaceType, fd: number): void {
  try {
    libc.setns(fd, NS_CLONE_FLAG[type], `own ${type} namespace`);
  } finally {
    libc.close(fd);
  }
}
