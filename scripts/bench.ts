// make bench: toyrun against runc on the same bundle, in the same run,
// interleaved so that both see the same machine load. Prints medians and the
// toyrun/runc ratios, plus the RSS of a created-but-not-started init.
//   bun scripts/bench.ts [runs]
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '..');
const TOYRUN = join(REPO, 'bin', 'toyrun');
const RUNC = ['/usr/bin/runc', '/usr/sbin/runc'].find((p) => existsSync(p));
const RUNS = Number(process.argv[2] ?? 25);

function bundleFor(args: string[]): string {
  const dir = mkdtempSync('/tmp/toyrun-bench-');
  const spec = JSON.parse(readFileSync(join(REPO, 'bundles', 'busybox', 'config.json'), 'utf8'));
  spec.root = { path: join(REPO, 'bundles', 'busybox', 'rootfs'), readonly: true };
  spec.process.args = args;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** podman's real config.json (test/fixtures): seccomp,
 * capabilities, masked paths, binds of its run files. Its rootfs is a copy of the
 * busybox one (the binds create their destinations in it), its bind sources are
 * made here, and its network namespace (a path of podman's) becomes a new one. */
function podmanBundle(): string | undefined {
  const fixture = join(REPO, 'test', 'fixtures', 'podman-config.json');
  const dir = mkdtempSync('/tmp/toyrun-bench-podman-');
  spawnSync('/bin/cp', ['-a', join(REPO, 'bundles', 'busybox', 'rootfs'), join(dir, 'rootfs')]);
  const spec = JSON.parse(readFileSync(fixture, 'utf8'));
  spec.root = { path: join(dir, 'rootfs') };
  spec.process.args = ['true'];
  spec.process.terminal = false;
  delete spec.linux.cgroupsPath; // podman's slice: a per-id default, as for the busybox bundle
  for (const ns of spec.linux.namespaces) delete ns.path;
  for (const m of spec.mounts as { type?: string; source: string; destination: string }[]) {
    if (m.type !== 'bind') continue;
    m.source = join(dir, 'sources', m.destination.replace(/\//g, '_'));
    if (m.destination === '/dev/shm') spawnSync('/bin/mkdir', ['-p', m.source]);
    else {
      spawnSync('/bin/mkdir', ['-p', join(dir, 'sources')]);
      writeFileSync(m.source, '');
    }
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

// stderr goes to a file: a created container inherits it, and a pipe would
// keep spawnSync waiting until the container exits.
const ERR = join(mkdtempSync('/tmp/toyrun-bench-err-'), 'stderr');
function run(cmd: string, args: string[]): void {
  const fd = openSync(ERR, 'w');
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', fd] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${readFileSync(ERR, 'utf8')}`);
  } finally {
    closeSync(fd);
  }
}

function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Runtime {
  name: string;
  bin: string;
  root: string;
}

/** A "Name:   N kB" field of a /proc/<pid> file: VmRSS of status, or Pss of
 * smaps_rollup (shared pages, the engine's text, split between the processes mapping them). */
function procKiB(pid: number, file: 'status' | 'smaps_rollup', field: 'VmRSS' | 'Pss'): number {
  const line = readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

function pidOf(rt: Runtime, id: string): number {
  const r = spawnSync(rt.bin, ['--root', rt.root, 'state', id], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

async function main(): Promise<void> {
  const trueBundle = bundleFor(['true']);
  const sleepBundle = bundleFor(['sleep', '100']);
  const podman = podmanBundle();
  const runtimes: Runtime[] = [{ name: 'toyrun', bin: TOYRUN, root: mkdtempSync('/run/toyrun-bench-') }];
  if (RUNC) runtimes.push({ name: 'runc', bin: RUNC, root: mkdtempSync('/run/runc-bench-') });
  else console.log('runc not found (apt-get install runc): toyrun figures only');

  const results: Record<string, Record<string, number[]>> = {};
  const record = (rt: string, what: string, ms: number): void => {
    ((results[rt] ??= {})[what] ??= []).push(ms);
  };
  const rss: Record<string, number[]> = {};
  const parallel: Record<string, { perSecond: number; pssMiB: number }> = {};
  try {
    for (let i = 0; i < RUNS + 2; i++) {
      for (const rt of runtimes) {
        const g = ['--root', rt.root];
        const id = `bench-${process.pid}-${i}`;
        const tRun = timed(() => run(rt.bin, [...g, 'run', '--bundle', trueBundle, `${id}-r`]));
        const tPodman = podman ? timed(() => run(rt.bin, [...g, 'run', '--bundle', podman, `${id}-p`])) : NaN;
        // runc run leaves nothing to delete; toyrun run deletes on exit too
        let tCreate = 0, tStart = 0, tExec = 0, tDelete = 0;
        tCreate = timed(() => run(rt.bin, [...g, 'create', '--bundle', sleepBundle, id]));
        (rss[rt.name] ??= []).push(procKiB(pidOf(rt, id), 'status', 'VmRSS'));
        tStart = timed(() => run(rt.bin, [...g, 'start', id]));
        tExec = timed(() => run(rt.bin, [...g, 'exec', id, 'true']));
        const tState = timed(() => run(rt.bin, [...g, 'state', id]));
        const tList = timed(() => run(rt.bin, [...g, 'list']));
        const tKill = timed(() => run(rt.bin, [...g, 'kill', id, 'SIGCONT']));
        tDelete = timed(() => run(rt.bin, [...g, 'delete', '--force', id]));
        const tVersion = timed(() => run(rt.bin, ['--version'])); // the runtime's own start-up floor
        if (i < 2) continue; // warm-up
        record(rt.name, 'run true', tRun);
        if (podman) record(rt.name, 'run (podman config)', tPodman);
        record(rt.name, 'create', tCreate);
        record(rt.name, 'start', tStart);
        record(rt.name, 'exec true', tExec);
        record(rt.name, 'state', tState);
        record(rt.name, 'list', tList);
        record(rt.name, 'kill SIGCONT', tKill);
        record(rt.name, 'delete -f', tDelete);
        record(rt.name, 'create+start+delete', tCreate + tStart + tDelete);
        record(rt.name, '--version', tVersion);
      }
      const tFloor = timed(() => run(process.execPath, ['-e', '0']));
      if (i >= 2) record('toyrun', 'bun -e 0 (floor)', tFloor);
    }
    for (const rt of runtimes) parallel[rt.name] = await parallelCreates(rt, sleepBundle);
  } finally {
    for (const rt of runtimes) rmSync(rt.root, { recursive: true, force: true });
    rmSync(trueBundle, { recursive: true, force: true });
    rmSync(sleepBundle, { recursive: true, force: true });
    if (podman) rmSync(podman, { recursive: true, force: true });
    rmSync(join(ERR, '..'), { recursive: true, force: true });
  }
  const engine = spawnSync(TOYRUN, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[2];
  console.log(`toyrun vs runc, busybox bundle, ${RUNS} interleaved runs each (medians, ms; ${engine})`);
  console.log(`${'operation'.padEnd(22)}${'toyrun'.padStart(10)}${'runc'.padStart(10)}${'ratio'.padStart(10)}`);
  for (const what of Object.keys(results.toyrun ?? {})) {
    const t = median(results.toyrun![what]!);
    const r = results.runc?.[what] ? median(results.runc[what]) : NaN;
    console.log(`${what.padEnd(22)}${t.toFixed(1).padStart(10)}${(Number.isNaN(r) ? '-' : r.toFixed(1)).padStart(10)}${(Number.isNaN(r) ? '-' : (t / r).toFixed(2) + 'x').padStart(10)}`);
  }
  for (const [name, xs] of Object.entries(rss)) {
    console.log(`created init RSS (${name}): ${(median(xs) / 1024).toFixed(1)} MiB`);
  }
  for (const [name, p] of Object.entries(parallel)) {
    console.log(`${PARALLEL} parallel creates (${name}): ${p.perSecond.toFixed(1)} creates/s, ${p.pssMiB.toFixed(1)} MiB per created container (PSS of its init)`);
  }
}

const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 100);

/** PARALLEL creates started at once; creates/s from the first spawn to the last
 * exit; then the memory each created (waiting) container holds, and delete all. */
async function parallelCreates(rt: Runtime, bundle: string): Promise<{ perSecond: number; pssMiB: number }> {
  const ids = Array.from({ length: PARALLEL }, (_, i) => `bench-par-${process.pid}-${i}`);
  const g = ['--root', rt.root];
  const t0 = process.hrtime.bigint();
  const codes = await Promise.all(
    ids.map((id) => new Promise<number | null>((done) => spawn(rt.bin, [...g, 'create', '--bundle', bundle, id], { stdio: 'ignore' }).on('exit', done))),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    const failed = codes.filter((c) => c !== 0).length;
    if (failed > 0) throw new Error(`${rt.name}: ${failed} of ${PARALLEL} parallel creates failed`);
    const pss = ids.reduce((sum, id) => sum + procKiB(pidOf(rt, id), 'smaps_rollup', 'Pss'), 0);
    return { perSecond: PARALLEL / seconds, pssMiB: pss / PARALLEL / 1024 };
  } finally {
    for (const id of ids) spawnSync(rt.bin, [...g, 'delete', '--force', id], { stdio: 'ignore' });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
