// Reliability, the cheap parts (the full runs are `make stress`, test/stress/):
// parallel creates, a same-id race, commands racing on one container, SIGKILL
// of create at each stage and of the init, a full state disk, a deleted bundle,
// and a short schema-driven fuzz of config.json, ids and flags. Every test ends
// by counting what its containers left on the host: state dirs, cgroups,
// mounts, processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { deadline, BUSYBOX_ROOTFS, leftovers, sh, Toyrun, TOYRUN, uniqueId } from '../helpers';
import {
  badOutcome, checkHostileId, copyable, CREATE_STAGES, createStoppedAt, footprint, footprintLeaks, fuzzBases, HOSTILE_IDS, makeFuzzEnv, mutate, pool, procState,
  rng, runFuzzCase, runToyrun, waitFor, type FuzzFinding,
} from '../reliability';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('reliability');
const PREFIX = `rel-${process.pid}`;
// taken after the first test: the engine opens a few fds of its own on its first spawn
let fdsAtStart = 0;

const sleeper = (spec: Spec): void => {
  (spec.process as NonNullable<Spec['process']>).args = ['sleep', '1000'];
};

function statusOf(id: string): string {
  const r = t.run(['state', id]);
  if (r.status !== 0) return r.stderr.includes('does not exist') ? 'does not exist' : `error: ${r.stderr}`;
  return String((JSON.parse(r.stdout) as { status: string }).status);
}

function assertNoLeftovers(id: string): void {
  assert.equal(leftovers(t, id), [], `leftovers of ${id}`);
}

test('8 parallel creates with distinct ids all succeed, start, and delete cleanly', async () => {
  const bundle = t.bundle(sleeper);
  const ids = Array.from({ length: 8 }, (_, i) => `${PREFIX}-par-${i}`);
  const created = await Promise.all(ids.map((id) => runToyrun(t, ['create', '--bundle', bundle, id])));
  created.forEach((r, i) => assert.is(r.status, 0, `create ${ids[i]}: ${r.stderr}`));
  for (const id of ids) assert.is(statusOf(id), 'created');
  const started = await Promise.all(ids.map((id) => runToyrun(t, ['start', id])));
  started.forEach((r, i) => assert.is(r.status, 0, `start ${ids[i]}: ${r.stderr}`));
  for (const id of ids) assert.is(statusOf(id), 'running');
  const deleted = await Promise.all(ids.map((id) => runToyrun(t, ['delete', '--force', id])));
  deleted.forEach((r, i) => assert.is(r.status, 0, `delete ${ids[i]}: ${r.stderr}`));
  for (const id of ids) assertNoLeftovers(id);
  fdsAtStart = readdirSync('/proc/self/fd').length;
});

test('5 parallel creates of one id: exactly one wins, the others say "already exists", the winner is intact', async () => {
  const bundle = t.bundle(sleeper);
  const id = `${PREFIX}-same`;
  const results = await Promise.all(Array.from({ length: 5 }, () => runToyrun(t, ['create', '--bundle', bundle, id])));
  const winners = results.filter((r) => r.status === 0);
  assert.is(winners.length, 1, results.map((r) => `${r.status} ${r.stderr}`).join('\n'));
  for (const r of results.filter((x) => x.status !== 0)) {
    assert.is(r.status, 1);
    assert.match(r.stderr, /already exists/);
  }
  const st = t.state(id);
  assert.is(st.status, 'created');
  assert.is(procState(st.pid as number) !== undefined, true, 'the winner\'s init is alive');
  t.ok(['start', id]);
  assert.is(statusOf(id), 'running');
  t.ok(['delete', '--force', id]);
  assertNoLeftovers(id);
});

test('start, kill, state and delete racing on one container: state.json stays whole, nothing half-deleted', async () => {
  const bundle = t.bundle(sleeper);
  for (let round = 0; round < 3; round++) {
    const id = `${PREFIX}-race-${round}`;
    t.ok(['create', '--bundle', bundle, id]);
    const calls = [
      ['start', id], ['state', id], ['kill', id, '9'], ['state', id], ['delete', '--force', id], ['state', id], ['start', id], ['kill', id, '15'],
    ];
    const results = await Promise.all(calls.map((c) => runToyrun(t, c)));
    results.forEach((r, i) => {
      const what = `${calls[i]?.join(' ')}`;
      assert.is(badOutcome(r), undefined, what);
      if (calls[i]?.[0] === 'state' && r.status === 0) {
        const s = JSON.parse(r.stdout) as { status: string };
        assert.ok(['created', 'running', 'stopped'].includes(s.status), `${what}: ${s.status}`);
      }
      if (r.status !== 0) assert.match(r.stderr, /does not exist|not running|stopped|cannot start|already/, what);
    });
    assert.is(results[4]?.status, 0, 'delete --force always succeeds');
    assert.is(statusOf(id), 'does not exist');
    assertNoLeftovers(id);
  }
});

