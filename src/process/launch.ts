// Launching a runtime process (the init, the exec helper) directly: from the
// sealed runtime, into the namespaces it must be born in, with its fds laid out
// by FdSlots. The user-namespace strategy is userns.ts.
import * as libc from '../linux/libc';
import { spawnIntoNamespaces, type ChildNamespace } from '../linux/spawn';
import { NSENTER } from '../linux/userns';
import { sealedArgv, sealRuntime } from '../linux/seal';
import { canSwitchBackPidNamespace } from '../linux/rootless';
import type { Role } from '../paths';
import { SyncChannel } from './channel';
import { FdSlots } from './fd-slots';

/** Start the runtime process `role` (init, exec-init) from the sealed
 * runtime (src/linux/seal.ts) as a first child in `namespaces` (see
 * spawnIntoNamespaces), its fds laid out by FdSlots (the sealed trees after the
 * sync pipe); returns the channel to it. `timeNamespace`: a path to join, or an
 * fd on one (a new one, src/process/timens-holder.ts), handed over after the others. */
export function spawnSynced(role: Role, preserveFds: number, namespaces: ChildNamespace[], timeNamespace?: string | { fd: number }): { pid: number; chan: SyncChannel } {
  if (namespaces.length > 0 && !canSwitchBackPidNamespace()) {
    // root of a user namespace (rootless podman): a throwaway stage 1 switches and exits
    return (require('./userns') as typeof import('./userns')).spawnThroughStage1(role, preserveFds, namespaces, timeNamespace);
  }
  const [parentRead, childWrite] = libc.pipe();
  const [childRead, parentWrite] = libc.pipe();
  const sealed = sealRuntime();
  try {
    const slots = new FdSlots(preserveFds, childWrite, childRead);
    const sealedFds = sealed.trees.map((t) => slots.add(t.fd));
    const argv = sealedArgv(sealed, sealedFds, role, [String(slots.syncW), String(slots.syncR)]);
    // setns(CLONE_NEWTIME) needs a single-threaded caller (timens_install: EUSERS), which
    // an engine never is: nsenter joins the time namespace, then execs the engine in it
    // (closed in the init at execve with every fd past --preserve-fds: src/linux/process.ts)
    const timePath = typeof timeNamespace === 'object' ? `/proc/self/fd/${slots.add(timeNamespace.fd)}` : timeNamespace;
    const [path, args] = timePath ? [NSENTER, [NSENTER, `--time=${timePath}`, '--', ...argv]] : [argv[0] as string, argv];
    const prepared = libc.prepareSpawn(path, args, [], slots.pairs(), '/', true);
    return { pid: spawnIntoNamespaces(prepared, namespaces), chan: new SyncChannel(parentRead, parentWrite) };
  } finally {
    sealed.close();
    libc.close(childWrite);
    libc.close(childRead);
  }
}
