// Shared by the integration tests: run bin/toyrun for real, build throw-away
// bundles from bundles/busybox, and check that nothing is left behind.
// Every test file gets its own --root, and every container a unique id, so
// files can run side by side; cleanup deletes by id, never by name pattern.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IdMapping, Spec } from '../src/spec/types';
import { accept, close as closeFd } from '../src/linux/libc';
import { listenConsoleSocket, recvConsoleMessage, type ConsoleMessage } from '../src/linux/console';
import { hostCgroupVersion, hostHierarchies } from '../src/linux/cgroups/layout';
import { unreachableBy } from '../src/linux/userns';

export const REPO = resolve(__dirname, '..');
export const TOYRUN = join(REPO, 'bin', 'toyrun');
/** The busybox rootfs the tests run. A checkout in a directory only root may
 * search (`mktemp -d` makes one, mode 0700) is out of reach of a container's
 * mapped root and of the test users: the tests then run a copy of it in a
 * world-searchable directory of their own, removed when the test process exits. */
function reachableRootfs(): string {
  const rootfs = join(REPO, 'bundles', 'busybox', 'rootfs');
  if (unreachableBy(rootfs, 65534, 65534) === undefined) return rootfs;
  const dir = mkdtempSync('/tmp/toyrun-test-rootfs-');
  chmodSync(dir, 0o755);
  const r = spawnSync('/bin/cp', ['-a', rootfs, join(dir, 'rootfs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`copying ${rootfs} where a mapped root can reach it: ${r.stderr}`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'rootfs');
}
export const BUSYBOX_ROOTFS = reachableRootfs();
/** Real callers' configs and runc's reference outputs, kept in the repository. */
export const FIXTURES = join(REPO, 'test', 'fixtures');

/** A test that needs a host tool fails (never crashes the run) when it is missing,
 * naming the Debian package that `make test` installs for it. */
export function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg} (make test installs it as root)`);
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
  signal: NodeJS.Signals | null;
}

/** How much slower than a quiet machine this one starts a toyrun process (at least 1,
 * at most 20): the engine's start-up, best of three, against 40 ms. Hang deadlines
 * (never timings: no test asserts a duration) are multiplied by it, so an emulated
 * host (the cgroup2 VM, ~15x slower) fails only on a real hang.
 * TOYRUN_TEST_DEADLINE_SCALE overrides it. */
export const DEADLINE_SCALE = ((): number => {
  const forced = Number(process.env.TOYRUN_TEST_DEADLINE_SCALE);
  if (forced > 0) return forced;
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync(TOYRUN, ['--version'], { stdio: 'ignore', env: {}, timeout: 60000 });
    best = Math.min(best, performance.now() - t0);
  }
  return Math.min(20, Math.max(1, Math.round(best / 40)));
})();

/** A hang deadline of ms on a quiet machine, scaled for this one. */
export function deadline(ms: number): number {
  return ms * DEADLINE_SCALE;
}

/** Run a command and collect its output through files, not pipes: a container
 * started by `create` or `run --detach` inherits the caller's stdout/stderr and
 * would hold pipes open (and spawnSync waiting) until it exits. */
export function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Result {
  const dir = mkdtempSync('/tmp/toyrun-out-');
  const outFd = openSync(join(dir, 'out'), 'w+');
  const errFd = openSync(join(dir, 'err'), 'w+');
  try {
    const input = opts.input;
    const r = spawnSync(cmd, args, { timeout: deadline(60000), ...opts, stdio: [input === undefined ? 'ignore' : 'pipe', outFd, errFd] });
    return { status: r.status ?? -1, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8'), signal: r.signal };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

let counter = 0;
/** A per-process unique container id. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** One test file's toyrun: its own state root, and the ids it must clean up. */
export class Toyrun {
  readonly root: string;
  private readonly ids = new Set<string>();
  private readonly dirs: string[] = [];

  /** `parent`: where the state root goes; /run is a tmpfs of 10% of RAM on most hosts,
   * so a test that stores a lot (the 1 GiB layer) puts its root on a disk instead. */
  constructor(name: string, parent = '/run/toyrun-test') {
    mkdirSync(parent, { recursive: true });
    this.root = mkdtempSync(`${parent}/${name}-`);
  }

  /** Run `toyrun --root ROOT args...`; remembers ids of create/run for cleanup. */
  run(args: string[], opts: SpawnSyncOptions = {}): Result {
    const cmd = args[0];
    if (cmd === 'create' || cmd === 'run') {
      const id = args[args.length - 1];
      if (id) this.ids.add(id);
    }
    return sh(TOYRUN, ['--root', this.root, ...args], { env: {}, cwd: '/', ...opts });
  }

  ok(args: string[], opts: SpawnSyncOptions = {}): Result {
    const r = this.run(args, opts);
    if (r.status !== 0) throw new Error(`toyrun ${args.join(' ')} ${r.signal ? `killed by ${r.signal}` : `exited ${r.status}`}: ${r.stderr}`);
    return r;
  }

  track(id: string): void {
    this.ids.add(id);
  }

  /** A bundle dir with config.json from bundles/busybox, edited by fn. */
  bundle(fn: (spec: Spec) => void = () => undefined): string {
    const dir = mkdtempSync('/tmp/toyrun-bundle-');
    this.dirs.push(dir);
    const spec = busyboxSpec();
    fn(spec);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  }

  tempDir(prefix = 'toyrun-test-'): string {
    const dir = mkdtempSync(`/tmp/${prefix}`);
    this.dirs.push(dir);
    return dir;
  }

  /** `run` a one-off container running `sh -c script`; returns its output. */
  sh(script: string, fn: (spec: Spec) => void = () => undefined, extraArgs: string[] = []): Result {
    const bundle = this.bundle((s) => {
      (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', script];
      fn(s);
    });
    return this.run(['run', '--bundle', bundle, ...extraArgs, uniqueId('sh')]);
  }

  state(id: string): Record<string, unknown> {
    return JSON.parse(this.ok(['state', id]).stdout) as Record<string, unknown>;
  }

  cleanup(): void {
    for (const id of this.ids) this.run(['delete', '--force', id]);
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function busyboxSpec(): Spec {
  const spec = JSON.parse(readFileSync(join(REPO, 'bundles', 'busybox', 'config.json'), 'utf8')) as Spec;
  spec.root = { path: BUSYBOX_ROOTFS, readonly: true };
  return spec;
}

/** The tests' user namespace: the container's root is host uid/gid 300000, 65536 ids. */
export const USERNS_MAP: IdMapping[] = [{ containerID: 0, hostID: 300000, size: 65536 }];

/** A new user namespace in the spec, with these maps. */
export function withUserns(s: Spec, uid: IdMapping[] = USERNS_MAP, gid: IdMapping[] = USERNS_MAP): void {
  const linux = s.linux ?? (s.linux = {});
  linux.namespaces = [...(linux.namespaces ?? []), { type: 'user' }];
  linux.uidMappings = uid;
  linux.gidMappings = gid;
}

/** Capabilities added to the bounding, effective and permitted sets of the spec's process. */
export function addCaps(s: Spec, ...caps: string[]): void {
  const p = s.process as NonNullable<Spec['process']>;
  const c = p.capabilities ?? {};
  for (const k of ['bounding', 'effective', 'permitted'] as const) c[k] = [...(c[k] ?? []), ...caps];
  p.capabilities = c;
}

/** Everything a container could leave on the host, by id. */
export function leftovers(t: Toyrun, id: string): string[] {
  const found: string[] = [];
  if (existsSync(join(t.root, id))) found.push(`state dir ${join(t.root, id)}`);
  for (const ctrl of ['', ...readdirSync('/sys/fs/cgroup')]) {
    const p = join('/sys/fs/cgroup', ctrl, 'toyrun', id); // v1: per controller; unified: /sys/fs/cgroup/toyrun/<id>
    if (existsSync(p)) found.push(`cgroup ${p}`);
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(id));
  found.push(...mounts.map((m) => `mount ${m}`));
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/toyrun/${id}\n`)) found.push(`process ${p}`);
    } catch {
      // exited
    }
  }
  return found;
}

