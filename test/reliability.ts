// Shared by test/integration/reliability.test.ts (the cheap parts, in `make test`)
// and test/stress/*.stress.ts (`make stress`): run toyrun concurrently, kill it
// at a chosen stage, count what containers leave on the host, and mutate
// config.json files into hostile input.
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUSYBOX_ROOTFS, deadline, FIXTURES, leftovers, REPO, TOYRUN, type Result, type Toyrun } from './helpers';

// ---- running toyrun without waiting ------------------------------------------

export interface Running {
  pid: number;
  done: Promise<Result & { timedOut: boolean }>;
}

/** Start `toyrun --root ROOT args...`; `done` settles when it exits (or is
 * SIGKILLed after timeoutMs: a hang is a finding, not a stuck suite). Output
 * goes to files, not pipes: a container init inherits create's stdout/stderr
 * and would hold a pipe open long after create exited. */
export function startToyrun(root: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Running {
  const { timeoutMs = 60000, ...spawnOpts } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'toyrun-out-'));
  const outFd = openSync(join(dir, 'stdout'), 'w+'), errFd = openSync(join(dir, 'stderr'), 'w+');
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(TOYRUN, ['--root', root, ...args], { env: {}, cwd: '/', stdio: ['ignore', outFd, errFd], ...spawnOpts });
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, deadline(timeoutMs));
  const collect = (status: number, signal: NodeJS.Signals | null, extra = ''): Result & { timedOut: boolean } => {
    clearTimeout(timer);
    const stdout = readFileSync(join(dir, 'stdout'), 'utf8'), stderr = readFileSync(join(dir, 'stderr'), 'utf8') + extra;
    rmSync(dir, { recursive: true, force: true });
    return { status, stdout, stderr, signal, timedOut };
  };
  const done = new Promise<Result & { timedOut: boolean }>((resolveDone) => {
    child.on('error', (e) => resolveDone(collect(-1, null, String(e))));
    child.on('exit', (code, signal) => resolveDone(collect(code ?? -1, signal)));
  });
  return { pid: child.pid ?? -1, done };
}

export function runToyrun(t: Toyrun, args: string[], timeoutMs?: number): Promise<Result & { timedOut: boolean }> {
  if ((args[0] === 'create' || args[0] === 'run') && args.length > 1) t.track(args[args.length - 1] as string);
  return startToyrun(t.root, args, { timeoutMs }).done;
}

/** Run the jobs with at most `limit` of them in flight at once. */
export async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

// ---- stopping a create at a stage ---------------------------------------------

/** Process state letter from /proc/<pid>/stat ('T' = stopped), or undefined once gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + deadline(timeoutMs);
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `toyrun args...` that stops itself (SIGSTOP) at failpoint `stage` (src/failpoint.ts);
 * resolves once it is stopped there. */
export async function runStoppedAt(t: Toyrun, args: string[], stage: string): Promise<Running> {
  if (args[0] === 'create' || args[0] === 'run') t.track(args[args.length - 1] as string);
  const r = startToyrun(t.root, args, { env: { TOYRUN_FAILPOINT: stage } });
  let exited = false;
  void r.done.then(() => (exited = true));
  await waitFor(() => exited || procState(r.pid) === 'T', `${args.join(' ')} to stop at ${stage}`);
  if (exited) {
    const res = await r.done;
    throw new Error(`${args.join(' ')} exited (${res.status}/${res.signal}) before reaching failpoint ${stage}: ${res.stderr}`);
  }
  return r;
}

export function createStoppedAt(t: Toyrun, bundle: string, id: string, stage: string): Promise<Running> {
  return runStoppedAt(t, ['create', '--bundle', bundle, id], stage);
}

/** The create failpoints, in the order create reaches them. */
export const CREATE_STAGES = ['create:claimed', 'create:cgroup', 'create:init-mounted', 'create:ready'];

// ---- what containers leave behind ----------------------------------------------

/** Pids of every live process whose cgroup path contains `/toyrun/<prefix>`.
 * Zombies are left out: they hold nothing but a pid, and reaping them is the
 * job of whoever inherited them (conmon, the shim; PID 1 on this VM, slowly). */
