// Image figures for `make bench` (run with bun, as root, after `make`):
//   - `toyrun create` from an already-unpacked layer vs from a plain rootfs
//     (the goal: within 5 ms of each other), medians of interleaved runs;
//   - first unpack of the busybox layer into an empty layer store (hash + unpack).
// Containers are created in a private --root and deleted by id.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureLayer, openStore } from '../src/image/layers';
import type { Spec } from '../src/spec/types';

const REPO = resolve(__dirname, '..');
const TOYRUN = join(REPO, 'bin', 'toyrun');
const BASE = join(REPO, 'bundles', 'layered', 'layers', 'base.tar');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function bundle(dir: string, edit: (s: Spec) => void): string {
  const spec = JSON.parse(readFileSync(join(REPO, 'bundles', 'busybox', 'config.json'), 'utf8')) as Spec;
  spec.process!.args = ['true'];
  edit(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

function toyrun(root: string, args: string[]): void {
  // stdio ignored: a created container keeps toyrun's stdio open until it exits
  const r = spawnSync(TOYRUN, ['--root', root, ...args], { stdio: 'ignore', env: {}, cwd: '/' });
  if (r.status !== 0) throw new Error(`toyrun ${args.join(' ')} exited ${r.status}`);
}

function timeCreate(root: string, b: string, id: string): number {
  const t0 = process.hrtime.bigint();
  toyrun(root, ['create', '--bundle', b, id]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  toyrun(root, ['delete', '--force', id]);
  return ms;
}

function main(): void {
  const work = mkdtempSync('/tmp/toyrun-bench-image-');
  const root = mkdtempSync('/run/toyrun-bench-image-');
  try {
    const plain = bundle(mkdtempSync(join(work, 'plain-')), (s) => {
      s.root = { path: join(REPO, 'bundles', 'busybox', 'rootfs'), readonly: false };
    });
    const layered = bundle(mkdtempSync(join(work, 'layered-')), (s) => {
      s.root = { path: 'rootfs', readonly: false };
      s['org.toyrun.image'] = { layers: [BASE] };
    });
    // warm-up: unpack the layer once, fill the page cache for both
    timeCreate(root, layered, 'warm-l');
    timeCreate(root, plain, 'warm-p');
    const p: number[] = [], l: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      p.push(timeCreate(root, plain, `bench-p-${i}`));
      l.push(timeCreate(root, layered, `bench-l-${i}`));
    }
    const unpack: number[] = [];
    for (let i = 0; i < Math.max(5, Math.floor(RUNS / 3)); i++) {
      const fresh = mkdtempSync('/run/toyrun-bench-store-');
      try {
        const t0 = process.hrtime.bigint();
        ensureLayer(openStore(fresh), BASE);
        unpack.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
    }
    const mp = median(p), ml = median(l);
    console.log(`image bench (${RUNS} interleaved runs each, medians)`);
    console.log(`  create, plain rootfs:            ${mp.toFixed(1)} ms`);
    console.log(`  create, unpacked layer (overlay): ${ml.toFixed(1)} ms  (difference ${(ml - mp).toFixed(1)} ms; goal: within 5 ms)`);
    console.log(`  first unpack of the busybox layer (${(readFileSync(BASE).length / 1048576).toFixed(1)} MiB tar: sha256 + unpack): ${median(unpack).toFixed(1)} ms`);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

main();
