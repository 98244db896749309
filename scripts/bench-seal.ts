// What sealing the runtime (src/linux/seal.ts) adds to each `create` and `exec`,
// measured against the same runtime process started the way it was before
// sealing, in the same run, interleaved:
//
//   the CLI's side   the read-only overlay made, then closed once the child holds
//                    it (timed alone, no spawn)
//   the child's side the init / exec helper started from the sealed tree
//                    (/proc/self/fd/N/<engine> -e LOADER /proc/self/fd/N/dist/<bundle>,
//                    the bundle compiled by the loader) against the engine started
//                    from the host's path on the bundle (Bun's bytecode cache used).
//                    Each child times itself from its first line of JavaScript to
//                    its exit (a preamble; without a plan the bundle's main fails
//                    at once, the same way in both), and the wall clock of the
//                    whole process is taken too.
// Usage: bun scripts/bench-seal.ts [iterations]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOADER, sealRuntime } from '../src/linux/seal';

const DIST = resolve(__dirname, '..', 'dist');
(globalThis as { toyrunBundleDir?: string }).toyrunBundleDir = DIST;
const n = Number(process.argv[2] ?? 41);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

// the CLI's side
sealRuntime().close(); // warm up: koffi, prototypes
const t0 = performance.now();
for (let i = 0; i < 500; i++) sealRuntime().close();
const sealMs = (performance.now() - t0) / 500;

// the child's side
const PREAMBLE = 'const t0=performance.now();process.on("exit",()=>require("fs").writeSync(2,"\\nT="+(performance.now()-t0)+"\\n"));';
const tmp = mkdtempSync('/tmp/toyrun-bench-seal-');
const preload = join(tmp, 'preamble.js');
writeFileSync(preload, PREAMBLE);

const sealed = sealRuntime();
const fd = sealed.trees[0]?.fd as number;
if (sealed.engineTree !== 0) throw new Error('bench-seal: the engine is outside the install tree');
const sealedEngine = `/proc/self/fd/3/${sealed.engine}`;

interface Sample { js: number; wall: number }
function start(engine: string, args: string[]): Sample {
  const w0 = performance.now();
  const r = spawnSync(engine, args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
  const wall = performance.now() - w0;
  const m = /\nT=([\d.]+)\n/.exec(String(r.stderr));
  if (!m) throw new Error(`bench-seal: ${engine} ${args.join(' ')}: no timing (${String(r.stderr).slice(0, 300)})`);
  return { js: Number(m[1]), wall };
}

for (const bundle of ['init.js', 'exec-init.js']) {
  const plain: Sample[] = [];
  const onSeal: Sample[] = [];
  for (let i = 0; i < n; i++) {
    plain.push(start(process.execPath, ['--preload', preload, join(DIST, bundle)]));
    onSeal.push(start(sealedEngine, ['-e', PREAMBLE + LOADER, `/proc/self/fd/3/${sealed.bundles}/${bundle}`]));
  }
  const js = median(onSeal.map((s) => s.js)) - median(plain.map((s) => s.js));
  const wall = median(onSeal.map((s) => s.wall)) - median(plain.map((s) => s.wall));
  const who = bundle === 'init.js' ? 'create' : 'exec';
  console.log(
    `engine sealing, ${bundle.padEnd(12)} loading: host path + bytecode ${median(plain.map((s) => s.js)).toFixed(2)} ms, sealed + loader ${median(onSeal.map((s) => s.js)).toFixed(2)} ms;` +
      ` whole process ${median(plain.map((s) => s.wall)).toFixed(1)} vs ${median(onSeal.map((s) => s.wall)).toFixed(1)} ms`,
  );
  console.log(`engine sealing adds to ${who}: ${(sealMs + js).toFixed(2)} ms (seal ${(sealMs * 1000).toFixed(0)} µs + loading ${js.toFixed(2)} ms; whole-process difference ${wall.toFixed(1)} ms), ${n} runs each`);
}
sealed.close();
rmSync(tmp, { recursive: true });
