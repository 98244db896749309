// CVE-2019-5736 class: a container must never get write access to a file of the
// runtime (the engine, dist/ bundles and bytecode caches, koffi's native module).
// The attacks target a private copy of the built tree (bin/, dist/, node_modules/),
// driven as the real runtime: a win rewrites that copy, never the checkout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { deadline, BUSYBOX_ROOTFS, FIXTURES, REPO, Toyrun, leftovers, sh, statusField, uniqueId, waitFor, type Result } from '../helpers';
import { CAPABILITY_NUMBERS } from '../../src/linux/capabilities';
import type { Spec } from '../../src/spec/types';
import { ATTACK_ENV, ATTACK_EXE, OVERLAYFS_SUPER_MAGIC, REOPEN, sealIsOverlay } from '../engine-attack';

const t = new Toyrun('security-engine');
test.after(() => t.cleanup());

// ---- the private tree and the container image ----------------------------------

const tree = join(t.tempDir('toyrun-engine-tree-'), 'toyrun');
mkdirSync(tree);
for (const d of ['bin', 'dist', 'node_modules']) assert.is(sh('cp', ['-a', join(REPO, d), tree]).status, 0, d);
// bin/toyrun is the engine: Bun with toyrun compiled in (src/main.ts)
const CLI = join(tree, 'bin', 'toyrun');

