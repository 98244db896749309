// `make stress`, concurrency: 100 parallel creates with distinct ids (creates/s
// reported), 20 parallel creates of one id, and start/kill/delete/state racing
// on one container, many rounds. Sizes: STRESS_PARALLEL, STRESS_SAME_ID, STRESS_RACE_ROUNDS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { leftovers, Toyrun } from '../helpers';
import { badOutcome, footprint, footprintLeaks, procState, runToyrun } from '../reliability';
import type { Spec } from '../../src/spec/types';

const PARALLEL = Number(process.env.STRESS_PARALLEL ?? 100);
const SAME_ID = Number(process.env.STRESS_SAME_ID ?? 20);
const RACE_ROUNDS = Number(process.env.STRESS_RACE_ROUNDS ?? 30);

const t = new Toyrun('stress-conc');
const PREFIX = `sc-${process.pid}`;
// taken after the first test: the engine opens a few fds of its own on its first spawn
let fdsAtStart = 0;
const sleeper = (spec: Spec): void => {
  (spec.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
};

test(`${PARALLEL} parallel creates with distinct ids all succeed and all delete cleanly`, async () => {
  const bundle = t.bundle(sleeper);
  const ids = Array.from({ length: PARALLEL }, (_, i) => `${PREFIX}-p-${i}`);
  const t0 = Date.now();
  const created = await Promise.all(ids.map((id) => runToyrun(t, ['create', '--bundle', bundle, id], 300000)));
  const seconds = (Date.now() - t0) / 1000;
  const failed = created.map((r, i) => (r.status === 0 ? '' : `${ids[i]}: ${r.status} ${r.stderr}`)).filter(Boolean);
  assert.equal(failed, []);
  console.log(`  FIGURE creates/s under parallel load: ${(PARALLEL / seconds).toFixed(1)} (${PARALLEL} parallel creates in ${seconds.toFixed(2)} s)`);
  for (const id of ids) assert.is(t.state(id).status, 'created', id);
  const t1 = Date.now();
  const deleted = await Promise.all(ids.map((id) => runToyrun(t, ['delete', '--force', id], 300000)));
  console.log(`  FIGURE deletes/s under parallel load: ${(PARALLEL / ((Date.now() - t1) / 1000)).toFixed(1)}`);
  deleted.forEach((r, i) => assert.is(r.status, 0, `delete ${ids[i]}: ${r.stderr}`));
  const leaks = ids.flatMap((id) => leftovers(t, id));
  console.log(`  FIGURE leftovers after parallel create/delete: ${leaks.length}`);
  assert.equal(leaks, []);
  fdsAtStart = readdirSync('/proc/self/fd').length;
});

test(`${SAME_ID} parallel creates of one id: exactly one wins, the others fail with "already exists"`, async () => {
  const bundle = t.bundle(sleeper);
  for (let round = 0; round < 5; round++) {
    const id = `${PREFIX}-same-${round}`;
    const results = await Promise.all(Array.from({ length: SAME_ID }, () => runToyrun(t, ['create', '--bundle', bundle, id], 120000)));
    const winners = results.filter((r) => r.status === 0);
    assert.is(winners.length, 1, results.map((r) => `${r.status} ${r.stderr}`).join('\n'));
    for (const r of results.filter((x) => x.status !== 0)) {
      assert.is(badOutcome(r), undefined);
      assert.match(r.stderr, /already exists/);
    }
    const st = t.state(id);
    assert.is(st.status, 'created');
    assert.ok(procState(st.pid as number) !== undefined, 'winner init alive');
    t.ok(['start', id]);
    assert.is(t.state(id).status, 'running');
    t.ok(['delete', '--force', id]);
    assert.equal(leftovers(t, id), []);
  }
});

test(`start/kill/delete/state racing on one container, ${RACE_ROUNDS} rounds: never a torn state.json or a half-deleted container`, async () => {
  const bundle = t.bundle(sleeper);
  const ops = [['start'], ['state'], ['kill', '9'], ['kill', '15'], ['delete'], ['delete', '--force'], ['state'], ['start'], ['kill', '--all', '9'], ['state']];
  let seen = { created: 0, running: 0, paused: 0, stopped: 0, gone: 0 };
  for (let round = 0; round < RACE_ROUNDS; round++) {
    const id = `${PREFIX}-race-${round}`;
    t.ok(['create', '--bundle', bundle, id]);
    // rotate the order so that every command gets to go first now and then
    const order = ops.map((_, i) => ops[(i + round) % ops.length] as string[]);
    const argvs = order.map((op) => {
      const [cmd, ...rest] = op as [string, ...string[]];
      if (cmd === 'kill') return rest[0] === '--all' ? ['kill', '--all', id, rest[1] as string] : ['kill', id, rest[0] as string];
      if (cmd === 'delete') return ['delete', ...rest, id];
      return [cmd, id];
    });
    const results = await Promise.all(argvs.map((a) => runToyrun(t, a, 60000)));
    results.forEach((r, i) => {
      const what = (argvs[i] as string[]).join(' ');
      assert.is(badOutcome(r), undefined, what);
      if (argvs[i]?.[0] === 'state') {
        if (r.status === 0) {
          const s = (JSON.parse(r.stdout) as { status: string }).status;
          // "paused": `kill --all` freezes the cgroup while it signals (as runc does), and
          // state reads the freezer without the lock: for that moment it is the kernel's truth
          assert.ok(['created', 'running', 'paused', 'stopped'].includes(s), `${what}: ${s}`);
          seen = { ...seen, [s]: seen[s as keyof typeof seen] + 1 };
        } else {
          assert.match(r.stderr, /does not exist/, what);
          seen.gone++;
        }
      }
      if (argvs[i]?.join(' ') === `delete --force ${id}`) assert.is(r.status, 0, `${what}: ${r.stderr}`);
    });
    // whatever the order, delete --force ran: the container must be gone, completely
    const st = await runToyrun(t, ['state', id]);
    assert.match(st.stderr, /does not exist/, `after round ${round}: ${st.stdout}`);
    assert.equal(leftovers(t, id), [], `round ${round}`);
  }
  console.log(`  states seen while racing: ${JSON.stringify(seen)}`);
});

test('nothing left behind by this file, and no fd growth in the harness', () => {
  const leaks = footprintLeaks(footprint(t.root, PREFIX), fdsAtStart, 2);
  console.log(`  FIGURE leftovers (concurrency): ${leaks.length}`);
  assert.equal(leaks, []);
});

test.after(() => t.cleanup());
test.run();
