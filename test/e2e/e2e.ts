// Shared by the end-to-end suites: the real callers (podman 4.3 through conmon,
// containerd 1.6 through its runc v2 shim) drive toyrun, and the same script
// drives runc as the reference. Each scenario is recorded per runtime and the
// table is printed when a suite ends.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUSYBOX_ROOTFS, REPO, TOYRUN, requireTool } from '../helpers';

export interface Runtime {
  name: 'toyrun' | 'runc';
  path: string;
}
export const RUNTIMES: Runtime[] = [
  { name: 'toyrun', path: TOYRUN },
  { name: 'runc', path: '/usr/sbin/runc' },
];

export const IMAGE = 'localhost/toyrun-e2e-busybox:latest';

/** podman 4.3's attach can miss the output of a terminal container that exits
 * within milliseconds of its start: conmon's log has it, the attached client not
 * (a loop of rootless `run -it`: runc 2 of 15, toyrun 2-4 of 15-20; with this
 * linger, 0 of 20 each). A shell command given to such a container ends with it. */
export const ATTACH_LINGER = '; sleep 0.3';
/** The project's podman settings (overlay storage, no network, rlimits this host allows). */
export const CONTAINERS_CONF = join(REPO, 'test', 'fixtures', 'containers-toyrun.conf');

export interface Out {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Out {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 90000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** A command line run under script(1), which gives it a pty as its terminal. */
export function inPty(cmdline: string, env: NodeJS.ProcessEnv, input?: string, cwd?: string): Out {
  const r = run('/usr/bin/script', ['-qec', cmdline, '/dev/null'], { env, input, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  // ctr sometimes writes a NUL into the terminal (from its stdin copy), which the
  // tty echoes as "^@" wherever the output happens to be: not the runtime's doing
  return { ...r, stdout: r.stdout.replace(/\^@|\0/g, '') };
}

export function shellQuote(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

let counter = 0;
export function uniqueName(prefix: string): string {
  return `toyrun-e2e-${prefix}-${process.pid}-${++counter}`;
}

/** Commands that other branches add (pause/resume: resources issue): tests for
 * them are skipped, and shown as such, when this build lacks them. */
export function toyrunHas(command: string): boolean {
  const r = run(TOYRUN, [command], { env: {} });
  return !/unknown command/.test(r.stderr);
}

export function toyrunHasSeccomp(): boolean {
  const r = run(TOYRUN, ['features'], { env: {} });
  try {
    return (JSON.parse(r.stdout) as { linux: { seccomp: { enabled: boolean } } }).linux.seccomp.enabled;
  } catch {
    return false;
  }
}

/** A busybox image built locally: no registry is reachable from these machines. */
export function ensurePodmanImage(env: NodeJS.ProcessEnv): void {
  requireTool('/usr/bin/podman', 'podman');
  if (run('podman', ['image', 'exists', IMAGE], { env }).status === 0) return;
  const dir = mkdtempSync('/tmp/toyrun-e2e-img-');
  try {
    const tar = join(dir, 'rootfs.tar');
    const t = run('tar', ['-C', BUSYBOX_ROOTFS, '-cf', tar, '.']);
    if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
    const r = run('podman', ['import', tar, IMAGE], { env });
    if (r.status !== 0) throw new Error(`podman import: ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function haveTool(path: string): boolean {
  return existsSync(path);
}

type Verdict = 'pass' | 'FAIL' | `skipped (${string})`;
const results = new Map<string, Partial<Record<Runtime['name'], Verdict>>>();

/** Rows appear in the order scenarios are declared, whatever runs first. */
export function declareScenario(scenario: string): void {
  if (!results.has(scenario)) results.set(scenario, {});
}

export function record(scenario: string, rt: Runtime['name'], v: Verdict): void {
  const row = results.get(scenario) ?? {};
  row[rt] = v;
  results.set(scenario, row);
}

/** The scenario → toyrun / runc table, as it goes into the closing note. */
export function printResults(title: string): void {
  const rows = [...results.entries()].filter(([s]) => s.startsWith(title));
  if (rows.length === 0) return;
  const w = Math.max(...rows.map(([s]) => s.length));
  const lines = [`\n${'scenario'.padEnd(w)} | toyrun | runc`, `${'-'.repeat(w)}-|--------|------`];
  for (const [s, r] of rows) lines.push(`${s.padEnd(w)} | ${r.toyrun ?? '-'} | ${r.runc ?? '-'}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export interface Scenario {
  name: string;
  /** A toyrun command the scenario needs; skipped (and said so) in a build without it. */
  needs?: string;
  fn: (rt: Runtime) => void;
}

/** The scenarios every podman suite starts with, however it runs podman (as root, as a user). */
export function basicPodmanScenarios(podman: (rt: Runtime, args: string[]) => Out): Scenario[] {
  return [
    {
      name: 'run --rm echo hi',
      fn: (rt) => {
        const r = podman(rt, ['run', '--rm', IMAGE, 'echo', 'hi']);
        assert.is(r.stdout, 'hi\n', r.stderr);
        assert.is(r.status, 0);
      },
    },
    {
      name: 'exit code passthrough (exit 7)',
      fn: (rt) => assert.is(podman(rt, ['run', '--rm', IMAGE, 'sh', '-c', 'exit 7']).status, 7),
    },
  ];
}

/** Register every scenario once per runtime, recording each verdict for the table.
 * E2E_TIMES=1 prints how long each took. */
export function registerScenarios(test: Test, prefix: string, scenarios: Scenario[], setup: () => void = () => undefined): void {
  // uvu swallows an error thrown by a before hook (its tests then just don't
  // count), so setup runs with the first test and its failure fails every test,
  // each with the message (a missing tool names the package that provides it).
  let setupError: unknown;
  let setupDone = false;
  const ensureSetup = (): void => {
    if (!setupDone) {
      setupDone = true;
      try {
        setup();
      } catch (e) {
        setupError = e;
      }
    }
    if (setupError) throw setupError;
  };
  for (const rt of RUNTIMES) {
    for (const s of scenarios) {
      const title = `${prefix}: ${s.name}`;
      declareScenario(title);
      if (rt.name === 'toyrun' && s.needs && !toyrunHas(s.needs)) {
        record(title, rt.name, `skipped (no \`${s.needs}\` command in this build)`);
        test.skip(`${title} [${rt.name}]`, () => undefined);
        continue;
      }
      test(`${title} [${rt.name}]`, () => {
        try {
          ensureSetup();
          requireTool(rt.path, rt.name);
          const t0 = Date.now();
          s.fn(rt);
          if (process.env.E2E_TIMES) process.stderr.write(`${title} [${rt.name}] ${Date.now() - t0} ms\n`);
          record(title, rt.name, 'pass');
        } catch (e) {
          record(title, rt.name, 'FAIL');
          throw e;
        }
      });
    }
  }
}
