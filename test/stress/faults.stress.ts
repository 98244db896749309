// `make stress`, faults: SIGKILL of create at each failpoint and at random
// moments, of delete half-way, of the init before start; a full disk under
// --root; a bundle deleted under created containers; a reboot simulated by
// killing every container process. Afterwards `state` must say something true
// ("stopped", or "does not exist"; "created"/"running" only if that is what the
// kernel shows) and `delete --force` must leave nothing at all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_ROOTFS, leftovers, sh, Toyrun } from '../helpers';
import {
  badOutcome, copyable, CREATE_STAGES, footprint, footprintLeaks, procState, rng, runStoppedAt, runToyrun, startToyrun, waitFor,
} from '../reliability';
import type { Spec } from '../../src/spec/types';

const ROUNDS = Number(process.env.STRESS_FAULT_ROUNDS ?? 10);
const RANDOM_KILLS = Number(process.env.STRESS_RANDOM_KILLS ?? 100);
const t = new Toyrun('stress-faults');
const PREFIX = `sf-${process.pid}`;
// taken after the first test: the engine opens a few fds of its own on its first spawn
let fdsAtStart = 0;
let cases = 0;
const sleeper = (spec: Spec): void => {
  (spec.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
};

async function statusOf(id: string): Promise<string> {
  const r = await runToyrun(t, ['state', id]);
  if (r.status !== 0) return /does not exist/.test(r.stderr) ? 'does not exist' : `error: ${r.stderr}`;
  return (JSON.parse(r.stdout) as { status: string }).status;
}

/** delete --force, then nothing of the container may be left (its init may take a moment to exit). */
async function deleteAndCheck(id: string): Promise<void> {
  const d = await runToyrun(t, ['delete', '--force', id]);
  assert.is(d.status, 0, `delete --force ${id}: ${d.stderr}`);
  assert.is(await statusOf(id), 'does not exist');
  await waitFor(() => leftovers(t, id).length === 0, `${id} to leave nothing`, 10000).catch(() => undefined);
  assert.equal(leftovers(t, id), [], id);
  cases++;
  if (fdsAtStart === 0) fdsAtStart = readdirSync('/proc/self/fd').length;
}

for (const stage of CREATE_STAGES) {
  test(`SIGKILL of create at ${stage}, ${ROUNDS} times: state "stopped", delete --force cleans`, async () => {
    const bundle = t.bundle(sleeper);
    for (let i = 0; i < ROUNDS; i++) {
      const id = `${PREFIX}-${stage.replace(':', '-')}-${i}`;
      const c = await runStoppedAt(t, ['create', '--bundle', bundle, id], stage);
      assert.is(await statusOf(id), 'creating');
      process.kill(c.pid, 'SIGKILL');
      assert.is((await c.done).signal, 'SIGKILL');
      assert.is(await statusOf(id), 'stopped');
      // the other commands refuse it with the words callers match on
      const kill = await runToyrun(t, ['kill', id, '9']);
      assert.match(kill.stderr, /not running/);
      const start = await runToyrun(t, ['start', id]);
      assert.is(start.status, 1);
      await deleteAndCheck(id);
    }
  });
}

test(`SIGKILL of create at ${RANDOM_KILLS} random moments: whatever it reached, state is true and delete --force cleans`, async () => {
  const bundle = t.bundle(sleeper);
  const rand = rng(Number(process.env.TOYRUN_FAULT_SEED ?? 7));
  const reached: Record<string, number> = {};
  for (let i = 0; i < RANDOM_KILLS; i++) {
    const id = `${PREFIX}-rnd-${i}`;
    t.track(id);
    const c = startToyrun(t.root, ['create', '--bundle', bundle, id]);
    await new Promise((r) => setTimeout(r, Math.floor(rand() * 90)));
    // what had it reached? (read before the kill: the stage it dies in)
    let stage = 'nothing';
    try {
      const rec = JSON.parse(readFileSync(join(t.root, id, 'state.json'), 'utf8')) as { pid: number; creator?: unknown; cgroup: { paths: object } };
      stage = !rec.creator ? 'finished' : rec.pid > 0 ? 'init spawned' : Object.keys(rec.cgroup.paths).length > 0 ? 'cgroup' : 'claimed';
    } catch {
      stage = existsSync(join(t.root, id)) ? 'claimed' : 'nothing';
    }
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // exited already
    }
    const r = await c.done;
    reached[stage] = (reached[stage] ?? 0) + 1;
    const status = await statusOf(id);
    if (r.signal === 'SIGKILL') assert.ok(['stopped', 'does not exist', 'created'].includes(status), `${id} killed at ${stage}: ${status}`);
    else assert.is(status, r.status === 0 ? 'created' : 'does not exist', `${id} exited ${r.status}`);
    if (status === 'created') assert.ok(procState(JSON.parse((await runToyrun(t, ['state', id])).stdout).pid as number), 'a "created" init is alive');
    await deleteAndCheck(id);
  }
  console.log(`  random kills by stage reached: ${JSON.stringify(reached)}`);
});

test(`SIGKILL of delete half-way, ${ROUNDS} times per stage: a second delete --force finishes the job`, async () => {
  const bundle = t.bundle(sleeper);
  for (const stage of ['delete:killed', 'delete:cgroup-removed']) {
    for (let i = 0; i < ROUNDS; i++) {
      const id = `${PREFIX}-del-${stage.replace(':', '-')}-${i}`;
      assert.is((await runToyrun(t, ['create', '--bundle', bundle, id])).status, 0);
      if (i % 2 === 0) assert.is((await runToyrun(t, ['start', id])).status, 0);
      const d = await runStoppedAt(t, ['delete', '--force', id], stage);
      process.kill(d.pid, 'SIGKILL');
      await d.done;
      assert.is(await statusOf(id), 'stopped');
      await deleteAndCheck(id);
    }
  }
});

