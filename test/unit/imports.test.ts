// The layering rule, read from the imports themselves:
//   commands (src/*.ts) → container/ (and image/) → process/ and init/ → linux/
// An import may only point down (or sideways within a layer: init/ reads the wire
// types of process/). The kernel layer (src/linux/) knows nothing of the CLI,
// logging policy or container records; the inits (what runs as the container's
// first process or exec helper) never load a command. And no import cycle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(__dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return p.endsWith('generated') ? [] : sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports (value and type) of a file, as src-relative paths. */
function importsOf(file: string): { path: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const out: { path: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/^import\s+(type\s+)?(?:[^;]*?\s+from\s+)?'(\.[^']+)'/gms)) {
    let p = resolve(dirname(file), m[2] as string);
    if (!p.endsWith('.ts') && !p.endsWith('.js')) p += '.ts';
    if (!existsSync(p) && existsSync(p.replace(/\.ts$/, '/index.ts'))) p = p.replace(/\.ts$/, '/index.ts');
    out.push({ path: relative(SRC, p), typeOnly: m[1] !== undefined });
  }
  return out;
}

const FILES = sources(SRC).map((f) => relative(SRC, f));
const GRAPH = new Map(FILES.map((f) => [f, importsOf(join(SRC, f))]));

/** Everything a module loads at run time (type-only imports are erased). */
function closure(start: string): Set<string> {
  const seen = new Set<string>();
  const walk = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const d of GRAPH.get(f) ?? []) if (!d.typeOnly) walk(d.path);
  };
  walk(start);
  return seen;
}

// The --trace recorder is the kernel layer's own instrument: libc.ts records every
// call through it (src/trace/record.ts, which decodes with src/trace/decode.ts).
const RECORDER = ['trace/record.ts', 'trace/decode.ts'];

test('src/linux/ imports only src/linux/, the OCI types, the install paths and the trace recorder', () => {
  const allowed = (p: string): boolean => p.startsWith('linux/') || p.startsWith('spec/') || p === 'paths.ts' || RECORDER.includes(p);
  const bad = FILES.filter((f) => f.startsWith('linux/')).flatMap((f) => (GRAPH.get(f) ?? []).filter((d) => !allowed(d.path)).map((d) => `${f} → ${d.path}`));
  assert.equal(bad, []);
});

const COMMANDS = ['cli.ts', 'commands.ts', 'toyrun.ts', 'create.ts', 'start.ts', 'delete.ts', 'kill.ts', 'run.ts', 'exec.ts', 'query.ts', 'pause.ts', 'update.ts', 'events.ts', 'import.ts', 'layers.ts', 'features.ts'];

for (const init of ['init/init.ts', 'init/exec-init.ts']) {
  test(`${init} never loads a command module`, () => {
    const loaded = [...closure(init)].filter((f) => COMMANDS.includes(f));
    assert.equal(loaded, []);
  });
}

test('commands do not borrow from each other', () => {
  const bad = COMMANDS.flatMap((f) => (GRAPH.get(f) ?? []).filter((d) => !d.typeOnly && COMMANDS.includes(d.path) && d.path !== 'commands.ts' && d.path !== 'cli.ts').map((d) => `${f} → ${d.path}`));
  assert.equal(bad, []);
});

// The engine API: one operation per file in src/container/, and each command file
// is its command line (flags → typed options → one call), as crun's src/*.c over
// libcrun: the work never sits in the command, so it reaches no lower layer itself.
const OPERATIONS = ['create', 'start', 'delete', 'kill', 'run', 'exec', 'pause', 'update', 'events', 'query'];

for (const op of OPERATIONS) {
  test(`src/${op}.ts is thin: it calls container/${op}.ts, and reaches neither process/ nor linux/`, () => {
    const deps = (GRAPH.get(`${op}.ts`) ?? []).map((d) => d.path);
    assert.ok(deps.includes(`container/${op}.ts`), deps.join(' '));
    assert.equal(deps.filter((d) => d.startsWith('process/') || d.startsWith('linux/')), []);
  });
}