/** The runtime's files a container must not write: their inode numbers and one hash over all of them. */
function runtimeFiles(): string[] {
  const dist = readdirSync(join(tree, 'dist'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return [CLI, join(tree, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'), join(tree, 'node_modules', '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node'), ...dist];
}
function treeHash(): string {
  const h = createHash('sha256');
  for (const f of runtimeFiles()) h.update(f).update(readFileSync(f));
  return h.digest('hex');
}
const RUNTIME_INODES = new Set(runtimeFiles().map((f) => statSync(f).ino));
const HASH = treeHash();

/** Run the private copy's CLI, output on a file (a container may keep its stdio open). */
function copyRun(args: string[], opts: { prefix?: string[]; env?: Record<string, string> } = {}): Result & { out: string } {
  if (args[0] === 'create' || args[0] === 'run') t.track(args[args.length - 1] as string);
  const out = join(t.tempDir('toyrun-engine-out-'), 'out');
  const fd = openSync(out, 'w');
  try {
    const argv = [...(opts.prefix ?? []), CLI, '--root', t.root, ...args];
    const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', fd, fd], env: opts.env ?? {}, cwd: '/', timeout: deadline(60000) });
    const text = readFileSync(out, 'utf8');
    return { status: r.status ?? -1, stdout: text, stderr: text, signal: r.signal, out };
  } finally {
    closeSync(fd);
  }
}

/** A busybox rootfs that can run the engine (glibc-dynamic): the host's /usr/lib read-only. */
function glibcImage(files: Record<string, string>): string {
  const dir = t.tempDir('toyrun-engine-rootfs-');
  chmodSync(dir, 0o755); // a user namespace's root must reach it
  const rootfs = join(dir, 'rootfs');
  assert.is(sh('cp', ['-a', BUSYBOX_ROOTFS, rootfs]).status, 0);
  symlinkSync('usr/lib', join(rootfs, 'lib'));
  symlinkSync('usr/lib64', join(rootfs, 'lib64'));
  for (const d of ['usr/lib', 'usr/lib64', 'shared']) mkdirSync(join(rootfs, d), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(rootfs, name), text, { mode: 0o755 });
  return rootfs;
}

function glibcSpec(s: Spec, rootfs: string): void {
  s.root = { path: rootfs, readonly: true };
  for (const d of ['/usr/lib', '/usr/lib64']) s.mounts!.push({ destination: d, type: 'bind', source: d, options: ['rbind', 'ro'] });
}

/** Polled with the checkout's CLI: running the copy's engine would make it busy (ETXTBSY) for the attacker. */
function waitStopped(id: string): void {
  waitFor(() => t.state(id).status === 'stopped', `${id} to stop`, 30000);
}

// ---- attack 1: `#!/proc/self/exe` ------------------------------------------------

// The container's entrypoint is a script whose interpreter is /proc/self/exe
// (ATTACK_EXE and REOPEN, test/engine-attack.ts).

/** `mappedRoot`: the container's root is an unprivileged host id (its own user
 * namespace). Where the seal is a read-only bind clone (a kernel whose overlayfs
 * refuses a detached layer), the kernel checks permission before the mount's
 * read-only flag, so that root gets EACCES where the overlay would give EROFS:
 * it fails to write either way. */
function checkExeAttack(out: string, mappedRoot = false): void {
  const refused = mappedRoot && !sealIsOverlay() ? 'EROFS|ETXTBSY|EACCES' : 'EROFS|ETXTBSY';
  const refusedText = mappedRoot && !sealIsOverlay() ? '(Read-only file system|Permission denied)' : 'Read-only file system';
  assert.match(out, new RegExp(`self-exe append: (${refused})`), out);
  assert.match(out, new RegExp(`self-exe rdwr: (${refused})`), out);
  assert.match(out, /waited \d+/, out);
  for (const mode of ['append', 'rdwr', 'wronly']) assert.match(out, new RegExp(`${mode}: .*${refusedText}`), out);
  assert.not.match(out, /WROTE|OPENED/, out);
  assert.is(treeHash(), HASH, 'the runtime files changed');
}

// The flows podman and containerd use; the read-only bind mount toyrun falls back
// to where overlayfs is missing; a container in its own user namespace (its
// engine is started by the user-namespace stages).
const FLOWS = ['create + start', 'run --detach', 'run --detach (read-only bind fallback)', 'run --detach (user namespace)'];
for (const flow of FLOWS) {
  test(`CVE-2019-5736: a #!/proc/self/exe entrypoint (${flow}) cannot write the engine`, () => {
    const rootfs = glibcImage({ attack: ATTACK_EXE, reopen: REOPEN });
    const id = uniqueId('selfexe');
    const bundle = t.bundle((s) => {
      glibcSpec(s, rootfs);
      s.process!.args = ['/attack'];
      s.process!.env = [...(s.process!.env ?? []), ATTACK_ENV];
      if (flow.includes('user namespace')) {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
      }
    });
    let out: string;
    if (flow === 'create + start') {
      const c = copyRun(['create', '--bundle', bundle, id]);
      assert.is(c.status, 0, c.stderr);
      assert.is(copyRun(['start', id]).status, 0);
      out = c.out; // the container's stdout is create's
    } else {
      const env: Record<string, string> = flow.includes('bind fallback') ? { TOYRUN_SEAL_FORCE_BIND: '1' } : {};
      const r = copyRun(['run', '--detach', '--bundle', bundle, id], { env });
      assert.is(r.status, 0, r.stderr);
      out = r.out;
    }
    waitStopped(id);
    const text = readFileSync(out, 'utf8');
    // the engine the container got is on the sealed overlay, or on the bind fallback (the host's filesystem type)
    assert.match(text, /exe on fs 0x[0-9a-f]+/, text);
    if (flow.includes('bind fallback') || !sealIsOverlay()) assert.not.match(text, OVERLAYFS_SUPER_MAGIC, text);
    else assert.match(text, `exe on fs ${OVERLAYFS_SUPER_MAGIC}`, text);
    checkExeAttack(text, flow.includes('user namespace'));
    t.ok(['delete', '--force', id]);
    assert.equal(leftovers(t, id), []);
  });
}

// ---- attack 2: container processes watching /proc for exec helpers ---------------

// Watchers share the PID namespace of a container the host runs `toyrun exec` in
// 200 times, so every exec helper appears in their /proc. Each one (its own engine,
// Bun, not the runtime's) tries, for every process still named "toyrun" (a helper
// before its execve), to open /proc/<pid>/exe and /proc/<pid>/mem for
// writing at once, and keeps read handles on exe, map_files/* and fd/*; when the
// host says stop (no runtime process left), it reopens each handle for writing
// through /proc/self/fd/N.
const WATCH = String.raw`
const fs = require('fs');
const O_NONBLOCK = 0o4000;
const res = { engines: 0, scans: 0, direct: [], mem: [], reopened: [], handles: 0 };
const kept = new Map(); // "dev:ino" -> { fd, from: the exe link of the process it came from }
const seenEngine = new Set();
const me = String(process.pid);
const tryOpen = (p, flags) => { try { return fs.openSync(p, flags); } catch { return -1; } };
const keep = (p, from) => {
  const fd = tryOpen(p, fs.constants.O_RDONLY | O_NONBLOCK);
  if (fd < 0) return;
  const st = fs.fstatSync(fd);
  const key = st.dev + ':' + st.ino;
  if (!st.isFile() || kept.has(key)) fs.closeSync(fd); else kept.set(key, { fd, from });
};
fs.writeFileSync('/shared/ready', '');
while (!fs.existsSync('/shared/stop')) {
  res.scans++;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || d === me) continue;
    // the engine's name before and after an open: it was still the runtime then
    const comm = () => { try { return fs.readFileSync('/proc/' + d + '/comm', 'utf8').trim(); } catch { return ''; } };
    if (comm() !== 'toyrun') continue;
    if (!seenEngine.has(d)) { seenEngine.add(d); res.engines++; }
    let from = '';
    try { from = fs.readlinkSync('/proc/' + d + '/exe'); } catch {}
    for (const what of ['exe', 'mem']) {
      const fd = tryOpen('/proc/' + d + '/' + what, 'r+');
      if (fd >= 0 && comm() === 'toyrun') res[what === 'exe' ? 'direct' : 'mem'].push(d + ' ' + from);
      if (fd >= 0) fs.closeSync(fd);
    }
    keep('/proc/' + d + '/exe', from);
    for (const sub of ['map_files', 'fd']) {
      let names = [];
      try { names = fs.readdirSync('/proc/' + d + '/' + sub); } catch {}
      for (const n of names) keep('/proc/' + d + '/' + sub + '/' + n, from);
    }
  }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); // a helper lives for tens of ms: leave the CPU to it
}
res.handles = kept.size;
for (const { fd, from } of kept.values()) {
  for (const flags of ['a', 'r+']) {
    const w = tryOpen('/proc/self/fd/' + fd, flags);
    if (w >= 0) { res.reopened.push({ ino: fs.fstatSync(w).ino, path: fs.readlinkSync('/proc/self/fd/' + fd), flags, from }); fs.closeSync(w); }
  }
}
fs.writeFileSync('/shared/result.json', JSON.stringify(res));
`;

interface WatchResult {
  engines: number;
  scans: number;
  direct: string[];
  mem: string[];
  reopened: { ino: number; path: string; flags: string; from: string }[];
  handles: number;
}

const EXECS = 200;

/** Every capability this host lets toyrun grant (its own bounding set), but except. */
function allCaps(except: string[] = []): string[] {
  const bounding = BigInt('0x' + statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd'));
  return Object.entries(CAPABILITY_NUMBERS).filter(([k, n]) => (bounding >> BigInt(n)) & 1n && !except.includes(k)).map(([k]) => k);
}

function podmanCaps(): string[] {
  const pod = JSON.parse(readFileSync(join(FIXTURES, 'podman-config.json'), 'utf8')) as Spec;
  return pod.process?.capabilities?.bounding as string[];
}

// The runtime runs without CAP_SYS_PTRACE (as under a caller that dropped it): a
// container can then hold every capability its exec helpers hold.
const NO_PTRACE = ['/usr/bin/setpriv', '--bounding-set', '-sys_ptrace', '--inh-caps', '-all'];

interface Watcher {
  id: string;
  shared: string;
}

function startWatcher(victimPid: number, caps: string[], prefix: string[]): Watcher {
  const rootfs = glibcImage({});
  const shared = t.tempDir('toyrun-engine-shared-');
  writeFileSync(join(shared, 'watch.js'), WATCH);
  const id = uniqueId('watcher');
  const bundle = t.bundle((s) => {
    glibcSpec(s, rootfs);
    // the watcher's engine: the checkout's, read-only (not the runtime under attack)
    s.mounts!.push({ destination: '/watcher', type: 'bind', source: join(REPO, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'), options: ['bind', 'ro'] });
    s.mounts!.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
    s.process!.args = ['/watcher', '/shared/watch.js'];
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
    s.process!.noNewPrivileges = false;
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${victimPid}/ns/pid` } : n));
  });
  const r = copyRun(['run', '--detach', '--bundle', bundle, id], { prefix });
  assert.is(r.status, 0, r.stderr);
  waitFor(() => readdirSync(shared).includes('ready'), 'the watcher');
  return { id, shared };
}

function stopWatcher(w: Watcher): WatchResult {
  writeFileSync(join(w.shared, 'stop'), '');
  waitStopped(w.id);
  const res = JSON.parse(readFileSync(join(w.shared, 'result.json'), 'utf8')) as WatchResult;
  t.ok(['delete', '--force', w.id]);
  assert.equal(leftovers(t, w.id), []);
  return res;
}

function assertNoRuntimeWrite(what: string, res: WatchResult, privileged: boolean): void {
  // it did race: exec helpers were seen while still the engine
  assert.ok(res.engines > 0, `${what}: no exec helper seen before its execve: ${JSON.stringify(res)}`);
  const fromTree = (from: string): boolean => from.startsWith(tree + '/');
  // the kernel's rule: CAP_SYS_PTRACE opens the memory of any process
  if (!privileged) assert.equal(res.mem, [], `${what}: opened an exec helper's memory for writing`);
  assert.equal(res.direct.filter((d) => !(privileged && fromTree(d.split(' ')[1] ?? ''))), [], `${what}: opened an exec helper's exe for writing`);
  // A privileged watcher (CAP_SYS_PTRACE and CAP_SYS_ADMIN over the host) also
  // reaches posix_spawn's child between its clone and its execve: a copy of the
  // CLI, run from the host's path (its exe link names the tree), which it could
  // ptrace as the kernel allows it to any process (src/linux/spawn.ts). What
  // must hold even then: no runtime process started from the sealed tree gives
  // a writable handle.
  const won = res.reopened.filter((r) => RUNTIME_INODES.has(r.ino) && !(privileged && fromTree(r.from)));
  assert.equal(won, [], `${what}: reopened a runtime file for writing`);
}

test(`CVE-2019-5736: containers watching /proc through ${EXECS} execs (podman's caps; every cap the runtime has; all caps) never get write access to the runtime`, () => {
  const victim = uniqueId('victim');
  const vb = t.bundle((s) => void (s.process!.args = ['sleep', '3600']));
  assert.is(copyRun(['run', '--detach', '--bundle', vb, victim]).status, 0);
  const victimPid = t.state(victim).pid as number;
  // podman's default capabilities: no CAP_SYS_PTRACE, fewer than the runtime's
  const podman = startWatcher(victimPid, podmanCaps(), NO_PTRACE);
  // every capability the (CAP_SYS_PTRACE-less) runtime holds: ptrace_may_access's
  // capability check passes, only non-dumpable helpers and read-only files stand
  const equal = startWatcher(victimPid, allCaps(['CAP_SYS_PTRACE']), NO_PTRACE);
  // all of them: CAP_SYS_PTRACE overrides non-dumpable (the kernel's rule for a
  // privileged container), so /proc/<pid>/mem opens; the runtime's files never do
  const all = startWatcher(victimPid, allCaps(), []);
  for (let i = 0; i < EXECS; i++) {
    const e = copyRun(['exec', victim, 'true'], { prefix: NO_PTRACE });
    assert.is(e.status, 0, e.stderr);
  }
  const results = { podman: stopWatcher(podman), equal: stopWatcher(equal), all: stopWatcher(all) };
  t.ok(['delete', '--force', victim]);
  assertNoRuntimeWrite("podman's caps", results.podman, false);
  assertNoRuntimeWrite('every cap of the runtime', results.equal, false);
  assert.ok(results.all.handles > 0, 'the all-caps watcher got no handle at all');
  assertNoRuntimeWrite('all caps', results.all, true);
  assert.is(treeHash(), HASH, 'the runtime files changed');
});

test.run();
