// The PID-namespace window (src/linux/spawn.ts spawnIntoNamespaces): between
// unshare(CLONE_NEWPID) and the switch back the kernel refuses the calling thread
// any new thread (copy_process: CLONE_THREAD with pid_ns_for_children not its
// own is EINVAL), and a collection that starts one of the engine's lazily
// started GC helper threads there aborts the CLI in the middle of a create.
// The defence (startCollectorThreads) is a full collection before the first
// window, which starts those threads while the kernel still allows them. The
// attack: fill the heap to every level up to several young generations, then
// allocate inside the window (far more than the real window, which runs only
// native calls). Without the defence the engine (Bun 1.4.5) aborted at 24000 and
// 28000 objects before, every time; with it, it may never.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { deadline, REPO } from '../helpers';

const PROBE = join(REPO, 'test', 'pid-window.ts');
const probe = (args: string[]): { status: number | null; signal: string | null; out: string } => {
  const r = spawnSync(process.execPath, [PROBE, ...args], { encoding: 'utf8', timeout: deadline(30000) });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}`.trim().slice(-300) };
};

test('the hazard is real: a collection inside the PID-namespace window kills the engine', () => {
  const r = probe(['collect']);
  assert.is(r.signal, 'SIGABRT', `the engine was to abort, not exit ${r.status}: ${r.out}`);
});

test('spawnIntoNamespaces: no heap level lets a collection inside the window abort the engine', () => {
  const failures: string[] = [];
  for (let pre = 0; pre <= 160000; pre += 4000) {
    const r = probe(['spawn', String(pre), '20000']);
    if (r.status !== 0 || !r.out.endsWith('survived')) failures.push(`${pre} objects before: ${r.signal ?? r.status} ${r.out}`);
  }
  assert.equal(failures, []);
});

test.run();