test(`SIGKILL of the init before start, ${ROUNDS} times: "stopped", start fails, delete --force cleans`, async () => {
  const bundle = t.bundle(sleeper);
  for (let i = 0; i < ROUNDS; i++) {
    const id = `${PREFIX}-init-${i}`;
    assert.is((await runToyrun(t, ['create', '--bundle', bundle, id])).status, 0);
    const pid = JSON.parse((await runToyrun(t, ['state', id])).stdout).pid as number;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => procState(pid) === undefined || procState(pid) === 'Z', `init ${pid} to die`);
    assert.is(await statusOf(id), 'stopped');
    const start = await runToyrun(t, ['start', id]);
    assert.is(start.status, 1);
    assert.is(badOutcome(start), undefined);
    await deleteAndCheck(id);
  }
});

test('a full disk under --root, at every size from 4 to 64 KiB: clear ENOSPC errors, nothing left, state true', async () => {
  const bundle = t.bundle(sleeper);
  let enospc = 0;
  for (let kib = 4; kib <= 64; kib += 4) {
    const root = mkdtempSync('/run/toyrun-test/sf-full-');
    const m = sh('/bin/mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', root]);
    assert.is(m.status, 0, m.stderr);
    try {
      const ids: string[] = [];
      // fill it with containers until create fails
      for (let i = 0; i < 40; i++) {
        const id = `${PREFIX}-full-${kib}-${i}`;
        const r = await startToyrun(root, ['create', '--bundle', bundle, id]).done;
        assert.is(badOutcome(r), undefined, `create ${id}`);
        if (r.status !== 0) {
          assert.match(r.stderr, /ENOSPC|no space/i, id);
          enospc++;
          assert.ok(!existsSync(join(root, id)), `failed create left ${id}`);
          break;
        }
        ids.push(id);
      }
      // a full disk must not break the others: state is readable, start either works or says why
      for (const id of ids) {
        const s = await startToyrun(root, ['start', id]).done;
        assert.is(badOutcome(s), undefined, `start ${id}`);
        const st = await startToyrun(root, ['state', id]).done;
        assert.is(st.status, 0, st.stderr);
        assert.is((JSON.parse(st.stdout) as { status: string }).status, 'running', `${id} after start on a full disk`);
      }
      for (const id of ids) {
        const d = await startToyrun(root, ['delete', '--force', id]).done;
        assert.is(d.status, 0, d.stderr);
        cases++;
      }
      assert.equal(readdirSync(root), [], `${kib} KiB root after delete`);
    } finally {
      sh('/bin/umount', [root]);
      rmSync(root, { recursive: true, force: true });
    }
  }
  assert.ok(enospc > 0, 'the disk never filled up');
  assert.equal(footprintLeaks(footprint(t.root, `${PREFIX}-full`)), []);
});

test(`bundle deleted under ${ROUNDS} created containers: state is true, start and delete work`, async () => {
  const bundles: string[] = [];
  const ids: string[] = [];
  const spec = JSON.parse(readFileSync(join(t.bundle(sleeper), 'config.json'), 'utf8')) as Spec;
  spec.root = { path: 'rootfs', readonly: true };
  for (let i = 0; i < ROUNDS; i++) {
    const bundle = mkdtempSync('/tmp/toyrun-doomed-');
    cpSync(BUSYBOX_ROOTFS, join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true, filter: copyable });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const id = `${PREFIX}-doomed-${i}`;
    assert.is((await runToyrun(t, ['create', '--bundle', bundle, id])).status, 0);
    bundles.push(bundle);
    ids.push(id);
  }
  for (const b of bundles) rmSync(b, { recursive: true, force: true });
  for (const [i, id] of ids.entries()) {
    assert.is(await statusOf(id), 'created');
    if (i % 2 === 0) {
      const s = await runToyrun(t, ['start', id]);
      assert.is(badOutcome(s), undefined);
      assert.ok(['running', 'stopped'].includes(await statusOf(id)));
    }
    await deleteAndCheck(id);
  }
});

test('a simulated reboot: every container process killed at once, in every state; state says "stopped", delete --force cleans', async () => {
  const bundle = t.bundle(sleeper);
  const ids = Array.from({ length: 12 }, (_, i) => `${PREFIX}-reboot-${i}`);
  for (const id of ids) assert.is((await runToyrun(t, ['create', '--bundle', bundle, id])).status, 0);
  for (const id of ids.slice(0, 8)) assert.is((await runToyrun(t, ['start', id])).status, 0);
  // and two creates caught in the middle
  const midway = [`${PREFIX}-reboot-mid-0`, `${PREFIX}-reboot-mid-1`];
  const stopped = await Promise.all(midway.map((id, i) => runStoppedAt(t, ['create', '--bundle', bundle, id], CREATE_STAGES[i + 1] as string)));
  const all = [...ids, ...midway];
  // the "reboot": SIGKILL everything in the containers' cgroups, and the stopped creates
  for (const c of stopped) process.kill(c.pid, 'SIGKILL');
  for (const id of all) {
    for (const l of leftovers(t, id).filter((x) => x.startsWith('process '))) {
      try {
        process.kill(Number(l.slice('process '.length)), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const id of all) assert.is(await statusOf(id), 'stopped', id);
  for (const id of all) await deleteAndCheck(id);
});

test('nothing left behind by this file, and no fd growth in the harness', () => {
  const leaks = footprintLeaks(footprint(t.root, PREFIX), fdsAtStart, 2);
  console.log(`  FIGURE fault cases checked: ${cases}; leftovers found: ${leaks.length}`);
  assert.equal(leaks, []);
});

test.after(() => t.cleanup());
test.run();
