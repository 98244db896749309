// What `toyrun spec` writes: exactly what `runc spec` (1.1.5) writes, field for
// field, so that tools and scripts written against runc's default keep working
// (test/fixtures/runc-spec-config.json, runc-spec-rootless-config.json). It asks
// for a terminal and for ambient capabilities without inheritable ones: the
// runtime-spec says to warn about capabilities that cannot be granted and go on.
import type { Spec } from './types';

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** `unified`: the host is cgroup2-only, where runc adds a cgroup namespace after the mount one. */
export function runcDefaultSpec(rootless: boolean, ids = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 }, unified = false): Spec {
  const spec: Spec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...CAPS], effective: [...CAPS], permitted: [...CAPS], ambient: [...CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts', type: 'devpts', source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      rootless
        // a user namespace cannot mount a fresh sysfs without owning a network namespace
        ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
        : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      ...(rootless
        ? { uidMappings: [{ containerID: 0, hostID: ids.uid, size: 1 }], gidMappings: [{ containerID: 0, hostID: ids.gid, size: 1 }] }
        : { resources: { devices: [{ allow: false, access: 'rwm' }] } }),
      namespaces: [
        { type: 'pid' }, ...(rootless ? [] : [{ type: 'network' as const }]), { type: 'ipc' }, { type: 'uts' }, { type: 'mount' },
        ...(unified ? [{ type: 'cgroup' as const }] : []), ...(rootless ? [{ type: 'user' as const }] : []),
      ],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  return spec;
}

/** runc's layout: tab-indented, no trailing newline. */
export function runcSpecText(rootless: boolean, unified: boolean): string {
  return JSON.stringify(runcDefaultSpec(rootless, undefined, unified), null, '\t');
}
