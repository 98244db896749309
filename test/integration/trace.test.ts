// `toyrun --trace FILE`: what every toyrun process of a command asked the kernel,
// recorded from src/linux/libc.ts, and `toyrun trace show` telling and drawing it.
// The picture is checked in headless Chromium (Debian's chromium): lanes and
// stages in the rendered DOM, and a screenshot that is not blank.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { leftovers, MEMORY_LIMIT_FILE, requireTool, sh, Toyrun, uniqueId } from '../helpers';
import type { Seccomp, Spec } from '../../src/spec/types';
import type { TraceRecord } from '../../src/trace/record';

const t = new Toyrun('trace');
const CHROMIUM = '/usr/bin/chromium';

const denyKexec: Seccomp = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['kexec_load'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};

function traced(args: string[], file: string): ReturnType<Toyrun['run']> {
  return t.run(['--trace', file, ...args]);
}

/** Every line one whole JSON object (lines of several processes never interleave). */
function readTrace(file: string): TraceRecord[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'), 'the trace ends with a whole line');
  return text.trimEnd().split('\n').map((l, i) => {
    try {
      return JSON.parse(l) as TraceRecord;
    } catch {
      throw new Error(`line ${i + 1} is not one JSON object: ${l.slice(0, 200)}`);
    }
  });
}

function firstIndex(recs: TraceRecord[], what: string, pred: (r: TraceRecord) => boolean): number {
  const i = recs.findIndex(pred);
  assert.ok(i >= 0, `no ${what} step in the trace`);
  return i;
}

function traceFile(): string {
  return join(t.tempDir('toyrun-trace-'), 'run.jsonl');
}

test('run of the busybox bundle: namespace, mount, pivot_root, cgroup, seccomp and execve steps in order, with the config paths behind them', () => {
  const file = traceFile();
  const bundle = t.bundle((s: Spec) => {
    s.linux = { ...s.linux, seccomp: denyKexec, resources: { ...s.linux?.resources, memory: { limit: 33554432 } } };
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', 'echo traced-ok; ls /proc/self/fd'];
  });
  const r = traced(['run', '--bundle', bundle, uniqueId('tr')], file);
  assert.is(r.status, 0, r.stderr);
  // the container ran as it would untraced, and got no trace fd: 0-2, and ls's own directory fd
  assert.equal(r.stdout.trim().split('\n'), ['traced-ok', '0', '1', '2', '3']);
  const recs = readTrace(file).sort((a, b) => a.t - b.t);
  for (const rec of recs) {
    assert.type(rec.t, 'number');
    assert.type(rec.pid, 'number');
    assert.ok(['cli', 'init'].includes(rec.role), `role ${rec.role}`);
  }
  const init = recs.find((x) => x.role === 'init') as TraceRecord;
  assert.ok(init.pid !== 1, 'the init is named by its host PID');
  const cgroup = firstIndex(recs, 'memory limit', (x) => x.call === 'write' && (x.args ?? '').includes(`${MEMORY_LIMIT_FILE} = "33554432"`));
  assert.is(recs[cgroup]?.cause, '/linux/resources/memory/limit');
  const ns = firstIndex(recs, 'unshare', (x) => x.role === 'init' && x.call === 'unshare' && /CLONE_NEWNS/.test(x.args ?? ''));
  assert.match(recs[ns]?.cause ?? '', /^\/linux\/namespaces\/\d/);
  assert.is(recs[ns]?.stage, 'namespaces');
  const mount = firstIndex(recs, 'mount of /mounts/0', (x) => x.role === 'init' && x.cause === '/mounts/0' && (x.call === 'mount' || x.call === 'move_mount'));
  const pivot = firstIndex(recs, 'pivot_root', (x) => x.call === 'pivot_root');
  assert.is(recs[pivot]?.args, '".", "."');
  assert.is(recs[pivot]?.result, 'ok');
  assert.is(recs[pivot]?.cause, '/root/path');
  const seccomp = firstIndex(recs, 'seccomp', (x) => x.call === 'seccomp');
  assert.match(recs[seccomp]?.args ?? '', /SECCOMP_SET_MODE_FILTER, .*\d+ BPF instructions/);
  assert.is(recs[seccomp]?.cause, '/linux/seccomp');
  const execve = firstIndex(recs, 'execve', (x) => x.call === 'execve');
  assert.match(recs[execve]?.args ?? '', /^"\/bin\/sh", \["sh", "-c", /);
  assert.is(recs[execve]?.cause, '/process/args');
  assert.not.match(recs[execve]?.args ?? '', /PATH=/, 'environment values stay out of the trace');
  assert.ok(cgroup < ns && ns < mount && mount < pivot && pivot < seccomp && seccomp < execve, `order: ${[cgroup, ns, mount, pivot, seccomp, execve]}`);
  const mountCall = recs.find((x) => x.call === 'mount' && /"tmpfs", MS_NOSUID\|MS_STRICTATIME/.test(x.args ?? ''));
  assert.ok(mountCall, 'mount flags are decoded');
  const end = recs[recs.length - 1] as TraceRecord;
  assert.is(end.kind, 'end');
  assert.is(end.code, 0);
});

test('a failing create: the trace ends with the failing syscall and its errno, and nothing is left behind', () => {
  const file = traceFile();
  const id = uniqueId('trbad');
  const bundle = t.bundle((s) => {
    // onto a directory the shared busybox rootfs has: the failing mount must not leave a new mountpoint in it
    s.mounts = [...(s.mounts ?? []), { destination: '/tmp', type: 'nosuchfs', source: 'none' }];
  });
  const r = traced(['create', '--bundle', bundle, id], file);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /ENODEV/);
  const recs = readTrace(file);
  const last = recs[recs.length - 1] as TraceRecord;
  assert.is(last.kind, 'end');
  assert.is(last.code, 1);
  assert.is(last.failed?.call, 'mount');
  assert.is(last.failed?.result, 'ENODEV');
  assert.match(last.failed?.args ?? '', /"nosuchfs"/);
  assert.is(last.failed?.role, 'init');
  assert.is(last.failed?.stage, 'mounts');
  assert.is(last.failed?.cause, `/mounts/${(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec).mounts?.length as number - 1}`);
  assert.equal(leftovers(t, id), []);
  const story = t.ok(['trace', 'show', file]).stdout;
  assert.match(story, /exited with 1: the step that failed was mount\("none", .*"nosuchfs".*\) ✗ ENODEV in init \(pid \d+\), stage "mounts", caused by \/mounts\/\d+/);
});

