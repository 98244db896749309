// The probe for test/integration/pid-window.test.ts: a collection inside the
// PID-namespace window of src/linux/spawn.ts (unshare(CLONE_NEWPID) until the
// switch back), where the kernel refuses this thread any new thread.
// Usage: bun test/pid-window.ts collect            a full collection inside the window
//        bun test/pid-window.ts spawn PRE INSIDE   PRE objects allocated first (the young
//                                                   generation filling up), INSIDE more
//                                                   inside spawnIntoNamespaces' window
import * as libc from '../src/linux/libc';
import { NS_CLONE_FLAG, openOwnNamespace, restoreNamespace } from '../src/linux/namespaces';
import { spawnIntoNamespaces } from '../src/linux/spawn';

const [mode, pre, inside] = [process.argv[2], Number(process.argv[3] ?? 0), Number(process.argv[4] ?? 0)];
// Allocation without a hot loop: JSON.parse builds the objects natively. (A JavaScript
// loop inside the window would be compiled by the engine's JIT, whose worker threads
// also start lazily: a different hazard, kept out of the window by running no JavaScript there.)
const json = (n: number): string => JSON.stringify(Array.from({ length: n }, (_, i) => ({ i, s: `x${i}` })));

if (mode === 'collect') {
  // the hazard itself: JavaScriptCore starts its GC helper threads lazily, at the first
  // collection that needs them; inside the window the kernel refuses them (EINVAL)
  const own = openOwnNamespace('pid');
  libc.unshare(NS_CLONE_FLAG.pid);
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
  restoreNamespace('pid', own);
} else if (mode === 'spawn') {
  const live: unknown[] = [JSON.parse(json(pre))];
  const text = json(inside);
  const prepared = libc.prepareSpawn('/bin/true', ['/bin/true'], [], [], '/');
  // beforeSpawn runs inside the window: the engine's own allocations there, magnified
  const pid = spawnIntoNamespaces(prepared, [{ type: 'pid' }], { beforeSpawn: () => void live.push(JSON.parse(text)) });
  const [, status] = libc.waitpid(pid, 0);
  if (status !== 0) throw new Error(`/bin/true: wait status ${status}`);
} else {
  throw new Error(`usage: pid-window.ts collect | spawn PRE INSIDE`);
}
process.stdout.write('survived\n');
