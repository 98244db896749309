// The cost of a user namespace: median wall time of `create` + `delete` of the
// busybox bundle, without and with {"type":"user"} (+ uid/gid maps).
// Usage: bun scripts/bench-userns.ts [runs]   (root; `make` first)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Spec } from '../src/spec/types';

const REPO = resolve(__dirname, '..');
const TOYRUN = join(REPO, 'bin', 'toyrun');
const RUNS = Number(process.argv[2] ?? 15);

function bundle(userns: boolean): string {
  const spec = JSON.parse(readFileSync(join(REPO, 'bundles', 'busybox', 'config.json'), 'utf8')) as Spec;
  spec.root = { path: join(REPO, 'bundles', 'busybox', 'rootfs'), readonly: true };
  if (userns) {
    const linux = spec.linux ?? (spec.linux = {});
    linux.namespaces = [...(linux.namespaces ?? []), { type: 'user' }];
    linux.uidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
    linux.gidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
  }
  const dir = mkdtempSync('/tmp/toyrun-bench-userns-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** stdio to /dev/null, not pipes: the created init keeps its stdio open, and
 * spawnSync would wait for the pipes to close. */
function toyrun(root: string, args: string[]): void {
  const r = spawnSync(TOYRUN, ['--root', root, ...args], { stdio: 'ignore', env: {}, cwd: '/' });
  if (r.status !== 0) {
    const why = spawnSync(TOYRUN, ['--root', root, 'delete', '--force', args[args.length - 1] as string], { stdio: 'ignore' });
    throw new Error(`toyrun ${args.join(' ')}: exit ${r.status} (cleanup exit ${why.status})`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function measure(root: string, dir: string, tag: string): number[] {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const id = `bench-${tag}-${process.pid}-${i}`;
    const t0 = process.hrtime.bigint();
    toyrun(root, ['create', '--bundle', dir, id]);
    toyrun(root, ['delete', '--force', id]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

const root = mkdtempSync('/run/toyrun-bench-userns-');
const plain = bundle(false), userns = bundle(true);
try {
  measure(root, plain, 'warm');
  // interleaved rounds, so that load from elsewhere on the machine hits both alike
  const a: number[] = [], b: number[] = [];
  for (let round = 0; round < 3; round++) {
    a.push(...measure(root, plain, `p${round}`));
    b.push(...measure(root, userns, `u${round}`));
  }
  const ma = median(a), mb = median(b);
  console.log(`create+delete, median of ${a.length}: plain ${ma.toFixed(1)} ms, user namespace ${mb.toFixed(1)} ms, extra ${(mb - ma).toFixed(1)} ms`);
} finally {
  for (const d of [plain, userns, root]) rmSync(d, { recursive: true, force: true });
}
