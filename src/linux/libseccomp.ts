// libseccomp through koffi: the library runc and crun link. It turns syscall
// names and argument comparisons into a BPF program for every architecture of
// the filter (an x86-64 kernel also runs i386 and x32 binaries, each with its
// own syscall numbers), and loads it. Loaded lazily: only containers with a
// profile pay for it.
import { getKoffi } from './koffi';
import { SysError } from './libc';

export type FilterCtx = unknown;

interface Api {
  init: (defAction: number) => FilterCtx;
  release: (ctx: FilterCtx) => void;
  archAdd: (ctx: FilterCtx, arch: number) => number;
  archNative: () => number;
  archResolveName: (name: string) => number;
  syscallResolveName: (name: string) => number;
  syscallResolveNameArch: (arch: number, name: string) => number;
  ruleAddArray: (ctx: FilterCtx, action: number, syscall: number, n: number, args: Buffer | null) => number;
  load: (ctx: FilterCtx) => number;
  attrSet: (ctx: FilterCtx, attr: number, value: number) => number;
  exportBpf: (ctx: FilterCtx, fd: number) => number;
  notifyFd: (ctx: FilterCtx) => number;
  version: () => { major: number; minor: number; micro: number };
}

let api: Api | undefined;

/** Bind libseccomp.so.2 on first use; throws a clear error when it is missing. */
export function libseccomp(): Api {
  if (api) return api;
  const koffi = getKoffi();
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libseccomp.so.2');
  } catch (e) {
    throw new Error(`linux.seccomp needs libseccomp.so.2 (apt-get install libseccomp2): ${(e as Error).message}`, { cause: e });
  }
  const Version = koffi.struct('scmp_version', { major: 'unsigned int', minor: 'unsigned int', micro: 'unsigned int' });
  const versionFn = lib.func('const scmp_version *seccomp_version(void)');
  api = {
    init: lib.func('void *seccomp_init(uint32_t def_action)'),
    release: lib.func('void seccomp_release(void *ctx)'),
    archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch)'),
    archNative: lib.func('uint32_t seccomp_arch_native(void)'),
    archResolveName: lib.func('uint32_t seccomp_arch_resolve_name(const char *name)'),
    syscallResolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
    syscallResolveNameArch: lib.func('int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)'),
    ruleAddArray: lib.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int n, const void *args)'),
    load: lib.func('int seccomp_load(void *ctx)'),
    exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
    attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    notifyFd: lib.func('int seccomp_notify_fd(void *ctx)'),
    version: () => koffi.decode(versionFn(), Version) as { major: number; minor: number; micro: number },
  };
  return api;
}

export function libseccompAvailable(): boolean {
  try {
    libseccomp();
    return true;
  } catch {
    return false;
  }
}

/** libseccomp returns -errno; turn that into the SysError every other module throws. */
export function checkScmp(ret: number, call: string, what?: string): number {
  if (ret < 0) throw new SysError(call, what, -ret);
  return ret;
}

// Values from <seccomp.h> (stable ABI since libseccomp 2.x).
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  NOTIFY: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const SCMP_CMP: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

export const SCMP_FLTATR = {
  CTL_NNP: 3,
  CTL_TSYNC: 4,
  CTL_LOG: 6,
  CTL_SSB: 7,
} as const;

/** __NR_SCMP_ERROR: the name is unknown to libseccomp on every architecture. */
export const NR_SCMP_ERROR = -1;

/** struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; u64 datum_a; u64 datum_b; } */
export const SCMP_ARG_CMP_SIZE = 24;
export function encodeArgs(conds: { index: number; op: number; a: bigint; b: bigint }[]): Buffer | null {
  if (conds.length === 0) return null;
  const buf = Buffer.alloc(SCMP_ARG_CMP_SIZE * conds.length);
  conds.forEach((c, i) => {
    const o = i * SCMP_ARG_CMP_SIZE;
    buf.writeUInt32LE(c.index, o);
    buf.writeUInt32LE(c.op, o + 4);
    buf.writeBigUInt64LE(c.a, o + 8);
    buf.writeBigUInt64LE(c.b, o + 16);
  });
  return buf;
}
