// linux.seccomp: the OCI profile compiled by libseccomp, in two steps.
// prepareSeccompFilter runs during `create` (inside the init, before it reports
// ready), so a profile libseccomp rejects fails create and leaves nothing
// behind. loadSeccompFilter is the init's last step before execve: every
// syscall made after it is subject to the user's profile, so only what cannot
// come earlier follows it (sending a NOTIFY listener fd, dropping a held
// CAP_SYS_ADMIN; see becomeProcess in init.ts).
import { checkScmp, encodeArgs, libseccomp, NR_SCMP_ERROR, SCMP_ACT, SCMP_CMP, SCMP_FLTATR, type FilterCtx } from './libseccomp';
import type { Seccomp, SeccompArg, SeccompSyscall, State } from '../spec/types';
import { connectUnix, sendWithFd } from './scmrights';
import { close, fcntl, F_DUPFD_CLOEXEC, memfdCreate, seccompSetModeFilter } from './libc';
import { readCachedProgram, seccompCacheKey, storeCachedProgram } from './seccomp-cache';
import { withEnosysStub } from './seccomp-enosys';
import { fstatSync, readSync } from 'node:fs';

const EPERM = 1;

/** OCI architecture names → libseccomp's own names (seccomp_arch_resolve_name). */
export const SECCOMP_ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
  SCMP_ARCH_LOONGARCH64: 'loongarch64',
  SCMP_ARCH_M68K: 'm68k',
  SCMP_ARCH_SH: 'sh',
  SCMP_ARCH_SHEB: 'sheb',
};

/** The OCI architectures the installed libseccomp can build filters for. */
export function supportedSeccompArches(): string[] {
  const api = libseccomp();
  return Object.keys(SECCOMP_ARCHES).filter((a) => api.archResolveName(SECCOMP_ARCHES[a] as string) !== 0).sort();
}

/** Actions this build implements. SCMP_ACT_NOTIFY hands the filter's listener
 * fd to the agent at listenerPath (see sendListenerFd). */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP',
];

/** Calls the init makes between loading the filter and execve: notifying on
 * them would block the init before the agent has the listener fd. */
const NEEDED_AFTER_LOAD = new Set(['sendmsg', 'capset', 'execve', 'execveat']);
export const SECCOMP_OPERATORS = Object.keys(SCMP_CMP).sort();

/** Filter flags → libseccomp filter attributes. WAIT_KILLABLE_RECV only
 * matters for NOTIFY, which is not supported. */
const FLAG_ATTRS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SCMP_FLTATR.CTL_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SCMP_FLTATR.CTL_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SCMP_FLTATR.CTL_SSB,
};
export const SECCOMP_FLAGS = Object.keys(FLAG_ATTRS);

/** The numeric libseccomp action for an OCI action name and errno. */
export function actionValue(action: string, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return SCMP_ACT.ALLOW;
    case 'SCMP_ACT_ERRNO':
      return (SCMP_ACT.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SCMP_ACT.TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SCMP_ACT.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SCMP_ACT.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SCMP_ACT.TRAP;
    case 'SCMP_ACT_LOG':
      return SCMP_ACT.LOG;
    case 'SCMP_ACT_NOTIFY':
      return SCMP_ACT.NOTIFY;
    default:
      throw new Error(`unsupported seccomp action ${JSON.stringify(action)}`);
  }
}

const BPF_MAXINSNS = 4096;