export function statusField(text: string, field: string): string {
  const line = text.split('\n').find((l) => l.startsWith(field + ':'));
  return (line ?? '').slice(field.length + 1).trim();
}

/** Poll until fn() is truthy (a safety deadline, not a timing assertion). */
export function waitFor<T>(fn: () => T | undefined | false, what: string, ms = 15000): T {
  const end = Date.now() + deadline(ms);
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** Everything a pty master yields until every slave fd is closed (then read
 * fails with EIO); the master is closed afterwards. */
export function drainPty(master: number): string {
  const buf = Buffer.alloc(4096);
  let out = '';
  for (;;) {
    let n = 0;
    try {
      n = readSync(master, buf);
    } catch {
      break;
    }
    if (n <= 0) break;
    out += buf.subarray(0, n).toString();
  }
  closeSync(master);
  return out;
}

/** A --console-socket listener in dir, as conmon and the containerd shim keep one:
 * accept() takes the message the runtime sent with the pty master. */
export function consoleReceiver(dir: string): { path: string; accept(): ConsoleMessage; close(): void } {
  const path = join(dir, 'console.sock');
  const fd = listenConsoleSocket(path);
  return {
    path,
    accept(): ConsoleMessage {
      const conn = accept(fd);
      try {
        return recvConsoleMessage(conn, path);
      } finally {
        closeFd(conn);
      }
    },
    close: () => closeFd(fd),
  };
}

// ---- the host's cgroup layout ------------------------------------------------
// Tests that look at cgroup files run on both layouts: v1/hybrid (one directory
// per controller, cgroup2 beside them at /sys/fs/cgroup/unified: the project's
// machines) and unified (one cgroup2 tree at /sys/fs/cgroup: systemd hosts such as
// a default Debian 12). The layout is read from mountinfo, as toyrun reads it.

/** True on a unified (cgroup2-only) host. */
export const CGROUP_V2 = hostCgroupVersion() === 2;

/** The file of a container's cgroup that holds its memory limit on this host's layout. */
export const MEMORY_LIMIT_FILE = CGROUP_V2 ? 'memory.max' : 'memory.limit_in_bytes';

/** The cgroup2 mount: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
export const CGROUP2_MOUNT = hostHierarchies().find((h) => h.version === 2)?.mountpoint ?? '/sys/fs/cgroup/unified';

/** Directory of cgroup `rel` (e.g. "toyrun/<id>") for a v1 controller; the one cgroup2 directory on a unified host. */
export function cgroupDir(controller: string, rel: string): string {
  return CGROUP_V2 ? join('/sys/fs/cgroup', rel) : join('/sys/fs/cgroup', controller, rel);
}

/** Controllers a new cgroup directly below the root gets on this cgroup2 (the root's cgroup.subtree_control). */
export function cgroup2RootControllers(): string[] {
  try {
    return readFileSync(join(CGROUP2_MOUNT, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** Controllers a new container cgroup /toyrun/<id> gets on this cgroup2: toyrun enables
 * controllers only in directories a create makes, so once /toyrun exists they are its
 * cgroup.subtree_control, which may lack what the root enabled later (runc enables every
 * available controller at the root); before that, the root's. */
export function cgroup2ToyrunControllers(): string[] {
  const parent = join(CGROUP2_MOUNT, 'toyrun');
  if (!existsSync(parent)) return cgroup2RootControllers();
  return readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter(Boolean);
}

/** systemd is the init system (sd_booted: /run/systemd/system exists). */
export const SYSTEMD_BOOTED = existsSync('/run/systemd/system');