export function processesInCgroups(prefix: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (procState(Number(p)) === 'Z') continue;
    try {
      if (readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/toyrun/${prefix}`)) out.push(Number(p));
    } catch {
      // exited
    }
  }
  return out;
}

/** Processes whose command line mentions `needle` (e.g. a test's private root). */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      // exited
    }
  }
  return out;
}

export interface Footprint {
  stateDirs: string[];
  cgroups: string[];
  mounts: string[];
  processes: number[];
  runtimeProcesses: number[];
  fds: number;
}

/** Everything containers whose ids start with `prefix` hold on the host, plus
 * this process's open fds (a leak in the harness would hide one in the runtime). */
export function footprint(root: string, prefix: string): Footprint {
  const stateDirs = existsSync(root) ? readdirSync(root).filter((d) => d.startsWith(prefix)).map((d) => join(root, d)) : [];
  const cgroups: string[] = [];
  for (const ctrl of readdirSync('/sys/fs/cgroup')) {
    const base = join('/sys/fs/cgroup', ctrl, 'toyrun');
    try {
      for (const d of readdirSync(base)) if (d.startsWith(prefix)) cgroups.push(join(base, d));
    } catch {
      // no toyrun cgroups in this hierarchy
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(prefix) || l.includes(root));
  return {
    stateDirs,
    cgroups,
    mounts,
    processes: processesInCgroups(prefix),
    runtimeProcesses: processesMentioning(root),
    fds: readdirSync('/proc/self/fd').length,
  };
}

export function openFds(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return `${fd}→${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return fd;
    }
  });
}

/** Human-readable differences that count as leftovers (fds: growth beyond slack). */
export function footprintLeaks(f: Footprint, fdBaseline = f.fds, fdSlack = 0): string[] {
  const leaks = [
    ...f.stateDirs.map((d) => `state dir ${d}`),
    ...f.cgroups.map((c) => `cgroup ${c}`),
    ...f.mounts.map((m) => `mount ${m}`),
    ...f.processes.map((p) => `process ${p} in a container cgroup`),
    ...f.runtimeProcesses.map((p) => `runtime process ${p}`),
  ];
  if (f.fds > fdBaseline + fdSlack) leaks.push(`fds grew from ${fdBaseline} to ${f.fds}: ${openFds().join(', ')}`);
  return leaks;
}

// ---- judging an outcome -------------------------------------------------------

const CRASH_PATTERNS = [
  /^\s+at\s/m, // a stack frame
  /\b(TypeError|ReferenceError|RangeError|SyntaxError|EvalError|InternalError)\b/,
  /\bpanic(ked)?\b/i,
  /Segmentation fault|SIGSEGV|core dumped|Bun has crashed|oh no: Bun/i,
  /^error: /m, // Bun's uncaught-exception banner
  /Unhandled|uncaught/i,
];

/** Why a runtime call's outcome is not acceptable, or undefined when it is:
 * exit 0, or `failure` (1; runc's 255 for exec) with an error line and no crash
 * trace, within the time limit. */
export function badOutcome(r: Result & { timedOut?: boolean }, failure = 1): string | undefined {
  if (r.timedOut) return 'hang (killed after the time limit)';
  if (r.signal) return `killed by ${r.signal}`;
  if (r.status !== 0 && r.status !== failure) return `exit status ${r.status}`;
  const crash = CRASH_PATTERNS.find((p) => p.test(r.stderr));
  if (crash) return `crash trace in stderr (${crash}): ${r.stderr.slice(0, 600)}`;
  if (r.status !== 0 && r.stderr.trim() === '' && r.stdout.trim() === '') return 'failed without a word';
  return undefined;
}

// ---- hostile input ----------------------------------------------------------------

/** A small deterministic PRNG (mulberry32) so that a failing case can be replayed by seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function allPaths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => allPaths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) allPaths(x, [...at, k], out);
  return out;
}

function getAt(v: Json, p: Path): Json {
  let cur: Json = v;
  for (const k of p) cur = (cur as Record<string | number, Json>)[k] as Json;
  return cur;
}

function setAt(v: Json, p: Path, value: Json | undefined): Json {
  if (p.length === 0) return value === undefined ? null : value;
  const parent = getAt(v, p.slice(0, -1)) as Record<string | number, Json> | Json[];
  const key = p[p.length - 1] as string | number;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, Json>)[key as string];
  } else {
    (parent as Record<string | number, Json>)[key] = value;
  }
  return v;
}

/** Context a mutation may use: files the fuzzer prepared on the host. */
export interface FuzzEnv {
  /** A private copy of the busybox rootfs holding symlink traps (see makeHostileRootfs). */
  hostileRootfs: string;
  /** A symlink to the rootfs, a symlink loop, a FIFO, a regular file. */
  linkToRootfs: string;
  linkLoop: string;
  fifo: string;
  regularFile: string;
  emptyDir: string;
}

