// Compiled seccomp programs, kept under <root>/.seccomp/ by what they were
// compiled from. libseccomp takes ~5 ms to take a profile in and ~8 ms to turn
// it into BPF, and podman or containerd hand every container the same default
// profile: the second container of a profile loads the stored program instead.
//
// A file is <64-bit FNV-1a of the key>.bpf holding the key itself (a 4-byte length,
// then the text) and the program; a file is used only if its key matches ours
// byte for byte, so a hash collision costs a compile, never a wrong filter. The
// key names everything the program depends on: the profile's rules, defaults,
// architectures and flags, the libseccomp library file, the kernel release
// (libseccomp adapts its output to the actions the kernel supports) and the
// version of the ENOSYS stub put in front of it (seccomp-enosys.ts).
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Seccomp } from '../spec/types';
import { ENOSYS_STUB_VERSION } from './seccomp-enosys';

const LIBSECCOMP_FILES = ['/lib/x86_64-linux-gnu/libseccomp.so.2', '/usr/lib/x86_64-linux-gnu/libseccomp.so.2', '/usr/lib64/libseccomp.so.2', '/lib64/libseccomp.so.2'];
const BPF_INSN = 8; // struct sock_filter
const BPF_MAXINSNS = 4096;

/** What a compiled program depends on, as text; undefined where that can't be told. */
export function seccompCacheKey(profile: Seccomp): string | undefined {
  let lib: string | undefined;
  for (const file of LIBSECCOMP_FILES) {
    try {
      const st = statSync(file); // through the soname link: the library itself
      lib = `${file}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      break;
    } catch {
      // not here
    }
  }
  if (!lib) return undefined;
  let kernel: string;
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return undefined;
  }
  const { defaultAction, defaultErrnoRet, architectures, flags, syscalls } = profile;
  // enosysStub: programs stored before the ENOSYS stub (seccomp-enosys.ts) existed, or
  // with another version of it, must not be taken for today's
  return JSON.stringify({ lib, kernel, arch: process.arch, enosysStub: ENOSYS_STUB_VERSION, profile: { defaultAction, defaultErrnoRet, architectures, flags, syscalls } });
}

/** FNV-1a over the bytes, twice in 32 bits (two offset bases): a 64-bit name,
 * without BigInt arithmetic per byte on a key of several kilobytes. */
function fnv1a64(text: string): string {
  let a = 0x811c9dc5, b = 0x050c5d1f;
  for (const byte of Buffer.from(text)) {
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x01000193);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function cacheFile(dir: string, key: string): string {
  return join(dir, `${fnv1a64(key)}.bpf`);
}

/** The stored program for key, if there is one and it is whole. */
export function readCachedProgram(dir: string, key: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(cacheFile(dir, key));
  } catch {
    return undefined;
  }
  if (data.length < 4) return undefined;
  const keyLen = data.readUInt32LE(0);
  if (4 + keyLen > data.length || data.subarray(4, 4 + keyLen).toString() !== key) return undefined;
  const program = data.subarray(4 + keyLen);
  if (program.length === 0 || program.length % BPF_INSN !== 0 || program.length / BPF_INSN > BPF_MAXINSNS) return undefined;
  return program;
}

/** Store a program (write, then rename: readers see a whole file or none).
 * Best effort: a root we can't write (a user namespace's init) only means no cache. */
export function storeCachedProgram(dir: string, key: string, program: Buffer): void {
  const file = cacheFile(dir, key);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const head = Buffer.alloc(4);
    const keyBytes = Buffer.from(key);
    head.writeUInt32LE(keyBytes.length, 0);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      for (const part of [head, keyBytes, program]) writeSync(fd, part);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    // no cache this time
  }
}
