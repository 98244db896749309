// `toyrun features`: what this build implements, in the OCI features format.
// Truthful by construction: each list is derived from the tables the code uses.
import { isRootless } from './linux/rootless';
import { CAPABILITY_NUMBERS, lastCap } from './linux/capabilities';
import { PROPAGATION_OPTIONS } from './linux/mounts';
import { OCI_VERSION } from './container/store';
import { VERSION } from './version';
import { SECCOMP_ACTIONS, SECCOMP_FLAGS, SECCOMP_OPERATORS, supportedSeccompArches } from './linux/seccomp';
import { libseccomp, libseccompAvailable } from './linux/libseccomp';
import { idmapSupported, ROOTFS_IDMAP_ANNOTATION } from './linux/idmap';
import { MPOL_FLAGS, MPOL_MODES } from './linux/mempolicy';

const MOUNT_OPTIONS = [
  'acl', 'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'iversion', 'lazytime', 'loud',
  'mand', 'noacl', 'noatime', 'nodev', 'nodiratime', 'noexec', 'noiversion', 'nolazytime', 'nomand', 'norelatime',
  'nostrictatime', 'nosuid', 'nosymfollow', 'rbind', 'rdev', 'rdiratime', 'relatime', 'remount', 'rexec', 'rnoatime',
  'rnodev', 'rnodiratime', 'rnoexec', 'rnorelatime', 'rnosuid', 'rnosymfollow', 'ro', 'rrelatime', 'rro', 'rrw',
  'rstrictatime', 'rsuid', 'rsymfollow', 'rw', 'silent', 'strictatime', 'suid', 'symfollow', 'sync',
];

export interface FeatureFlags {
  seccomp: boolean;
  userns: boolean;
}
export const features: FeatureFlags = { seccomp: true, userns: true };

export function featuresDocument(): Record<string, unknown> {
  const last = lastCap();
  const seccomp = features.seccomp && libseccompAvailable();
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...MOUNT_OPTIONS, ...(features.userns && idmapSupported() ? ['idmap', 'ridmap'] : []), ...Object.keys(PROPAGATION_OPTIONS)].sort(),
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts', 'time', ...(features.userns ? ['user'] : [])].sort(),
      capabilities: Object.entries(CAPABILITY_NUMBERS).filter(([, n]) => n <= last).map(([k]) => k),
      // both drivers are built in (src/linux/cgroups/v1.ts, v2.ts); --systemd-cgroup asks systemd over D-Bus (src/linux/systemd.ts)
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false },
      seccomp: seccomp
        ? {
            enabled: true,
            actions: SECCOMP_ACTIONS,
            operators: SECCOMP_OPERATORS,
            archs: supportedSeccompArches(),
            knownFlags: [...SECCOMP_FLAGS, 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
            supportedFlags: SECCOMP_FLAGS,
          }
        : { enabled: false },
      apparmor: { enabled: true }, // applied when the host has AppArmor (src/linux/lsm.ts)
      selinux: { enabled: false },
      // implemented (src/linux/intelrdt.ts) whether or not this host has resctrl: the
      // features document describes the runtime, not the host; create says when it is absent
      intelRdt: { enabled: true, schemata: true, monitoring: true },
      memoryPolicy: { modes: Object.keys(MPOL_MODES), flags: Object.keys(MPOL_FLAGS) },
      netDevices: { enabled: true },
      mountExtensions: { idmap: { enabled: features.userns && idmapSupported() } },
    },
    // an annotation that changes how the rootfs is mounted: callers must not pass it from untrusted input
    potentiallyUnsafeConfigAnnotations: [ROOTFS_IDMAP_ANNOTATION],
    annotations: {
      'org.toyrun.version': VERSION,
      'org.toyrun.engine': process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`,
      // rootless mode (src/linux/rootless.ts): built in; whether this invocation is in it (--rootless, or auto)
      'org.toyrun.rootless': 'true',
      'org.toyrun.rootless.active': String(isRootless()),
      ...(seccomp ? { 'io.github.seccomp.libseccomp.version': libseccompVersion() } : {}),
    },
  };
}

function libseccompVersion(): string {
  const v = libseccomp().version();
  return `${v.major}.${v.minor}.${v.micro}`;
}