for (const stage of CREATE_STAGES) {
  test(`SIGKILL of create at ${stage}: state says "stopped", delete --force removes everything`, async () => {
    const bundle = t.bundle(sleeper);
    const id = uniqueId(`${PREFIX}-kill`);
    const c = await createStoppedAt(t, bundle, id, stage);
    // while stopped there, the create is in progress and says so
    assert.is(statusOf(id), 'creating');
    process.kill(c.pid, 'SIGKILL');
    const r = await c.done;
    assert.is(r.signal, 'SIGKILL');
    assert.is(statusOf(id), 'stopped');
    const start = t.run(['start', id]);
    assert.is(start.status, 1);
    assert.match(start.stderr, /stopped/);
    t.ok(['delete', '--force', id]);
    assert.is(statusOf(id), 'does not exist');
    // the init (if it was spawned) must not survive its create
    await waitFor(() => leftovers(t, id).length === 0, `${id} to leave nothing`, 10000).catch(() => undefined);
    assertNoLeftovers(id);
  });
}

test('SIGKILL of the init before start: "stopped", start fails clearly, delete --force cleans', () => {
  const id = uniqueId(`${PREFIX}-init`);
  t.ok(['create', '--bundle', t.bundle(sleeper), id]);
  const pid = t.state(id).pid as number;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10000;
  while (statusOf(id) !== 'stopped' && Date.now() < deadline) sh('/bin/sleep', ['0.01']);
  assert.is(statusOf(id), 'stopped');
  const start = t.run(['start', id]);
  assert.is(start.status, 1);
  assert.match(start.stderr, /stopped|gone/);
  t.ok(['delete', '--force', id]);
  assertNoLeftovers(id);
});

test('a full disk under --root: create fails with ENOSPC and leaves nothing; delete --force still works', () => {
  const root = mkdtempSync('/run/toyrun-test/full-');
  // 8 KiB: the id dir fits, state.json (written whole, then renamed) does not fit twice
  const m = sh('/bin/mount', ['-t', 'tmpfs', '-o', 'size=8k,nr_inodes=64', 'tmpfs', root]);
  assert.is(m.status, 0, m.stderr);
  try {
    writeFileSync(join(root, 'filler'), Buffer.alloc(4096, 1));
    const bundle = t.bundle(sleeper);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = `${PREFIX}-full-${i}`;
      const r = sh(TOYRUN, ['--root', root, 'create', '--bundle', bundle, id], { env: {} });
      assert.is(badOutcome(r), undefined);
      outcomes.push(r.status === 0 ? 'ok' : r.stderr.trim());
      if (r.status !== 0) assert.match(r.stderr, /ENOSPC|no space/i);
      const d = sh(TOYRUN, ['--root', root, 'delete', '--force', id], { env: {} });
      assert.is(d.status, 0, d.stderr);
      assert.equal(readdirSync(root).filter((e) => e !== 'filler'), [], `after ${id}`);
      // v1: one directory per controller; unified: /sys/fs/cgroup itself (and its files, skipped)
      for (const ctrl of ['', ...readdirSync('/sys/fs/cgroup')]) {
        const d = join('/sys/fs/cgroup', ctrl);
        if (statSync(d).isDirectory()) assert.not.ok(readdirSync(d).includes(id), d);
      }
      // and an almost-full disk: free one page for the next round
      if (i === 1) rmSync(join(root, 'filler'));
    }
    assert.ok(outcomes.some((o) => o !== 'ok'), `the disk was never full: ${outcomes.join(', ')}`);
  } finally {
    sh('/bin/umount', [root]);
    rmSync(root, { recursive: true, force: true });
  }
});

test('bundle deleted under a created container: state is true, start/delete still work', () => {
  const bundle = mkdtempSync('/tmp/toyrun-doomed-');
  cpSync(BUSYBOX_ROOTFS, join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true, filter: copyable });
  const spec = JSON.parse(readFileSync(join(t.bundle(sleeper), 'config.json'), 'utf8')) as Spec;
  spec.root = { path: 'rootfs', readonly: true };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const id = uniqueId(`${PREFIX}-doomed`);
  t.ok(['create', '--bundle', bundle, id]);
  rmSync(bundle, { recursive: true, force: true });
  assert.is(statusOf(id), 'created');
  const start = t.run(['start', id]);
  assert.is(badOutcome(start), undefined);
  assert.ok(['running', 'stopped'].includes(statusOf(id)));
  t.ok(['delete', '--force', id]);
  assertNoLeftovers(id);
});

