// `make stress`, soak: STRESS_SOAK_CYCLES (default 1,000) sequential lifecycles,
// alternating `run` (foreground, self-deleting) with create/start/kill/delete,
// counting state dirs, cgroups, mounts, processes and fds before, every 100
// cycles, and after. The counts must not grow: a leak of one thing per cycle
// shows up as a leak of hundreds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { Toyrun } from '../helpers';
import { footprint, footprintLeaks, runToyrun } from '../reliability';
import type { Spec } from '../../src/spec/types';

const CYCLES = Number(process.env.STRESS_SOAK_CYCLES ?? 1000);
const t = new Toyrun('stress-soak');
const PREFIX = `sk-${process.pid}`;

function rootEntries(): number {
  return readdirSync(t.root).length;
}

test(`${CYCLES} sequential run/delete cycles leave no mount, cgroup, state dir, process or fd behind`, async () => {
  const quick = t.bundle((s: Spec) => {
    (s.process as NonNullable<Spec['process']>).args = ['true'];
  });
  const sleeper = t.bundle((s: Spec) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  });
  // one warm-up lifecycle first: the engine opens a few fds of its own on its first spawn
  assert.is((await runToyrun(t, ['run', '--bundle', quick, `${PREFIX}-warmup`], 60000)).status, 0);
  const fdsBefore = readdirSync('/proc/self/fd').length;
  const before = footprint(t.root, PREFIX);
  assert.equal(footprintLeaks(before, fdsBefore), [], 'clean before the soak');
  const t0 = Date.now();
  for (let i = 0; i < CYCLES; i++) {
    const id = `${PREFIX}-${i}`;
    if (i % 2 === 0) {
      const r = await runToyrun(t, ['run', '--bundle', quick, id], 60000);
      assert.is(r.status, 0, `run ${id}: ${r.stderr}`);
    } else {
      for (const argv of [['create', '--bundle', sleeper, id], ['start', id], ['kill', id, '9'], ['delete', '--force', id]]) {
        const r = await runToyrun(t, argv, 60000);
        assert.is(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
      }
    }
    assert.is(rootEntries(), 0, `state root after cycle ${i}`);
    if ((i + 1) % 100 === 0 || i === CYCLES - 1) {
      const leaks = footprintLeaks(footprint(t.root, PREFIX), fdsBefore);
      assert.equal(leaks, [], `after ${i + 1} cycles`);
      console.log(`  ${i + 1} cycles, ${((Date.now() - t0) / 1000).toFixed(1)} s, leftovers 0, harness fds ${readdirSync('/proc/self/fd').length}`);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const after = footprint(t.root, PREFIX);
  const leaks = footprintLeaks(after, fdsBefore);
  console.log(`  FIGURE soak: ${CYCLES} cycles in ${seconds.toFixed(1)} s (${(seconds / CYCLES * 1000).toFixed(0)} ms per cycle); leftovers ${leaks.length}`);
  console.log(`  counts before/after: state dirs ${before.stateDirs.length}/${after.stateDirs.length}, cgroups ${before.cgroups.length}/${after.cgroups.length}, mounts ${before.mounts.length}/${after.mounts.length}, processes ${before.processes.length}/${after.processes.length}, fds ${fdsBefore}/${after.fds}`);
  assert.equal(leaks, []);
});

test.after(() => t.cleanup());
test.run();
