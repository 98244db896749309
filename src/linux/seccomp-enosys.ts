// New syscalls under old profiles. A profile written before clone3 or openat2
// existed does not name them, so libseccomp's program gives them the default
// action: with an ERRNO(EPERM) default, glibc sees EPERM and does not fall
// back to the older call (it only falls back on ENOSYS), and programs break.
// runc (>= 1.1, libcontainer/seccomp/patchbpf) puts a stub in front of the
// program: per architecture, a syscall number above the highest one the
// profile names returns ENOSYS, as on a kernel that lacks the call. This is
// our own stub with the same rule:
//   - only when the default action refuses (not ALLOW, LOG or TRACE), and not
//     when the default is already ERRNO(ENOSYS);
//   - "the profile names" is every name of every rule, whatever its action;
//   - x86-64 and x32 share one audit arch: x32 numbers carry bit 30 and are
//     compared against x32's own highest number (left to libseccomp when the
//     profile has no x32).
// The stub is classic BPF over struct seccomp_data {int nr; u32 arch; ...}.
import { libseccomp } from './libseccomp';
import type { Seccomp } from '../spec/types';

const ENOSYS = 38;
const SECCOMP_RET_ERRNO = 0x00050000;
const X32_SYSCALL_BIT = 0x40000000;
/** libseccomp's x32 token is not an audit arch: x32 runs under AUDIT_ARCH_X86_64. */
const SCMP_ARCH_X32 = 0x4000003e;
const AUDIT_ARCH_X86_64 = 0xc000003e;

// BPF opcodes (linux/bpf_common.h)
const LD_W_ABS = 0x20, JEQ_K = 0x15, JGT_K = 0x25, JSET_K = 0x45, JA = 0x05, RET_K = 0x06;

/** The version of the stub, part of the compiled-filter cache key. */
export const ENOSYS_STUB_VERSION = 1;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
  /** JA to the end of the stub (the start of libseccomp's program): k is filled in last. */
  toEnd?: boolean;
}

const REFUSING_DEFAULTS = new Set(['SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP']);

export function wantsEnosysStub(profile: Seccomp): boolean {
  if (!REFUSING_DEFAULTS.has(profile.defaultAction)) return false;
  return !(profile.defaultAction === 'SCMP_ACT_ERRNO' && profile.defaultErrnoRet === ENOSYS);
}

/** Highest syscall number the profile names, per libseccomp arch token
 * (x32's without its bit 30). Arches where no name resolves are left out. */
export function highestNamedSyscalls(profile: Seccomp, archTokens: number[]): Map<number, number> {
  const api = libseccomp();
  const names = new Set((profile.syscalls ?? []).flatMap((r) => r.names));
  const out = new Map<number, number>();
  for (const arch of archTokens) {
    for (const name of names) {
      let nr = api.syscallResolveNameArch(arch, name);
      if (nr < 0) continue; // unknown here, or a pseudo-number for a call this arch lacks
      if (arch === SCMP_ARCH_X32) nr &= ~X32_SYSCALL_BIT;
      if (nr > (out.get(arch) ?? -1)) out.set(arch, nr);
    }
  }
  return out;
}

/** The stub for these per-arch maxima: [] when there is nothing to guard. */
export function enosysStub(highest: Map<number, number>): Buffer {
  const blocks: Insn[][] = [];
  const guard = (max: number, bit = 0): Insn[] => [
    { code: JGT_K, jt: 0, jf: 1, k: (max | bit) >>> 0 },
    { code: RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ERRNO | ENOSYS },
    { code: JA, jt: 0, jf: 0, k: 0, toEnd: true },
  ];
  const toEnd: Insn = { code: JA, jt: 0, jf: 0, k: 0, toEnd: true };
  const x64 = highest.get(AUDIT_ARCH_X86_64);
  const x32 = highest.get(SCMP_ARCH_X32);
  if (x64 !== undefined || x32 !== undefined) {
    const native = x64 !== undefined ? guard(x64) : [toEnd];
    const compat = x32 !== undefined ? guard(x32, X32_SYSCALL_BIT) : [{ ...toEnd }];
    blocks.push([
      { code: JEQ_K, jt: 0, jf: 0, k: AUDIT_ARCH_X86_64 },
      { code: LD_W_ABS, jt: 0, jf: 0, k: 0 }, // nr
      // bit 30 set: an x32 call, checked by the part after the x86-64 one
      { code: JSET_K, jt: native.length, jf: 0, k: X32_SYSCALL_BIT },
      ...native,
      ...compat,
    ]);
  }
  for (const [arch, max] of highest) {
    if (arch === AUDIT_ARCH_X86_64 || arch === SCMP_ARCH_X32) continue;
    blocks.push([{ code: JEQ_K, jt: 0, jf: 0, k: arch >>> 0 }, { code: LD_W_ABS, jt: 0, jf: 0, k: 0 }, ...guard(max)]);
  }
  if (blocks.length === 0) return Buffer.alloc(0);
  // Each block starts with `jeq arch`: a mismatch skips the block (the accumulator
  // still holds the arch, since only a match loads nr). Every path out of a block
  // returns ENOSYS or jumps to the end.
  for (const b of blocks) b[0]!.jf = b.length - 1;
  const insns: Insn[] = [{ code: LD_W_ABS, jt: 0, jf: 0, k: 4 }, ...blocks.flat(), { ...toEnd }];
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    if (i.jt > 255 || i.jf > 255) throw new Error('seccomp ENOSYS stub: conditional jump out of range');
    buf.writeUInt16LE(i.code, n * 8);
    buf.writeUInt8(i.jt, n * 8 + 2);
    buf.writeUInt8(i.jf, n * 8 + 3);
    buf.writeUInt32LE(i.toEnd ? insns.length - 1 - n : i.k, n * 8 + 4);
  });
  return buf;
}

/** libseccomp's program with the stub in front, for the arches the filter has
 * (the native one and the profile's). */
export function withEnosysStub(profile: Seccomp, program: Buffer, archTokens: number[]): Buffer {
  if (!wantsEnosysStub(profile)) return program;
  const stub = enosysStub(highestNamedSyscalls(profile, archTokens));
  return stub.length === 0 ? program : Buffer.concat([stub, program]);
}