test('one way into a container: only launch() (process/launch.ts) starts a runtime process into namespaces, and picks the strategy', () => {
  const callers = (call: string): string[] => FILES.filter((f) => readFileSync(join(SRC, f), 'utf8').includes(`${call}(`)).sort();
  // the namespace switch: the direct strategy, and user-namespace stage 1 (which runs inside the namespace)
  assert.equal(callers('spawnIntoNamespaces'), ['init/userns-stage1.ts', 'linux/spawn.ts', 'process/launch.ts']);
  // the user-namespace strategies are chosen by launch() alone
  for (const strategy of ['spawnInUserNamespace', 'spawnThroughStage1']) assert.equal(callers(strategy), ['process/launch.ts', 'process/userns.ts']);
  assert.equal(FILES.filter((f) => (GRAPH.get(f) ?? []).some((d) => d.path === 'process/userns.ts' && !d.typeOnly)), []);
  // create and exec both go through it, and through CgroupEntry's one order
  for (const op of ['container/create.ts', 'container/exec.ts']) {
    const text = readFileSync(join(SRC, op), 'utf8');
    assert.ok(text.includes('new CgroupEntry(') && /\blaunch\(/.test(text.replace(/env\.launch\(/g, 'launch(')), op);
  }
});

test('the trace recorder itself stays in the kernel layer', () => {
  const bad = RECORDER.flatMap((f) => (GRAPH.get(f) ?? []).filter((d) => !d.path.startsWith('linux/') && !RECORDER.includes(d.path)).map((d) => `${f} → ${d.path}`));
  assert.equal(bad, []);
});

// Shared by every layer: the OCI types and schema, install paths, failpoints,
// the version, and the trace recorder (the kernel layer's own instrument).
const SHARED = (p: string): boolean => p.startsWith('spec/') || ['paths.ts', 'failpoint.ts', 'version.ts', ...RECORDER].includes(p);
/** The layer of a src-relative path: 0 linux, 1 process/init, 2 container/image, 3 commands. */
function layer(p: string): number {
  if (p.startsWith('linux/')) return 0;
  if (p.startsWith('process/') || p.startsWith('init/')) return 1;
  if (p.startsWith('container/') || p.startsWith('image/')) return 2;
  return 3;
}

test('imports point down the layers: commands → container/image → process/init → linux', () => {
  const bad = FILES.flatMap((f) => (GRAPH.get(f) ?? [])
    .filter((d) => !SHARED(d.path) && !(f === 'log.ts' || d.path === 'log.ts' && layer(f) >= 1) && layer(d.path) > layer(f))
    .map((d) => `${f} → ${d.path}`));
  assert.equal(bad, []);
});

test('within a layer: process/ never imports init/ (the child side reads the wire, not the other way); container/ never imports image/', () => {
  const bad = FILES.flatMap((f) => (GRAPH.get(f) ?? [])
    .filter((d) => (f.startsWith('process/') && d.path.startsWith('init/')) || (f.startsWith('container/') && d.path.startsWith('image/')))
    .map((d) => `${f} → ${d.path}`));
  assert.equal(bad, []);
});

test('no import cycles (type-only imports included)', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of GRAPH.get(f) ?? []) {
      if (!GRAPH.has(d.path)) continue;
      const s = state.get(d.path);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(d.path)), d.path].join(' → '));
      else if (s === undefined) visit(d.path);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of FILES) if (!state.has(f)) visit(f);
  assert.equal(cycles, []);
});

test('the rule test sees the tree (it would pass vacuously on an empty one)', () => {
  assert.ok(FILES.includes('linux/libc.ts') && FILES.includes('init/init.ts') && FILES.length > 50, FILES.join(' '));
  assert.ok(closure('init/init.ts').has('linux/libc.ts'));
});

test.run();