/** What is wrong with a profile before libseccomp sees it (JSON paths, as validation reports them). */
export function seccompProblems(profile: Seccomp | undefined): string[] {
  if (!profile) return [];
  const problems: string[] = [];
  const checkAction = (action: string, at: string): void => {
    if (!SECCOMP_ACTIONS.includes(action)) problems.push(`${at}: unknown seccomp action ${JSON.stringify(action)}`);
  };
  checkAction(profile.defaultAction, '/linux/seccomp/defaultAction');
  if (profile.defaultAction === 'SCMP_ACT_NOTIFY') problems.push('/linux/seccomp/defaultAction: SCMP_ACT_NOTIFY cannot be the default action');
  (profile.architectures ?? []).forEach((a, i) => {
    if (!SECCOMP_ARCHES[a]) problems.push(`/linux/seccomp/architectures/${i}: unknown architecture ${JSON.stringify(a)}`);
  });
  (profile.flags ?? []).forEach((f, i) => {
    if (!FLAG_ATTRS[f]) problems.push(`/linux/seccomp/flags/${i}: unsupported seccomp flag ${JSON.stringify(f)}`);
  });
  const notify = usesNotify(profile);
  if (notify && !profile.listenerPath) problems.push('/linux/seccomp/listenerPath is required when a rule uses SCMP_ACT_NOTIFY');
  if (!notify && profile.listenerPath) problems.push('/linux/seccomp/listenerPath is set but no rule uses SCMP_ACT_NOTIFY');
  if (profile.listenerPath && !profile.listenerPath.startsWith('/')) problems.push('/linux/seccomp/listenerPath must be an absolute path');
  // Each name (times each condition set) compiles to at least one instruction and a
  // classic BPF filter holds at most BPF_MAXINSNS (4096): a bigger profile cannot
  // load, and compiling millions of rules first would stall create for minutes.
  const rules = (profile.syscalls ?? []).reduce((n, s) => n + (Array.isArray(s.names) ? s.names.length : 0) * Math.max(1, s.args?.length ?? 0), 0);
  if (rules > BPF_MAXINSNS) problems.push(`/linux/seccomp/syscalls: ${rules} syscall rules cannot fit in a seccomp filter (at most ${BPF_MAXINSNS} BPF instructions)`);
  (profile.syscalls ?? []).forEach((s, i) => {
    checkAction(s.action, `/linux/seccomp/syscalls/${i}/action`);
    if (s.action === 'SCMP_ACT_NOTIFY') {
      const blocked = s.names.filter((n) => NEEDED_AFTER_LOAD.has(n));
      if (blocked.length > 0) problems.push(`/linux/seccomp/syscalls/${i}: SCMP_ACT_NOTIFY on ${blocked.join(', ')} would block the runtime before the agent gets its fd`);
    }
    (s.args ?? []).forEach((a, j) => {
      if (SCMP_CMP[a.op] === undefined) problems.push(`/linux/seccomp/syscalls/${i}/args/${j}/op: unknown operator ${JSON.stringify(a.op)}`);
    });
  });
  return problems;
}

export function usesNotify(profile: Seccomp): boolean {
  return (profile.syscalls ?? []).some((s) => s.action === 'SCMP_ACT_NOTIFY');
}

export interface SeccompFilter {
  /** libseccomp's context (buildSeccompFilter), before it becomes a program. */
  ctx?: FilterCtx;
  /** The compiled program and the seccomp(2) flags. */
  bpf?: { program: Buffer; flags: number };
  /** The profile notifies: after loading, the listener fd goes to listenerPath. */
  notify: boolean;
  /** Set by loadSeccompFilter for a notifying BPF program: seccomp(2)'s listener fd. */
  listenerFd?: number;
  /** Syscall names libseccomp does not know, skipped as runc skips them. */
  skipped: string[];
}

function condition(a: SeccompArg): { index: number; op: number; a: bigint; b: bigint } {
  const op = SCMP_CMP[a.op];
  if (op === undefined) throw new Error(`unknown seccomp operator ${JSON.stringify(a.op)}`);
  return { index: a.index, op, a: BigInt(a.value), b: BigInt(a.valueTwo ?? 0) };
}

/** Conditions on distinct arguments are ANDed in one rule; several on the same
 * argument cannot be (libseccomp refuses), so each becomes its own rule: runc's reading. */
function ruleConditions(args: SeccompArg[] | undefined): ReturnType<typeof condition>[][] {
  const conds = (args ?? []).map(condition);
  const indexes = new Set(conds.map((c) => c.index));
  return indexes.size === conds.length ? [conds] : conds.map((c) => [c]);
}

function addRules(ctx: FilterCtx, rule: SeccompSyscall, defaultAction: number, skipped: string[]): void {
  const api = libseccomp();
  const action = actionValue(rule.action, rule.errnoRet);
  // libseccomp refuses a rule equal to the default action; it would change nothing.
  if (action === defaultAction) return;
  for (const name of rule.names) {
    const nr = api.syscallResolveName(name);
    if (nr === NR_SCMP_ERROR) {
      skipped.push(name);
      continue;
    }
    for (const conds of ruleConditions(rule.args)) {
      checkScmp(api.ruleAddArray(ctx, action, nr, conds.length, encodeArgs(conds)), 'seccomp_rule_add', name);
    }
  }
}

/** Compile the profile into a libseccomp context (not loaded yet). */
export function buildSeccompFilter(profile: Seccomp): SeccompFilter {
  const problems = seccompProblems(profile);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const api = libseccomp();
  const defaultAction = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const ctx = api.init(defaultAction);
  if (!ctx) throw new Error('seccomp_init failed');
  try {
    // libseccomp sets no_new_privs itself unless told not to; the spec leaves
    // that to process.noNewPrivileges alone.
    checkScmp(api.attrSet(ctx, SCMP_FLTATR.CTL_NNP, 0), 'seccomp_attr_set', 'CTL_NNP');
    for (const f of profile.flags ?? []) checkScmp(api.attrSet(ctx, FLAG_ATTRS[f] as number, 1), 'seccomp_attr_set', f);
    for (const a of profile.architectures ?? []) {
      const token = api.archResolveName(SECCOMP_ARCHES[a] as string);
      if (token === 0) throw new Error(`seccomp architecture ${a} is not supported by this libseccomp`);
      const r = api.archAdd(ctx, token);
      if (r !== -17 /* EEXIST: the native arch is in every new context */) checkScmp(r, 'seccomp_arch_add', a);
    }
    const skipped: string[] = [];
    for (const rule of profile.syscalls ?? []) addRules(ctx, rule, defaultAction, skipped);
    return { ctx, skipped, notify: usesNotify(profile) };
  } catch (e) {
    api.release(ctx);
    throw e;
  }
}

