// User-namespace stage 1 (the stages: src/process/userns.ts): the engine that
// nsenter started inside the container's user namespace, as uid 0 with every
// capability there. It switches the PID and time namespaces for its child,
// spawns stage 2 (the init or the exec helper), reports it and exits.
import { readFileSync } from 'node:fs';
import * as libc from '../linux/libc';
import { spawnIntoNamespaces, type ChildNamespace } from '../linux/spawn';
import { attachTrace, traceError, traceStage } from '../trace/record';
import { SyncChannel } from '../process/channel';
import type { Stage1Config } from '../process/plan';

/** Stage 1, in the engine started by nsenter: uid 0 with every capability in the user namespace. */
export function runUserNamespaceStage1(configJson: string): void {
  // Not ptrace-able by processes already in this user namespace (a joined one may have some).
  libc.prctl(libc.PR.SET_DUMPABLE, 0);
  const c = JSON.parse(configJson) as Stage1Config;
  attachTrace(c.trace, 'userns stage 1');
  traceStage('user namespace stage 1');
  const chan = new SyncChannel(c.syncR, c.syncW);
  try {
    const uidMap = readFileSync('/proc/self/uid_map', 'utf8');
    const gidMap = readFileSync('/proc/self/gid_map', 'utf8');
    // posix_spawn passes every fd without close-on-exec: the user namespace fd
    // (and whatever nsenter left open) stop here.
    libc.closeRangeCloexec(c.lastFd + 1);
    const fds = Array.from({ length: c.lastFd + 1 }, (_, i): [number, number] => [i, i]);
    const prepared = libc.prepareSpawn(c.argv[0] as string, c.argv, [], fds, '/', true);
    // joined first, then the new ones; no way back (we exit next), and the first
    // child becomes PID 1 of a new PID namespace
    const namespaces: ChildNamespace[] = [...c.join, ...c.unshare.map((type) => ({ type }))];
    let pid: number;
    try {
      pid = spawnIntoNamespaces(prepared, namespaces, { comeBack: false });
    } catch (e) {
      const joined = c.join.find((n) => e instanceof libc.SysError && e.path?.startsWith(n.path));
      if (!joined) throw e;
      throw new Error(`${joined.type} namespace ${joined.path}: ${(e as Error).message}: from inside the user namespace, only ` +
        `${joined.type} namespaces it can reach (its own, or a container's sharing it) can be joined`, { cause: e });
    }
    chan.send({ type: 'stage2', pid, uidMap, gidMap });
  } catch (e) {
    traceError(e);
    chan.send({ type: 'error', msg: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  }
  process.exit(0);
}