test('create, start, exec, delete: every command and every process appends to one trace', () => {
  const file = traceFile();
  const id = uniqueId('trlife');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = ['sleep', '30'];
  });
  for (const args of [['create', '--bundle', bundle, id], ['start', id], ['exec', id, 'sh', '-c', 'echo exec-ok'], ['delete', '--force', id]]) {
    const r = traced(args, file);
    assert.is(r.status, 0, `${args[0]}: ${r.stderr}`);
    if (args[0] === 'exec') assert.is(r.stdout, 'exec-ok\n');
  }
  const recs = readTrace(file);
  const cmds = new Set(recs.filter((x) => x.role === 'cli').map((x) => x.cmd));
  assert.equal([...cmds], ['create', 'start', 'exec', 'delete']);
  assert.ok(recs.some((x) => x.role === 'init' && x.stage === 'wait for start'));
  // `start` opens exec.fifo for writing: the init's blocked open returns
  assert.ok(recs.some((x) => x.role === 'cli' && x.cmd === 'start' && x.call === 'openat' && /exec\.fifo", O_WRONLY/.test(x.args ?? '')));
  const helper = recs.filter((x) => x.role === 'exec helper');
  assert.ok(helper.some((x) => x.call === 'setns' && /CLONE_NEWNS/.test(x.args ?? '')), 'the exec helper joins the mount namespace');
  assert.ok(helper.some((x) => x.call === 'execve' && /"\/bin\/sh"/.test(x.args ?? '')));
  assert.ok(recs.some((x) => x.role === 'cli' && x.cmd === 'delete' && x.call === 'kill'));
  assert.equal(leftovers(t, id), []);
});

test('a user-namespace container: stage 1 and the init both trace, as the mapped root', () => {
  const file = traceFile();
  const bundle = t.bundle((s) => {
    const linux = s.linux ?? (s.linux = {});
    linux.namespaces = [...(linux.namespaces ?? []), { type: 'user' }];
    linux.uidMappings = [{ containerID: 0, hostID: 310000, size: 65536 }];
    linux.gidMappings = [{ containerID: 0, hostID: 310000, size: 65536 }];
    (s.process as NonNullable<Spec['process']>).args = ['sh', '-c', 'cat /proc/self/uid_map'];
  });
  const r = traced(['run', '--bundle', bundle, uniqueId('trus')], file);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /0\s+310000\s+65536/);
  const recs = readTrace(file);
  const stage1 = recs.filter((x) => x.role === 'userns stage 1');
  assert.ok(stage1.some((x) => x.call === 'unshare' && x.args === 'CLONE_NEWPID'), 'stage 1 unshares the PID namespace');
  assert.ok(stage1.some((x) => x.call === 'posix_spawn' && x.result === 'ok'), 'stage 1 spawns stage 2');
  const init = recs.filter((x) => x.role === 'init');
  assert.ok(init.some((x) => x.call === 'pivot_root' && x.result === 'ok'));
  assert.ok(init.some((x) => x.call === 'execve'));
  // the CLI, host root, writes the maps of the namespace it had made
  const uidMap = recs.find((x) => x.role === 'cli' && x.call === 'write' && /"0 310000 65536/.test(x.args ?? '') && x.cause === '/linux/uidMappings');
  assert.ok(uidMap, 'the CLI writes uid_map, caused by /linux/uidMappings');
  assert.is(uidMap?.stage, 'user namespace');
});

