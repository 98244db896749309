// Device access on cgroup v2: there is no devices.allow/deny, the kernel asks a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup instead. We compile
// linux.resources.devices (plus the devices every container gets) into such a
// program: rules are tried last to first, the first match decides (the same
// "later rule wins" outcome as writing them in order to v1's devices.allow/deny),
// and a request that no rule matches is denied.
import * as libc from '../libc';
import { AT_FDCWD, O } from '../libc';
import type { Resources } from '../../spec/types';
import { withDefaultDeviceRules } from './devices';
import { CgroupError } from './files';

type Rule = NonNullable<Resources['devices']>[number];

// struct bpf_cgroup_dev_ctx { u32 access_type /* access<<16 | type */; u32 major; u32 minor; }
const DEV_BLOCK = 1, DEV_CHAR = 2;
const ACC_MKNOD = 1, ACC_READ = 2, ACC_WRITE = 4, ACC_ALL = 7;

const BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6;

// eBPF opcodes used here (class | op | source)
const LDXW = 0x61, AND_K = 0x57, RSH_K = 0x77, MOV_K = 0xb7, MOV_X = 0xbf;
const JNE_K = 0x55, JEQ_K = 0x15, JSET_K = 0x45, EXIT = 0x95;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}
const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

export function accessMask(access: string | undefined): number {
  const a = access || 'rwm';
  let m = 0;
  for (const ch of a) {
    if (ch === 'r') m |= ACC_READ;
    else if (ch === 'w') m |= ACC_WRITE;
    else if (ch === 'm') m |= ACC_MKNOD;
    else throw new CgroupError(`linux.resources.devices: invalid access ${JSON.stringify(a)} (letters r, w, m)`);
  }
  return m;
}

/** One rule: jumps to the next rule unless the request matches, then returns the verdict.
 * r2 = device type, r3 = requested access, r4 = major, r5 = minor. */
function ruleBlock(r: Rule): Insn[] {
  const checks: Insn[] = [];
  const t = r.type ?? 'a';
  if (t === 'c' || t === 'b') checks.push(insn(JNE_K, 2, 0, 0, t === 'c' ? DEV_CHAR : DEV_BLOCK));
  const acc = accessMask(r.access);
  if (acc !== ACC_ALL) {
    if (r.allow) {
      // allow only if every requested bit is granted
      checks.push(insn(JSET_K, 3, 0, 0, ~acc & ACC_ALL));
    } else {
      // deny if any requested bit is denied
      checks.push(insn(MOV_X, 0, 3, 0, 0), insn(AND_K, 0, 0, 0, acc), insn(JEQ_K, 0, 0, 0, 0));
    }
  }
  if (r.major !== undefined && r.major !== null && r.major >= 0) checks.push(insn(JNE_K, 4, 0, 0, r.major));
  if (r.minor !== undefined && r.minor !== null && r.minor >= 0) checks.push(insn(JNE_K, 5, 0, 0, r.minor));
  const block = [...checks, insn(MOV_K, 0, 0, 0, r.allow ? 1 : 0), insn(EXIT, 0, 0, 0, 0)];
  // every conditional jump skips to the end of this block
  block.forEach((i, n) => {
    if (i.code === JNE_K || i.code === JEQ_K || i.code === JSET_K) i.off = block.length - n - 1;
  });
  return block;
}

export function compileDeviceFilter(rules: Rule[]): Insn[] {
  const prologue = [
    insn(LDXW, 2, 1, 0, 0), insn(AND_K, 2, 0, 0, 0xffff),
    insn(LDXW, 3, 1, 0, 0), insn(RSH_K, 3, 0, 0, 16),
    insn(LDXW, 4, 1, 4, 0),
    insn(LDXW, 5, 1, 8, 0),
  ];
  const body: Insn[] = [];
  for (const r of [...rules].reverse()) {
    const block = ruleBlock(r);
    body.push(...block);
    // a rule that matches everything ends the program: the verifier rejects unreachable code
    if (block.length === 2) return [...prologue, ...body];
  }
  return [...prologue, ...body, insn(MOV_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)];
}

export function encodeInsns(list: Insn[]): Buffer {
  const buf = Buffer.alloc(list.length * 8);
  list.forEach((i, n) => {
    buf.writeUInt8(i.code, n * 8);
    buf.writeUInt8((i.src << 4) | i.dst, n * 8 + 1);
    buf.writeInt16LE(i.off, n * 8 + 2);
    buf.writeInt32LE(i.imm, n * 8 + 4);
  });
  return buf;
}

function loadProgram(code: Buffer): number {
  const license = Buffer.from('Apache\0');
  const log = Buffer.alloc(65536);
  const attr = (withLog: boolean): Buffer => {
    const a = Buffer.alloc(128);
    a.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
    a.writeUInt32LE(code.length / 8, 4);
    a.writeBigUInt64LE(libc.bufferAddress(code), 8);
    a.writeBigUInt64LE(libc.bufferAddress(license), 16);
    if (withLog) {
      a.writeUInt32LE(1, 24);
      a.writeUInt32LE(log.length, 28);
      a.writeBigUInt64LE(libc.bufferAddress(log), 32);
    }
    a.write('toyrun_devices', 48);
    a.writeUInt32LE(BPF_CGROUP_DEVICE, 68);
    return a;
  };
  try {
    return libc.bpf(BPF_PROG_LOAD, attr(false), 'BPF_PROG_LOAD cgroup device filter');
  } catch (e) {
    if (!(e instanceof libc.SysError) || (e.code !== 'EINVAL' && e.code !== 'EACCES')) throw e;
    try {
      libc.bpf(BPF_PROG_LOAD, attr(true), 'BPF_PROG_LOAD');
    } catch {
      const text = log.subarray(0, Math.max(0, log.indexOf(0))).toString().trim();
      throw new CgroupError(`${e.message}: verifier: ${text}`, { cause: e });
    }
    throw e;
  }
}

/** Load the filter and attach it to the cgroup directory. Attached without
 * BPF_F_ALLOW_MULTI, a new program replaces the previous one (update), and
 * no sub-cgroup can attach a program that would widen access. */
export function applyDeviceProgram(cgroupDir: string, devices: Resources['devices']): void {
  const code = encodeInsns(compileDeviceFilter(withDefaultDeviceRules(devices)));
  const prog = loadProgram(code);
  try {
    const dirFd = libc.openat(AT_FDCWD, cgroupDir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    try {
      const a = Buffer.alloc(32);
      a.writeUInt32LE(dirFd, 0);
      a.writeUInt32LE(prog, 4);
      a.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
      libc.bpf(BPF_PROG_ATTACH, a, `BPF_PROG_ATTACH ${cgroupDir}`);
    } finally {
      libc.close(dirFd);
    }
  } finally {
    libc.close(prog); // the attachment holds its own reference
  }
}