/** seccomp(2)'s own flag bits, as libseccomp passes them for its attributes. */
const KERNEL_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

/** libseccomp's BPF for a context, as seccomp_load would install it. */
function exportProgram(ctx: FilterCtx): Buffer {
  const fd = memfdCreate('toyrun-seccomp');
  try {
    checkScmp(libseccomp().exportBpf(ctx, fd), 'seccomp_export_bpf');
    const program = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, program, 0, program.length, 0);
    return program;
  } finally {
    close(fd);
  }
}

/** libseccomp arch tokens of the filter: the native one (in every context) and the profile's. */
function filterArches(profile: Seccomp): number[] {
  const api = libseccomp();
  const tokens = new Set([api.archNative()]);
  for (const a of profile.architectures ?? []) tokens.add(api.archResolveName(SECCOMP_ARCHES[a] as string));
  return [...tokens].filter((t) => t !== 0);
}

/** seccomp(2): return a listener fd for the filter's NOTIFY rules; with TSYNC
 * too, the kernel wants TSYNC_ESRCH (a TSYNC failure is then ESRCH, not a thread id). */
const NEW_LISTENER = 8, TSYNC_ESRCH = 16;

/** The filter for a profile, compiled now (create fails on what libseccomp
 * refuses) into a BPF program with the ENOSYS stub in front. A program without
 * NOTIFY rules is taken from the cache in cacheDir when it was compiled before
 * (seccomp-cache.ts), else compiled and stored there. */
export function prepareSeccompFilter(profile: Seccomp, cacheDir?: string): SeccompFilter {
  const problems = seccompProblems(profile);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const notify = usesNotify(profile);
  let flags = (profile.flags ?? []).reduce((acc, f) => acc | (KERNEL_FLAGS[f] ?? 0), 0);
  if (notify) flags |= NEW_LISTENER | (flags & KERNEL_FLAGS.SECCOMP_FILTER_FLAG_TSYNC ? TSYNC_ESRCH : 0);
  const key = cacheDir && !notify ? seccompCacheKey(profile) : undefined;
  const cached = cacheDir && key ? readCachedProgram(cacheDir, key) : undefined;
  if (cached) return { bpf: { program: cached, flags }, notify: false, skipped: [] };
  const built = buildSeccompFilter(profile);
  const ctx = built.ctx as FilterCtx;
  let program: Buffer;
  try {
    program = exportProgram(ctx);
  } finally {
    libseccomp().release(ctx);
  }
  // syscalls newer than the profile get ENOSYS, not the default action (runc >= 1.1)
  const patched = withEnosysStub(profile, program, filterArches(profile));
  program = patched;
  if (cacheDir && key) storeCachedProgram(cacheDir, key, program);
  return { bpf: { program, flags }, notify, skipped: built.skipped };
}

/** Install the filter on the calling thread (and with TSYNC, all threads). */
export function loadSeccompFilter(filter: SeccompFilter): void {
  if (filter.bpf) {
    const fd = seccompSetModeFilter(filter.bpf.program, filter.bpf.flags);
    if (filter.notify) filter.listenerFd = fd;
  } else {
    checkScmp(libseccomp().load(filter.ctx as FilterCtx), 'seccomp_load');
  }
}


/** Connect to listenerPath while the host's filesystem is reachable; the fd
 * stays above the --preserve-fds range and closes at execve. */
export function connectListener(profile: Seccomp, preserveFds: number): number {
  const sock = connectUnix(profile.listenerPath as string);
  const high = fcntl(sock, F_DUPFD_CLOEXEC, 3 + preserveFds);
  close(sock);
  return high;
}

/** After loading: hand the listener fd to the agent over a socket connected
 * earlier (the agent's path is on the host; by now we are in the container's
 * root). The message is what runc sends, so existing agents understand it:
 * the container's state with "fds": ["seccompFd"] naming the attached fd. */
export function sendListenerFd(filter: SeccompFilter, sock: number, state: State, metadata: string | undefined): void {
  const fd = filter.listenerFd ?? checkScmp(libseccomp().notifyFd(filter.ctx as FilterCtx), 'seccomp_notify_fd');
  const msg = { ociVersion: state.ociVersion, fds: ['seccompFd'], pid: state.pid, metadata: metadata ?? '', state };
  sendWithFd(sock, Buffer.from(JSON.stringify(msg)), fd, 'seccomp listener');
}