export interface FuzzCase {
  name: string;
  /** The config.json bytes (may be invalid JSON or invalid UTF-8 on purpose). */
  bytes: Buffer;
}

const PATHISH = /(^|\/)(destination|source|path|cwd|cgroupsPath|mountLabel)$/;

/** One mutation of `base` (a parsed config.json), chosen by `rand`. */
export function mutate(base: Json, rand: () => number, env: FuzzEnv): FuzzCase {
  const doc = JSON.parse(JSON.stringify(base)) as Json;
  const paths = allPaths(doc).filter((p) => p.length > 0);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const p = pick(paths);
  const at = '/' + p.join('/');
  const cur = getAt(doc, p);
  const kind = pick([
    'type', 'type', 'type', 'delete', 'null', 'hugeArray', 'deepNesting', 'giantString', 'dotdot', 'nul',
    'symlink', 'invalidUtf8', 'numberEdge', 'duplicateKeys', 'truncate', 'emptyString', 'pathish',
  ] as const);
  const text = (d: Json): Buffer => Buffer.from(JSON.stringify(d));
  switch (kind) {
    case 'type': {
      const replacements: Json[] = [0, -1, 1.5, true, 'x', [], {}, [1, 'a'], { x: 1 }];
      const r = pick(replacements.filter((x) => typeof x !== typeof cur || Array.isArray(x) !== Array.isArray(cur)));
      return { name: `${at}: ${typeof cur} → ${JSON.stringify(r)}`, bytes: text(setAt(doc, p, r)) };
    }
    case 'delete':
      return { name: `${at}: deleted`, bytes: text(setAt(doc, p, undefined)) };
    case 'null':
      return { name: `${at}: null`, bytes: text(setAt(doc, p, null)) };
    case 'hugeArray': {
      const n = pick([1000, 20000, 100000]);
      const el = Array.isArray(cur) && cur.length > 0 ? cur[0] as Json : cur;
      return { name: `${at}: array of ${n}`, bytes: text(setAt(doc, p, Array.from({ length: n }, () => el))) };
    }
    case 'deepNesting': {
      const depth = pick([100, 5000, 100000]);
      const asArray = rand() < 0.5;
      // built as text: too deep for a recursive builder or JSON.stringify
      const marker = '"__TOYRUN_FUZZ_NEST__"';
      const s = JSON.stringify(setAt(doc, p, '__TOYRUN_FUZZ_NEST__'));
      const nested = asArray ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return { name: `${at}: nested ${asArray ? 'arrays' : 'objects'} ${depth} deep`, bytes: Buffer.from(s.replace(marker, nested)) };
    }
    case 'giantString': {
      const n = pick([4096, 65536, 1 << 20, 16 << 20]);
      return { name: `${at}: string of ${n} bytes`, bytes: text(setAt(doc, p, 'A'.repeat(n))) };
    }
    case 'dotdot': {
      const v = pick(['..', '../../../../etc', '/../../../../tmp', 'a/../../..', '/proc/../..', '../' .repeat(64) + 'etc/passwd']);
      return { name: `${at}: ${JSON.stringify(v)}`, bytes: text(setAt(doc, p, v)) };
    }
    case 'nul': {
      const v = typeof cur === 'string' ? `${cur.slice(0, 8)}\u0000evil` : '\u0000';
      return { name: `${at}: NUL inside`, bytes: text(setAt(doc, p, v)) };
    }
    case 'symlink': {
      const v = pick([env.linkToRootfs, env.linkLoop, env.fifo, env.regularFile, '/evil', '/evil/etc', '/loop/x', '/proc/self/root', '/dev/../..']);
      return { name: `${at}: ${v}`, bytes: text(setAt(doc, p, v)) };
    }
    case 'invalidUtf8': {
      const marker = '__TOYRUN_FUZZ_BYTES__';
      const s = Buffer.from(JSON.stringify(setAt(doc, p, marker)));
      const i = s.indexOf(marker);
      const bad = pick([Buffer.from([0xff, 0xfe]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xe2, 0x82])]);
      return { name: `${at}: invalid UTF-8 ${bad.toString('hex')}`, bytes: Buffer.concat([s.subarray(0, i), bad, s.subarray(i + marker.length)]) };
    }
    case 'numberEdge': {
      const v = pick([-1, 2 ** 31, 2 ** 32, 2 ** 53 + 2, -(2 ** 63), 1e308, 0.000001, 4294967295, 65536]);
      return { name: `${at}: ${v}`, bytes: text(setAt(doc, p, v)) };
    }
    case 'duplicateKeys': {
      const s = JSON.stringify(doc);
      return { name: 'duplicate top-level keys', bytes: Buffer.from(s.slice(0, -1) + ',"process":1,"process":{"cwd":"/"}}') };
    }
    case 'truncate': {
      const s = Buffer.from(JSON.stringify(doc));
      const n = Math.floor(rand() * s.length);
      return { name: `truncated at byte ${n}`, bytes: s.subarray(0, n) };
    }
    case 'emptyString':
      return { name: `${at}: ""`, bytes: text(setAt(doc, p, '')) };
    case 'pathish': {
      // aim at the fields that become host or container paths
      const targets = paths.filter((q) => PATHISH.test('/' + q.join('/')));
      const q = targets.length > 0 ? pick(targets) : p;
      const v = pick(['..', '/..', '../../..', '/evil/etc', '/loop', env.fifo, env.regularFile, 'rel/path', '//', '/a\u0000b', '/' + 'x'.repeat(5000)]);
      return { name: `/${q.join('/')}: ${JSON.stringify(v).slice(0, 60)}`, bytes: text(setAt(doc, q, v)) };
    }
  }
}