test('a simulated reboot (every container process killed): state says "stopped", delete --force cleans', () => {
  const ids = [0, 1, 2].map((i) => `${PREFIX}-reboot-${i}`);
  const bundle = t.bundle(sleeper);
  for (const id of ids) t.ok(['create', '--bundle', bundle, id]);
  t.ok(['start', ids[1] as string]);
  for (const id of ids) {
    for (const l of leftovers(t, id).filter((x) => x.startsWith('process '))) process.kill(Number(l.slice(8)), 'SIGKILL');
  }
  const deadline = Date.now() + 10000;
  while (ids.some((id) => statusOf(id) !== 'stopped') && Date.now() < deadline) sh('/bin/sleep', ['0.01']);
  for (const id of ids) assert.is(statusOf(id), 'stopped', id);
  for (const id of ids) t.ok(['delete', '--force', id]);
  for (const id of ids) assertNoLeftovers(id);
});

test('a recycled pid is not mistaken for the init: delete neither kills nor waits for it', () => {
  const id = uniqueId(`${PREFIX}-recycled`);
  t.ok(['create', '--bundle', t.bundle(sleeper), id]);
  const pid = t.state(id).pid as number;
  process.kill(pid, 'SIGKILL');
  // point state.json at a live process that is not the init (what a reboot or pid wrap gives)
  const sleeperProc = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  try {
    const file = join(t.root, id, 'state.json');
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
    rec.pid = sleeperProc.pid as number;
    writeFileSync(file, JSON.stringify(rec));
    assert.is(statusOf(id), 'stopped');
    t.ok(['delete', '--force', id]);
    assert.is(procState(sleeperProc.pid as number) !== undefined, true, 'the unrelated process survived');
    assertNoLeftovers(id);
  } finally {
    sleeperProc.kill('SIGKILL');
  }
});

test('a truncated state.json: state says it is corrupt, delete --force still removes process, cgroup and dir', () => {
  const id = uniqueId(`${PREFIX}-corrupt`);
  t.ok(['create', '--bundle', t.bundle(sleeper), id]);
  t.ok(['start', id]);
  const file = join(t.root, id, 'state.json');
  writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
  const st = t.run(['state', id]);
  assert.is(st.status, 1);
  assert.match(st.stderr, /state\.json is corrupt/);
  t.ok(['delete', '--force', id]);
  assertNoLeftovers(id);
});

test('a FIFO as a namespace path fails create instead of hanging it', async () => {
  const dir = t.tempDir();
  const fifo = join(dir, 'ns');
  sh('/usr/bin/mkfifo', [fifo]);
  for (const type of ['pid', 'network'] as const) {
    const id = uniqueId(`${PREFIX}-fifo`);
    const bundle = t.bundle((s) => {
      sleeper(s);
      s.linux = { ...s.linux, namespaces: [...(s.linux?.namespaces ?? []).filter((n) => n.type !== type), { type, path: fifo }] };
    });
    const r = await runToyrun(t, ['create', '--bundle', bundle, id], 20000);
    assert.is(badOutcome(r), undefined, type);
    assert.is(r.status, 1);
    assert.match(r.stderr, /setns|namespace/);
    assertNoLeftovers(id);
  }
});

test('NUL bytes in config.json strings are refused by JSON path', () => {
  const cases: [(s: Spec) => void, string[]][] = [
    [(s) => {
      s.mounts = [...(s.mounts ?? []), { destination: '/tmp\u0000/x', type: 'tmpfs', source: 'tmpfs' }];
      (s.process as NonNullable<Spec['process']>).env = ['A=b\u0000c'];
    }, [`/mounts/8/destination`, '/process/env/0']], // by the schema's patterns
    [(s) => {
      s.hostname = 'toy\u0000run';
      s.annotations = { 'a\u0000b': 'c' };
    }, ['/hostname must not contain a NUL', '/annotations/a']], // by validate.ts
  ];
  for (const [edit, expected] of cases) {
    const id = uniqueId(`${PREFIX}-nul`);
    const r = t.run(['create', '--bundle', t.bundle(edit), id]);
    assert.is(r.status, 1);
    for (const at of expected) assert.ok(r.stderr.includes(at), `${at} in ${r.stderr}`);
    assertNoLeftovers(id);
  }
});

