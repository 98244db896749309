// What sealing the runtime (src/linux/seal.ts) adds to each `create` and `exec`,
// measured against the same runtime process started unsealed, in the same run,
// interleaved:
//
//   the CLI's side   the read-only overlay made, then closed once the child holds
//                    it (timed alone, no spawn)
//   the child's side bin/toyrun in the init / exec-init role started from the
//                    sealed tree (/proc/self/fd/N/bin/toyrun init ...) against the
//                    same file started from its host path: spawn to exit, wall
//                    clock. Without a plan on its sync pipe the role's main fails
//                    at once, the same way in both, after the engine has started,
//                    loaded its code and dlopen'ed koffi from the tree.
// Usage: bun scripts/bench-seal.ts [iterations]
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { sealRuntime } from '../src/linux/seal';

const ROOT = resolve(__dirname, '..');
(globalThis as { toyrunBundleDir?: string }).toyrunBundleDir = resolve(ROOT, 'dist');
const n = Number(process.argv[2] ?? 101);

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
const sealed = sealRuntime();
const fd = sealed.trees[0]?.fd as number;
if (sealed.engineTree !== 0) throw new Error('bench-seal: the engine is outside the install tree');

function wall(engine: string, role: string): number {
  const w0 = performance.now();
  // fd 3 holds the sealed tree; 4 and 5 stand for the sync pipe the role expects
  const r = spawnSync(engine, [role, '4', '5'], { stdio: ['ignore', 'ignore', 'pipe', fd], env: {}, cwd: '/' });
  const ms = performance.now() - w0;
  if (r.error || r.signal) throw new Error(`bench-seal: ${engine} ${role}: ${r.error?.message ?? r.signal}`);
  return ms;
}

for (const role of ['init', 'exec-init']) {
  const host: number[] = [];
  const onSeal: number[] = [];
  for (let i = 0; i < n; i++) {
    host.push(wall(resolve(ROOT, sealed.engine), role));
    onSeal.push(wall(`/proc/self/fd/3/${sealed.engine}`, role));
  }
  const start = median(onSeal) - median(host);
  const who = role === 'init' ? 'create' : 'exec';
  console.log(`engine sealing, ${role.padEnd(9)} start-up: host path ${median(host).toFixed(2)} ms, sealed ${median(onSeal).toFixed(2)} ms (medians of ${n}, interleaved)`);
  console.log(`engine sealing adds to ${who}: ${(sealMs + start).toFixed(2)} ms (seal ${(sealMs * 1000).toFixed(0)} µs + start-up ${start >= 0 ? '+' : ''}${start.toFixed(2)} ms)`);
}
sealed.close();