test('trace show: a numbered narrative by stage, each with why and where in the code', () => {
  const file = traceFile();
  const r = traced(['run', '--bundle', t.bundle(), uniqueId('trshow')], file);
  assert.is(r.status, 0, r.stderr);
  const story = t.ok(['trace', 'show', file]).stdout;
  assert.match(story, /^What toyrun asked the kernel: run — \d+ steps by 2 processes/);
  for (const stage of ['namespaces', 'mounts', 'pivot_root', 'cgroup', 'execve']) {
    assert.match(story, new RegExp(`^\\d+\\. ${stage} — `, 'm'), `chapter ${stage}`);
  }
  assert.match(story, /pivot_root\(".", "."\) ok {3}← \/root\/path \[pivotRoot/);
  assert.match(story, /Why: pivot_root\("\.", "\."\) makes the rootfs the root/);
  assert.match(story, /Code: src\/linux\/rootfs\.ts pivotRoot/);
  assert.match(story, /unshare\(CLONE_NEWNS\|CLONE_NEWUTS\|CLONE_NEWIPC\|CLONE_NEWNET\) ok {3}← \/linux\/namespaces\//);
  const bad = t.run(['trace', 'show', '--bogus', file]);
  assert.is.not(bad.status, 0);
});

/** A PNG that is more than one colour: its decompressed pixel rows are not all one byte value. */
function pngIsDrawn(png: Buffer): boolean {
  assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  const idat: Buffer[] = [];
  for (let off = 8; off < png.length;) {
    const len = png.readUInt32BE(off);
    if (png.toString('latin1', off + 4, off + 8) === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const counts = new Map<number, number>();
  for (const b of raw) counts.set(b, (counts.get(b) ?? 0) + 1);
  return counts.size > 32 && Math.max(...counts.values()) < raw.length * 0.95;
}

test('trace show --html / --svg: lanes and stages rendered by headless Chromium, screenshot not blank', () => {
  requireTool(CHROMIUM, 'chromium');
  const file = traceFile();
  const r = traced(['run', '--bundle', t.bundle(), uniqueId('trsvg')], file);
  assert.is(r.status, 0, r.stderr);
  const dir = t.tempDir('toyrun-trace-html-');
  const html = join(dir, 'run.html');
  writeFileSync(html, t.ok(['trace', 'show', '--html', file]).stdout);
  const svg = t.ok(['trace', 'show', '--svg', file]).stdout;
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  writeFileSync(join(dir, 'run.svg'), svg);
  const chrome = (args: string[]): ReturnType<typeof sh> =>
    sh(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, ...args], { env: { HOME: dir }, timeout: 120000 });
  for (const page of ['run.html', 'run.svg']) {
    const dom = chrome(['--dump-dom', `file://${join(dir, page)}`]);
    assert.is(dom.status, 0, dom.stderr);
    assert.match(dom.stdout, /<g class="lane" data-role="cli" data-pid="\d+">/, `${page}: CLI lane`);
    assert.match(dom.stdout, /<g class="lane" data-role="init" data-pid="\d+">/, `${page}: init lane`);
    for (const stage of ['namespaces', 'mounts', 'pivot_root', 'execve', 'drive init']) {
      assert.match(dom.stdout, new RegExp(`<g class="stage" data-stage="${stage}"`), `${page}: stage ${stage}`);
    }
    assert.match(dom.stdout, /class="landmark fifo-release"/);
    assert.match(dom.stdout, /class="landmark execve"/);
    assert.match(dom.stdout, /<rect class="step"[^>]*><title>\+[\d.]+ ms {2}pivot_root\(/);
  }
  const png = join(dir, 'run.png');
  const shot = chrome(['--window-size=1500,900', `--screenshot=${png}`, `file://${html}`]);
  assert.is(shot.status, 0, shot.stderr);
  assert.ok(existsSync(png), 'screenshot written');
  assert.ok(pngIsDrawn(readFileSync(png)), 'the screenshot shows a drawing, not a blank page');
});

test('a create failing in the CLI (a cgroup write) ends its trace with that write, its errno and its config field', () => {
  const file = traceFile();
  const id = uniqueId('trcg');
  const r = traced(['create', '--bundle', t.bundle((s) => {
    s.linux = { ...s.linux, resources: { ...s.linux?.resources, cpu: { cpus: '1023' } } };
  }), id], file);
  assert.is.not(r.status, 0);
  const last = readTrace(file).pop() as TraceRecord;
  assert.is(last.kind, 'end');
  assert.is(last.failed?.role, 'cli');
  assert.is(last.failed?.call, 'write');
  assert.match(last.failed?.args ?? '', /cpuset\.cpus = "1023"$/);
  assert.match(last.failed?.result ?? '', /^E[A-Z]+$/);
  assert.is(last.failed?.cause, '/linux/resources/cpu/cpus');
  assert.equal(leftovers(t, id), []);
});

test('--trace without a file, or with one that cannot be opened, is refused saying so', () => {
  const usage = t.run(['--trace']);
  assert.is.not(usage.status, 0);
  assert.match(usage.stderr, /--trace needs a file/);
  const bad = t.run(['--trace', '/nonexistent-dir/t.jsonl', 'list']);
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /--trace \/nonexistent-dir\/t\.jsonl: cannot open for appending: ENOENT/);
});

test.after(() => t.cleanup());
test.run();
