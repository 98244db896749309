// linux.netDevices (runtime-spec 1.3): move named host network interfaces into
// the container's network namespace, optionally renamed, with their permanent
// global addresses, and bring them up. Done by the runtime with iproute2's `ip`
// (rtnetlink), inside the namespace through nsenter on the init's
// /proc/<pid>/ns/net, while the init waits for the createRuntime hooks.
//
// Nothing is moved back on delete: the spec forbids it. When the namespace goes
// away the kernel returns physical devices to the initial namespace and destroys
// virtual ones (veth, macvlan, ...), network_namespaces(7).
import { existsSync } from 'node:fs';
import type * as ChildProcess from 'node:child_process';
import { NSENTER } from './userns';
import { findNamespace } from './namespaces';
import type { Spec } from '../spec/types';

export const IP = '/usr/sbin/ip';

export function netDevicesProblems(spec: Spec): string[] {
  const devs = spec.linux?.netDevices;
  if (!devs || Object.keys(devs).length === 0) return [];
  const out: string[] = [];
  if (!findNamespace(spec.linux?.namespaces, 'network')) out.push("/linux/netDevices: needs a network namespace in /linux/namespaces (moving the host's devices into the host's namespace means nothing)");
  if (!existsSync(IP)) out.push(`/linux/netDevices: needs iproute2's ${IP} on this host`);
  for (const name of Object.keys(devs)) {
    if (!existsSync(`/sys/class/net/${name}`)) out.push(`/linux/netDevices/${name}: no such network device on the host`);
  }
  return out;
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[]): Result {
  const { spawnSync } = require('node:child_process') as typeof ChildProcess;
  const r = spawnSync(argv[0] as string, argv.slice(1), { env: {}, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  return { status: r.status, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString().trim() ?? '' };
}

function mustRun(argv: string[], what: string): string {
  const r = run(argv);
  if (r.status !== 0) throw new Error(`${what}: ${argv.slice(argv.indexOf(IP)).join(' ')}: ${r.stderr || `exit status ${r.status}`}`);
  return r.stdout;
}

interface Address {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  dynamic?: boolean;
  nodad?: boolean;
}

/** The addresses the spec says survive the move: permanent (not dynamic), global scope. */
export function permanentGlobalAddresses(ipJson: string): Address[] {
  const links = JSON.parse(ipJson) as { addr_info?: Address[] }[];
  return (links[0]?.addr_info ?? []).filter((a) => a.scope === 'global' && !a.dynamic);
}

/** Move every device of linux.netDevices into the network namespace of initPid. */
export function moveNetDevices(spec: Spec, initPid: number): void {
  const inside = (args: string[]): string[] => [NSENTER, `--net=/proc/${initPid}/ns/net`, '--', IP, ...args];
  for (const [hostName, dev] of Object.entries(spec.linux?.netDevices ?? {})) {
    const path = `/linux/netDevices/${hostName}`;
    const name = dev.name || hostName;
    // The spec: a name taken in the container's namespace is an error, unless it is a
    // template ("eth%d"), which the kernel resolves. Checked before anything moves:
    // the kernel would move the device and only then fail the rename.
    if (!name.includes('%d') && run(inside(['link', 'show', 'dev', name])).status === 0) {
      throw new Error(`${path}: a network device named ${name} already exists in the container's network namespace`);
    }
    const addrs = permanentGlobalAddresses(mustRun([IP, '-j', 'addr', 'show', 'dev', hostName], path));
    // one RTM_NEWLINK: the kernel moves the device and names it in the new namespace
    mustRun([IP, 'link', 'set', 'dev', hostName, 'netns', String(initPid), 'name', name], path);
    // a template became a real name: the device is the one whose ifalias we can't know,
    // so find it by the name pattern's newest match
    const actual = name.includes('%d') ? newestMatching(mustRun(inside(['-j', 'link', 'show']), path), name) : name;
    for (const a of addrs) {
      mustRun(inside(['addr', 'add', `${a.local}/${a.prefixlen}`, 'dev', actual, ...(a.nodad ? ['nodad'] : [])]), path);
    }
    mustRun(inside(['link', 'set', 'dev', actual, 'up']), path);
  }
}

function newestMatching(ipJson: string, template: string): string {
  const re = new RegExp(`^${template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('%d', '\\d+')}$`);
  const links = (JSON.parse(ipJson) as { ifindex: number; ifname: string }[]).filter((l) => re.test(l.ifname));
  links.sort((a, b) => b.ifindex - a.ifindex);
  if (!links[0]) throw new Error(`no device named like ${template} after the move`);
  return links[0].ifname;
}
