// Capabilities: the five sets of process.capabilities, set exactly.
// Order matters (capabilities(7)):
//   1. drop the bounding set while we still have CAP_SETPCAP;
//   2. keep permitted across the uid change (PR_SET_KEEPCAPS), since setuid to
//      non-zero clears them otherwise;
//   3. capset effective/permitted/inheritable;
//   4. raise ambient (each must already be permitted and inheritable).
import { readFileSync } from 'node:fs';
import * as libc from './libc';
import { PR } from './libc';
import type { Capabilities } from '../spec/types';

export const CAPABILITY_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4,
  CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30, CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35, CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

export function lastCap(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return 40;
  }
}

/** Names the running kernel does not know: reported to the caller, never silently dropped. */
export function unsupportedCapabilities(caps: Capabilities | undefined, last = lastCap()): string[] {
  const all = new Set<string>();
  for (const list of Object.values(caps ?? {})) for (const c of list as string[]) all.add(c);
  return [...all].filter((c) => (CAPABILITY_NUMBERS[c] ?? Infinity) > last);
}

/** The runtime's own bounding set (CapBnd of /proc/self/status). */
export function ownBoundingSet(): bigint {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'));
  return BigInt('0x' + (line?.slice('CapBnd:'.length).trim() ?? '0'));
}

/** Names the kernel knows but the runtime was started without (outside its
 * bounding set): it cannot grant them, and the container would silently run
 * with less than it asked for. Reported at create; runc fails later, at capset. */
export function unavailableCapabilities(caps: Capabilities | undefined, bounding = ownBoundingSet(), last = lastCap()): string[] {
  const all = new Set<string>();
  for (const list of Object.values(caps ?? {})) for (const c of list as string[]) all.add(c);
  return [...all].filter((c) => {
    const n = CAPABILITY_NUMBERS[c];
    return n !== undefined && n <= last && ((bounding >> BigInt(n)) & 1n) === 0n;
  });
}

/** Ambient capabilities the kernel refuses to raise: PR_CAP_AMBIENT_RAISE needs
 * the capability in both permitted and inheritable (capabilities(7), EPERM). */
export function unraisableAmbient(caps: Capabilities | undefined): string[] {
  const permitted = new Set(caps?.permitted), inheritable = new Set(caps?.inheritable);
  return (caps?.ambient ?? []).filter((c) => !permitted.has(c) || !inheritable.has(c));
}

function mask(names: string[] | undefined): bigint {
  let m = 0n;
  for (const n of names ?? []) {
    const num = CAPABILITY_NUMBERS[n];
    if (num === undefined) throw new Error(`unknown capability ${JSON.stringify(n)}`);
    m |= 1n << BigInt(num);
  }
  return m;
}

export function dropBoundingSet(caps: Capabilities | undefined): void {
  const keep = mask(caps?.bounding);
  const last = lastCap();
  for (let c = 0; c <= last; c++) {
    if ((keep & (1n << BigInt(c))) === 0n) libc.prctl(PR.CAPBSET_DROP, c);
  }
}

export function keepCapsAcrossSetuid(on: boolean): void {
  libc.prctl(PR.SET_KEEPCAPS, on ? 1 : 0);
}

function capset(eff: bigint, perm: bigint, inh: bigint): void {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(0x20080522, 0); // _LINUX_CAPABILITY_VERSION_3
  const data = Buffer.alloc(24);
  for (let i = 0; i < 2; i++) {
    const shift = BigInt(32 * i);
    data.writeUInt32LE(Number((eff >> shift) & 0xffffffffn), i * 12);
    data.writeUInt32LE(Number((perm >> shift) & 0xffffffffn), i * 12 + 4);
    data.writeUInt32LE(Number((inh >> shift) & 0xffffffffn), i * 12 + 8);
  }
  libc.capset(hdr, data);
}

/** Effective, permitted and inheritable exactly as asked, then ambient. `hold`
 * keeps one more capability in effective+permitted until releaseHeldCapability:
 * loading a seccomp filter without no_new_privs needs CAP_SYS_ADMIN. */
export function setCapabilitySets(caps: Capabilities | undefined, hold?: string): void {
  const extra = hold ? mask([hold]) : 0n;
  capset(mask(caps?.effective) | extra, mask(caps?.permitted) | extra, mask(caps?.inheritable));
  libc.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL);
  // Those that cannot be raised were warned about by create/exec (the runtime-spec:
  // warn and go on); the rest must succeed.
  const skip = new Set(unraisableAmbient(caps));
  for (const name of caps?.ambient ?? []) {
    if (skip.has(name)) continue;
    libc.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, CAPABILITY_NUMBERS[name] as number);
  }
}

/** Drop what setCapabilitySets held. Only a capability outside the asked sets
 * leaves permitted, so the ambient set raised before is untouched. */
export function releaseHeldCapability(caps: Capabilities | undefined): void {
  capset(mask(caps?.effective), mask(caps?.permitted), mask(caps?.inheritable));
}

