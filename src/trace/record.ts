// `toyrun --trace FILE`: every call the runtime makes through src/linux/libc.ts,
// one JSON object a line, from every toyrun process of a command (the CLI, the
// container's init, the exec helper, the user-namespace stage 1).
//
// The CLI opens FILE (O_APPEND) and keeps the fd at a high number; posix_spawn
// hands it to the engine processes it starts (src/linux/libc.ts prepareSpawn),
// and the plan each one receives names it (traceHandoff/attachTrace). O_APPEND
// and one write(2) per line: lines of several processes never interleave.
//
// Off (the default), libc.ts tests `tracer.on` once per call and nothing here runs.
import { closeSync, fstatSync, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import { describeCall, describeFileWrite, causeOfFile } from './decode';
import { tracer } from '../linux/libc';

export { tracer };

/** A step as written: see README "Learn how a container is made" for the fields. */
export interface TraceRecord {
  kind: 'call' | 'stage' | 'error' | 'start' | 'end';
  /** CLOCK_MONOTONIC, ms (the same clock in every process). */
  t: number;
  /** Host PID (the init's own getpid() is 1 in its PID namespace). */
  pid: number;
  role: string;
  /** The toyrun command the process serves (create, start, exec, ...). */
  cmd?: string;
  stage: string;
  call?: string;
  args?: string;
  /** "ok", an errno name, or "pending" (execve: the step is written before the call). */
  result?: string;
  ret?: number;
  /** Duration of the call, µs. */
  dur?: number;
  /** JSON path of the config field that caused the step. */
  cause?: string;
  /** The runtime functions that made the call, innermost first. */
  at?: string;
  msg?: string;
  code?: number;
  failed?: TraceRecord;
}

/** What a traced parent puts in the plan of the engine process it starts. */
export interface TraceHandoff {
  fd: number;
  cmd?: string;
}

let pid = 0;
let role = '';
let cmd: string | undefined;
let stageName = '';
const causes: string[] = [];
/** CLOCK_MONOTONIC from libc.ts, looked up on first use (libc.ts imports this module). */
let monotonic: (() => number) | undefined;
let frozenAt: number | undefined;
function clock(): number {
  if (frozenAt !== undefined) return frozenAt;
  monotonic ??= (require('../linux/libc') as typeof import('../linux/libc')).monotonicMs;
  return monotonic();
}

/** From now on every record carries the time of this call: past a seccomp
 * filter, clock_gettime may be a syscall the profile refuses (no vDSO clock on
 * some hosts), src/init/finalize.ts. */
export function freezeTraceClock(): void {
  frozenAt = clock();
}
let startedAt = 0;
let lastFailure: TraceRecord | undefined;
let traceFile: string | undefined;

/** The host PID: /proc is still the host's procfs whenever tracing starts. */
function hostPid(): number {
  try {
    return Number(readlinkSync('/proc/self'));
  } catch {
    return process.pid;
  }
}

/** CLI: open FILE for appending, at an fd number above those spawn() hands out (0-2,
 * --preserve-fds, the sync pipe, extra fds) so that it reaches the children intact. */
export function startTrace(file: string, command: string): void {
  let first: number;
  try {
    first = openSync(file, 'a', 0o600); // O_WRONLY|O_CREAT|O_APPEND, close-on-exec
  } catch (e) {
    throw new Error(`--trace ${file}: cannot open for appending: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  let fd = first;
  try {
    // F_DUPFD_CLOEXEC through node: fs has none, so libc.ts does it (lazy require: no cycle at load)
    fd = (require('../linux/libc') as typeof import('../linux/libc')).fcntl(first, 1030 /* F_DUPFD_CLOEXEC */, 256);
    closeSync(first);
  } catch {
    fd = first; // a low RLIMIT_NOFILE: stay where we are
  }
  begin(fd, 'cli', command);
  stageName = command;
  traceFile = file;
  startedAt = clock();
  emit({ kind: 'start', msg: `toyrun ${command}` });
}

/** The handoff for a child's plan; undefined when not tracing. */
export function traceHandoff(): TraceHandoff | undefined {
  return tracer.on ? { fd: tracer.fd, cmd } : undefined;
}

/** A child (init, exec helper, stage 1): trace to the inherited fd, close-on-exec again
 * so that it never reaches the container's program. */
export function attachTrace(h: TraceHandoff | undefined, asRole: string): void {
  if (!h) return;
  try {
    fstatSync(h.fd);
  } catch {
    return; // not inherited: no trace from this process
  }
  begin(h.fd, asRole, h.cmd);
  stageName = 'start-up';
  (require('../linux/libc') as typeof import('../linux/libc')).fcntl(h.fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
  emit({ kind: 'start', msg: `${asRole} attached` });
}

function begin(fd: number, r: string, command: string | undefined): void {
  process.on('exit', flushHeld);
  tracer.fd = fd;
  pid = hostPid();
  role = r;
  cmd = command;
  tracer.on = true;
}

/** The stage a process is in: the init's and exec helper's named stages, the CLI's phases. */
export function traceStage(name: string): void {
  stageName = name;
  if (tracer.on) emit({ kind: 'stage' });
}

/** Run fn with `path` (a JSON path into config.json) as the cause of its steps. */
export function cause<T>(path: string, fn: () => T): T {
  if (!tracer.on) return fn();
  causes.push(path);
  try {
    return fn();
  } finally {
    causes.pop();
  }
}

/** The runtime functions on the stack above libc.ts: `skip` frames are the tracer's and libc's own. */
function callers(skip: number): string | undefined {
  const lines = (new Error().stack ?? '').split('\n').slice(1 + skip);
  const names: string[] = [];
  for (const l of lines) {
    const m = /^\s*at (?:Object\.|Module\.)?([\w$]+) \(/.exec(l);
    if (m && m[1] !== 'call' && m[1] !== 'cause' && m[1] !== 'stage') names.push(sourceName(m[1] as string));
    if (names.length === 2) break;
  }
  return names.length > 0 ? names.join(' < ') : undefined;
}

/** The bundler renames a function whose name another module also uses (pivotRoot →
 * pivotRoot2): the name as written in src/, for the learner to search. */
const DIGIT_NAMES = new Set(['runUserNamespaceStage1', 'openat2', 'umount2', 'dup3', 'wait4']);
function sourceName(name: string): string {
  return DIGIT_NAMES.has(name) ? name : name.replace(/([a-z])\d+$/, '$1');
}

// Between a switch of the PID or time namespace for children and the switch back,
// the kernel refuses to create threads in this process and the engine aborts if it
// wants one (src/linux/spawn.ts): a new compiler or GC thread for the tracer's own
// work must not be asked for there. Calls in that window are only kept, untold,
// and written once the last switch back is done (or at exit: stage 1 never switches back).
const FOR_CHILDREN = 0x20000000 /* CLONE_NEWPID */ | 0x00000080; /* CLONE_NEWTIME */
type HeldCall = [string, unknown[], unknown, number, number, number, string, string | undefined];
let held: HeldCall[] | undefined;
let switches = 0, restores = 0, spawned = false;

function flushHeld(): void {
  const h = held;
  held = undefined;
  for (const [name, args, ret, errno, t0, t1, stage, c] of h ?? []) record(name, args, ret, errno, t0, t1, stage, c);
}

/** libc.ts: one call made (ret undefined: about to be made, execve). */
export function traceCall(name: string, args: unknown[], ret: unknown, errno: number, t0: number, t1: number): void {
  const sw = ret === 0 ? (name === 'unshare' ? Number(args[0]) : name === 'setns' ? Number(args[1]) : 0) & FOR_CHILDREN : 0;
  if (sw && !held) {
    held = [];
    switches = restores = 0;
    spawned = false;
  }
  if (!held) return record(name, args, ret, errno, t0, t1, stageName, causes[causes.length - 1], callers(4));
  held.push([name, args, ret, errno, t0, t1, stageName, causes[causes.length - 1]]);
  if (sw && spawned) restores++;
  else if (sw) switches++;
  if (name === 'posix_spawn') spawned = true;
  if (sw && spawned && restores >= switches) flushHeld();
}

function record(name: string, args: unknown[], ret: unknown, errno: number, t0: number, t1: number, stage: string, c?: string, at?: string): void {
  const d = describeCall(name, args, ret, errno);
  const rec: TraceRecord = {
    kind: 'call', t: t0, pid, role, stage, call: d.call, args: d.args,
    result: ret === undefined ? 'pending' : d.errno ?? 'ok',
    ...(d.ret !== undefined ? { ret: d.ret } : {}),
    dur: Math.round((t1 - t0) * 1000),
  };
  if (c) rec.cause = c;
  if (at) rec.at = at;
  rec.t = Math.round(rec.t * 1000) / 1000;
  if (d.errno) lastFailure = rec;
  emit(rec);
}

/** libc.ts writeFile, mkdir, rmdir: a cgroup or procfs file written, a cgroup made or removed. */
export function traceFileWrite(call: string, path: string, data: string | undefined, errno: string | undefined, t0: number, t1: number): void {
  const rec: TraceRecord = {
    kind: 'call', t: t0, pid, role, stage: stageName, call, args: data === undefined ? JSON.stringify(path) : describeFileWrite(path, data),
    result: errno ?? 'ok', dur: Math.round((t1 - t0) * 1000),
  };
  attribute(rec, callers(4), data === undefined ? (path.startsWith('/sys/fs/cgroup/') ? '/linux/cgroupsPath' : undefined) : causeOfFile(path));
  if (errno) lastFailure = rec;
  emit(rec);
}

/** The config field (the innermost cause, else what the file says) and the callers. */
function attribute(rec: TraceRecord, at: string | undefined, fileCause?: string): void {
  const c = causes[causes.length - 1] ?? fileCause;
  if (c) rec.cause = c;
  if (at) rec.at = at;
  rec.t = Math.round(rec.t * 1000) / 1000;
}

/** The error that ends a process's work (a create, an init stage): with the failing step. */
export function traceError(e: unknown): void {
  if (!tracer.on) return;
  const msg = e instanceof Error ? e.message : String(e);
  emit({ kind: 'error', msg, ...(lastFailure ? { failed: lastFailure } : {}) });
}

/** CLI, last: the exit code; on failure, the step that failed first (the init's, when
 * it was the init), so the trace of a failed command ends with that syscall and errno. */
export function endTrace(code: number): void {
  if (!tracer.on) return;
  let failed: TraceRecord | undefined;
  if (code !== 0 && traceFile) {
    try {
      for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
        if (!line) continue;
        const r = JSON.parse(line) as TraceRecord;
        if (r.kind === 'error' && r.t >= startedAt && r.failed) {
          failed = r.failed;
          break;
        }
      }
    } catch {
      // unreadable: the end line goes without it
    }
  }
  emit({ kind: 'end', code, ...(failed ? { failed } : {}) });
  tracer.on = false;
}

function emit(r: Partial<TraceRecord>): void {
  const rec = { ...r, t: Math.round((r.t ?? clock()) * 1000) / 1000, pid, role, ...(cmd ? { cmd } : {}), stage: r.stage ?? stageName } as TraceRecord;
  try {
    writeSync(tracer.fd, JSON.stringify(rec) + '\n'); // one write(2): O_APPEND keeps the line whole
  } catch {
    // the trace is best effort: a closed fd or a seccomp profile refusing write(2) loses lines only
  }
}

// plugged into libc.ts, which calls them while tracer.on (set by startTrace, attachTrace)
tracer.call = traceCall;
tracer.fileWrite = traceFileWrite;
