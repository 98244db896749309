// `make stress`, hostile input: STRESS_FUZZ_CASES (default 2,000) mutations of
// bundles/busybox's config.json and of the podman/containerd fixtures (wrong
// types, huge arrays, deep nesting, invalid UTF-8, giant strings, "..", NULs,
// symlinks, FIFOs), then fuzzed container ids and command lines. Every case must
// end in success or a clear error, never a crash trace, a hang or a leftover.
// Replay with TOYRUN_FUZZ_SEED=<seed>.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Toyrun } from '../helpers';
import {
  badOutcome, checkHostileId, footprint, footprintLeaks, fuzzBases, fuzzOutcomes, HOSTILE_IDS, makeFuzzEnv, mutate, pool, rng, runFuzzCase, startToyrun,
  type FuzzFinding,
} from '../reliability';
import type { Spec } from '../../src/spec/types';

const CASES = Number(process.env.STRESS_FUZZ_CASES ?? 2000);
const ID_CASES = Number(process.env.STRESS_FUZZ_IDS ?? 300);
const FLAG_CASES = Number(process.env.STRESS_FUZZ_FLAGS ?? 300);
const SEED = Number(process.env.TOYRUN_FUZZ_SEED ?? Date.now() % 1000000);
const t = new Toyrun('stress-fuzz');
const PREFIX = `sz-${process.pid}`;
let fuzzed = 0;

test(`${CASES} mutated config.json files (seed ${SEED})`, async () => {
  const env = makeFuzzEnv(t);
  const bases = fuzzBases(env);
  const rand = rng(SEED);
  const cases = Array.from({ length: CASES }, (_, i) => {
    const base = bases[i % bases.length] as (typeof bases)[number];
    const c = mutate(base.doc, rand, env);
    return { ...c, name: `#${i} ${base.name} ${c.name}` };
  });
  const t0 = Date.now();
  const findings: FuzzFinding[] = (await pool(cases.map((c, i) => () => runFuzzCase(t, c, `${PREFIX}-${i}`)), 2)).flat();
  fuzzed += CASES;
  console.log(`  FIGURE config cases fuzzed: ${CASES} in ${((Date.now() - t0) / 1000).toFixed(1)} s, findings ${findings.length}`);
  console.log(`  outcomes: ${JSON.stringify(fuzzOutcomes)}`);
  assert.equal(findings.map((f) => `${f.caseName}: ${f.problem}`), []);
});

function randomId(rand: () => number): string {
  const alphabets = ['abcxyz019', 'ABC_+.-', './\\:*?"<>| \t\n', 'üé😀\u202e\u0001\u007f', '$(){}`;&'];
  const len = Math.floor(rand() ** 2 * 300);
  let s = '';
  for (let i = 0; i < len; i++) {
    const a = alphabets[Math.floor(rand() * alphabets.length)] as string;
    s += [...a][Math.floor(rand() * [...a].length)];
  }
  return s;
}

test(`${HOSTILE_IDS.length + ID_CASES} hostile container ids: refused clearly or handled, never escaping --root`, async () => {
  const bundle = t.bundle((s: Spec) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  });
  const outside = mkdtempSync('/run/toyrun-test/sz-outside-');
  const root = join(outside, 'root');
  mkdirSync(root);
  writeFileSync(join(outside, 'sentinel'), '');
  const rand = rng(SEED + 1);
  const ids = [...HOSTILE_IDS, ...Array.from({ length: ID_CASES }, () => randomId(rand))];
  let accepted = 0;
  try {
    for (const id of ids) if (await checkHostileId(root, outside, bundle, id)) accepted++;
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
  fuzzed += ids.length;
  console.log(`  FIGURE id cases fuzzed: ${ids.length} (${accepted} accepted and deleted)`);
});

test(`${FLAG_CASES} fuzzed command lines: success or a clear error, nothing left`, async () => {
  const bundle = t.bundle((s: Spec) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
  });
  const rand = rng(SEED + 2);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const values = ['', '-1', '0', '1', '3', '99999', 'abc', '/nonexistent/x', '/dev/null', bundle, '/', '..', 'x'.repeat(5000), '=', '--', 'KILL', '9', 'json', 'table'];
  const flags = [
    '--bundle', '-b', '--pid-file', '--preserve-fds', '--console-socket', '--no-pivot', '--no-new-keyring', '--force', '-f', '--all', '-a',
    '--format', '--detach', '-d', '--tty', '--process', '--bogus', '-', '--', '--no-bogus', '--help', '--version',
  ];
  const commands = ['create', 'start', 'state', 'kill', 'delete', 'list', 'ps', 'run', 'spec', 'features', 'exec', 'pause', 'resume', 'update', 'events', 'bogus', ''];
  let n = 0;
  for (let i = 0; i < FLAG_CASES; i++) {
    const id = `${PREFIX}-f${i}`;
    const argv: string[] = [pick(commands)];
    for (let k = Math.floor(rand() * 5); k > 0; k--) {
      const f = pick(flags);
      argv.push(rand() < 0.3 ? `${f}=${pick(values)}` : f);
      if (rand() < 0.5) argv.push(pick(values));
    }
    // `run` would run `sleep 1000` in the foreground: always detach it
    if (argv[0] === 'run') argv.push('--detach');
    // `spec` writes config.json into --bundle or the cwd: keep it out of real bundles
    if (argv[0] === 'spec') argv.push('--bundle', t.tempDir());
    if (argv[0] === 'create' || argv[0] === 'run') argv.push('--bundle', bundle);
    argv.push(id);
    const r = await startToyrun(t.root, argv, { timeoutMs: 30000 }).done;
    // exec fails with 255, as runc's does
    assert.is(badOutcome(r, argv[0] === 'exec' ? 255 : 1), undefined, JSON.stringify(argv).slice(0, 300));
    n++;
    // whatever was created, by whatever id, goes now (dot entries are toyrun's own
    // caches, such as .seccomp: no id starts with a dot)
    for (const left of readdirSync(t.root).filter((e) => !e.startsWith('.'))) {
      const d = await startToyrun(t.root, ['delete', '--force', left], { timeoutMs: 30000 }).done;
      assert.is(d.status, 0, d.stderr);
      // ids here may be anything ("1", "/"): look for exactly their state dir and cgroups
      assert.not.ok(existsSync(join(t.root, left)), `state dir of ${left}`);
      for (const ctrl of readdirSync('/sys/fs/cgroup')) assert.not.ok(existsSync(join('/sys/fs/cgroup', ctrl, 'toyrun', left)), `cgroup of ${left}`);
    }
  }
  fuzzed += n;
  console.log(`  FIGURE command lines fuzzed: ${n}`);
});

test('nothing left behind by this file', () => {
  const leaks = footprintLeaks(footprint(t.root, PREFIX));
  console.log(`  FIGURE total cases fuzzed: ${fuzzed}; leftovers found: ${leaks.length}`);
  assert.equal(leaks, []);
});

test.after(() => t.cleanup());
test.run();