/** Container ids that must be refused (or, if accepted, cleaned up). */
export const HOSTILE_IDS: string[] = [
  '', '.', '..', '../escape', 'a/b', '/abs', 'a/../b', ' ', 'tab\there', 'new\nline', '-dash', '--force', 'x'.repeat(1025),
  'x'.repeat(256), 'x'.repeat(255), 'ünïcödé', '😀', '$(touch /tmp/pwned)', '`id`', '%s%n', 'a b', '*', 'a:b', 'a\\b', '\u202e', 'nul\u0001ctl',
];

// ---- fuzzing inputs -----------------------------------------------------------

/** Files cpSync can copy (a device node left in a rootfs by a config without a /dev tmpfs cannot be). */
export function copyable(src: string): boolean {
  const st = lstatSync(src);
  return st.isFile() || st.isDirectory() || st.isSymbolicLink();
}

/** A private copy of the busybox rootfs with traps in it: /evil → / (host root if
 * followed outside the container), /loop → /loop. Plus host-side oddities. */
export function makeFuzzEnv(t: Toyrun): FuzzEnv {
  const dir = t.tempDir('toyrun-fuzz-');
  const hostileRootfs = join(dir, 'rootfs');
  cpSync(BUSYBOX_ROOTFS, hostileRootfs, { recursive: true, verbatimSymlinks: true, filter: copyable });
  symlinkSync('/', join(hostileRootfs, 'evil'));
  symlinkSync('/loop', join(hostileRootfs, 'loop'));
  const linkToRootfs = join(dir, 'link-to-rootfs');
  symlinkSync(hostileRootfs, linkToRootfs);
  const linkLoop = join(dir, 'loop');
  symlinkSync(linkLoop, linkLoop);
  const fifo = join(dir, 'fifo');
  execFileSync('/usr/bin/mkfifo', [fifo]);
  const regularFile = join(dir, 'file');
  writeFileSync(regularFile, 'not a directory\n');
  const emptyDir = join(dir, 'empty');
  mkdirSync(emptyDir);
  return { hostileRootfs, linkToRootfs, linkLoop, fifo, regularFile, emptyDir };
}

/** The documents the fuzzer starts from: bundles/busybox's config.json and every
 * config fixture from podman and containerd, pointed at a rootfs that exists and
 * stripped of host-specific paths (netns files, cgroupsPath) so that mutations
 * reach past the first check. */
export function fuzzBases(env: FuzzEnv): { name: string; doc: Json }[] {
  const out: { name: string; doc: Json }[] = [];
  const adapt = (name: string, text: string): void => {
    const doc = JSON.parse(text) as Record<string, Json>;
    doc.root = { path: env.hostileRootfs, readonly: true };
    const linux = doc.linux as Record<string, Json> | undefined;
    if (linux) {
      delete linux.cgroupsPath;
      if (Array.isArray(linux.namespaces)) linux.namespaces = linux.namespaces.map((n) => ({ type: (n as Record<string, Json>).type as Json }));
    }
    // podman's bind sources live in its storage: stand-ins of the same kind
    for (const m of Array.isArray(doc.mounts) ? (doc.mounts as Record<string, Json>[]) : []) {
      if (typeof m.source === 'string' && m.source.startsWith('/') && !existsSync(m.source)) {
        m.source = /^\/(etc|run)\//.test(String(m.destination)) ? env.regularFile : env.emptyDir;
      }
    }
    out.push({ name, doc });
  };
  adapt('bundles/busybox/config.json', readFileSync(join(REPO, 'bundles', 'busybox', 'config.json'), 'utf8'));
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('config.json')).sort()) {
    adapt(`fixtures/${f}`, readFileSync(join(FIXTURES, f), 'utf8'));
  }
  return out;
}