test('huge arrays fail fast and clearly: more mounts than fs.mount-max, a seccomp profile larger than BPF allows', () => {
  const cases: [(s: Spec) => void, RegExp][] = [
    [(s) => void (s.mounts = Array.from({ length: 100001 }, () => (s.mounts ?? [])[0] as NonNullable<Spec['mounts']>[number])), /exceed fs\.mount-max/],
    [(s) => {
      s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: Array.from({ length: 5000 }, () => ({ names: ['getpid'], action: 'SCMP_ACT_ERRNO' })) } };
    }, /cannot fit in a seccomp filter/],
  ];
  for (const [edit, expected] of cases) {
    const id = uniqueId(`${PREFIX}-huge`);
    const r = t.run(['create', '--bundle', t.bundle(edit), id], { timeout: deadline(20000) });
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, expected);
    assertNoLeftovers(id);
  }
});

test('schema-driven fuzz: 200 mutated configs end in success or a clear error, never a crash, hang or leftover', async () => {
  const env = makeFuzzEnv(t);
  const bases = fuzzBases(env);
  const rand = rng(Number(process.env.TOYRUN_FUZZ_SEED ?? 20261123));
  const cases = Array.from({ length: 200 }, (_, i) => {
    const base = bases[i % bases.length] as (typeof bases)[number];
    const c = mutate(base.doc, rand, env);
    return { ...c, name: `#${i} ${base.name} ${c.name}` };
  });
  const findings = (await pool(cases.map((c, i) => () => runFuzzCase(t, c, `${PREFIX}-fz-${i}`)), 2)).flat();
  assert.equal(findings.map((f: FuzzFinding) => `${f.caseName}: ${f.problem}`), []);
});

test('fuzzed container ids: refused clearly or handled, never escaping --root', async () => {
  const bundle = t.bundle(sleeper);
  const outside = mkdtempSync('/run/toyrun-test/outside-');
  const root = join(outside, 'root');
  mkdirSync(root);
  writeFileSync(join(outside, 'sentinel'), '');
  try {
    for (const id of HOSTILE_IDS) await checkHostileId(root, outside, bundle, id);
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test('fuzzed flags: every combination ends in success or a clear error', async () => {
  const bundle = t.bundle(sleeper);
  const argvs: string[][] = [
    ['create', '--bundle', bundle, '--pid-file', '/nonexistent/dir/pid'],
    ['create', '--bundle', bundle, '--pid-file', ''],
    ['create', '--bundle', bundle, '--preserve-fds', '-1'],
    ['create', '--bundle', bundle, '--preserve-fds', 'abc'],
    ['create', '--bundle', bundle, '--preserve-fds', '100000'],
    ['create', '--bundle', bundle, '--preserve-fds', '5'],
    ['create', '--bundle', bundle, '--console-socket', '/nonexistent.sock'],
    ['create', '--bundle', ''],
    ['create', '--bundle', '/nonexistent'],
    ['create', '--bundle', '/dev/null'],
    ['create', '--bundle'],
    ['create', '--bogus-flag', '--bundle', bundle],
    ['create', '--bundle=' + bundle, '--no-pivot=maybe'],
    ['kill', '--all'], ['kill', 'x', 'SIGNOPE'], ['kill', 'x', '99999'], ['kill', 'x', '-9'],
    ['delete'], ['delete', '--force'], ['start'], ['state'], ['state', ''],
    ['list', '--format', 'xml'], ['ps', '--format', 'yaml'], ['nosuchcommand'],
  ];
  for (const [i, argv] of argvs.entries()) {
    const id = `${PREFIX}-flag-${i}`;
    const full = argv[0] === 'create' ? [...argv, id] : argv;
    const r = await runToyrun(t, full, 30000);
    assert.is(badOutcome(r), undefined, full.join(' '));
    if (argv[0] === 'create') {
      t.run(['delete', '--force', id]);
      assertNoLeftovers(id);
    }
  }
  for (const globals of [['--root'], ['--log', '/nonexistent/dir/log'], ['--log-format', 'yaml'], ['--root', '/dev/null'], ['--root', ''], ['--debug=maybe']]) {
    const r = sh(TOYRUN, [...globals, 'list'], { env: {}, timeout: deadline(30000) });
    assert.is(badOutcome({ ...r, timedOut: false }), undefined, globals.join(' '));
  }
});

test('no container of this file left anything behind, and the harness leaked no fds', () => {
  const f = footprint(t.root, PREFIX);
  assert.equal(footprintLeaks(f, fdsAtStart, 2), []);
});

test.after(() => t.cleanup());
test.run();
