// The device rules every container gets, and their v1 text form (v2 compiles
// the same list into a BPF program: bpf.ts).
import type { Resources } from '../../spec/types';

// Every container gets the devices runc always allows, on top of linux.resources.devices
// (runc 1.1.5's devices.list, read on this host). Not 5:1: the host's /dev/console
// (the container's /dev/console is a pts, 136:N). mknod of any node is allowed; opening
// one is not, unless a rule says so.
export const DEFAULT_ALLOWED_DEVICES: { type: 'c' | 'b'; major: number | null; minor: number | null; access: string }[] = [
  { type: 'c', major: null, minor: null, access: 'm' },
  { type: 'b', major: null, minor: null, access: 'm' },
  { type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { type: 'c', major: 10, minor: 200, access: 'rwm' }, // net/tun (runc keeps it: runc#4555)
  { type: 'c', major: 136, minor: null, access: 'rwm' }, // pts/*
];

export function withDefaultDeviceRules(rules: Resources['devices']): NonNullable<Resources['devices']> {
  const list = [...(rules ?? [])];
  // Start from deny-all, as runc does on v1 and v2 alike: a new v1 cgroup
  // inherits its parent's allow-all, so a spec without a deny-all rule would
  // leave every device open. The container's rules follow, then the defaults.
  return [{ allow: false, type: 'a', access: 'rwm' }, ...list, ...DEFAULT_ALLOWED_DEVICES.map((d) => ({ allow: true, ...d }))];
}

export function deviceRuleText(r: NonNullable<Resources['devices']>[number]): string {
  const t = r.type ?? 'a';
  if (t === 'a' && (r.major === undefined || r.major === null) && (r.minor === undefined || r.minor === null)) return 'a';
  const num = (n: number | null | undefined): string => (n === undefined || n === null || n < 0 ? '*' : String(n));
  return `${t} ${num(r.major)}:${num(r.minor)} ${r.access || 'rwm'}`;
}