export interface FuzzFinding {
  caseName: string;
  problem: string;
}

/** How fuzz cases ended: created, or refused with an error of this kind. */
export const fuzzOutcomes: Record<string, number> = {};

function outcomeKind(r: Result): string {
  if (r.status === 0) return 'created';
  const msg = r.stderr.replace(/^time="[^"]*" level=error msg=/, '');
  if (/config\.json: .*invalid JSON/.test(msg)) return 'refused: invalid JSON';
  if (/config\.json: /.test(msg)) return 'refused: validation';
  return 'failed: runtime error';
}

/** Create one fuzzed bundle, then check the outcome and what it left behind. */
export async function runFuzzCase(t: Toyrun, c: FuzzCase, id: string): Promise<FuzzFinding[]> {
  const bundle = t.tempDir('toyrun-fuzz-bundle-');
  writeFileSync(join(bundle, 'config.json'), c.bytes);
  const findings: FuzzFinding[] = [];
  const note = (problem: string): number => findings.push({ caseName: c.name, problem });
  const r = await runToyrun(t, ['create', '--bundle', bundle, id], 60000);
  const bad = badOutcome(r);
  if (bad) note(`create: ${bad}`);
  const kind = outcomeKind(r);
  fuzzOutcomes[kind] = (fuzzOutcomes[kind] ?? 0) + 1;
  const st = await runToyrun(t, ['state', id]);
  if (r.status === 0) {
    let status = '';
    try {
      status = String((JSON.parse(st.stdout) as { status: string }).status);
    } catch {
      note(`state after a successful create is not JSON: ${st.stdout} ${st.stderr}`);
    }
    if (status !== 'created') note(`state after a successful create: ${status}`);
  } else if (!r.timedOut && !/does not exist/.test(st.stderr)) {
    // (a create the harness had to kill is already a finding; it reads as stopped)
    note(`failed create left a container behind: state says ${st.stdout || st.stderr}`);
  }
  const d = await runToyrun(t, ['delete', '--force', id]);
  const badDelete = badOutcome(d);
  if (badDelete || d.status !== 0) note(`delete --force: ${badDelete ?? d.stderr}`);
  for (const l of leftovers(t, id)) note(`leftover ${l}`);
  rmSync(bundle, { recursive: true, force: true });
  return findings;
}

/** Run create (and every other command) with one hostile id against a --root that
 * sits next to a sentinel file: nothing may crash, hang, or touch anything outside
 * --root (`delete --force ..` once removed the root's parent). Returns whether the
 * id was accepted (and then deleted). Throws with what went wrong. */
export async function checkHostileId(root: string, outside: string, bundle: string, id: string): Promise<boolean> {
  const fail = (what: string): never => {
    throw new Error(`${JSON.stringify(id)}: ${what}`);
  };
  const res = await startToyrun(root, ['create', '--bundle', bundle, id], { timeoutMs: 30000 }).done;
  const bad = badOutcome(res);
  if (bad) fail(bad);
  const accepted = res.status === 0;
  if (accepted) {
    const d = await startToyrun(root, ['delete', '--force', id], { timeoutMs: 30000 }).done;
    if (d.status !== 0) fail(`delete --force: ${d.stderr}`);
  } else if (!/invalid container id|container id cannot be empty|id is required/.test(res.stderr)) {
    fail(`unexpected create error: ${res.stderr}`);
  }
  for (const cmd of [['delete', '--force', id], ['delete', id], ['state', id], ['kill', id, '9'], ['start', id], ['ps', id]]) {
    const o = await startToyrun(root, cmd, { timeoutMs: 30000 }).done;
    const b = badOutcome(o);
    if (b) fail(`${cmd[0]}: ${b}`);
    if (!existsSync(join(outside, 'sentinel'))) fail(`${cmd.join(' ')} removed a file outside --root`);
  }
  const around = readdirSync(outside).sort();
  if (around.join() !== 'root,sentinel') fail(`left ${around.join(', ')} next to --root`);
  if (readdirSync(root).length > 0) fail(`left ${readdirSync(root).join(', ')} in --root`);
  return accepted;
}
