// process.apparmorProfile and process.selinuxLabel.
//
// AppArmor is applied as runc applies it: the profile is named for the next
// execve ("exec NAME" written to this thread's attr/apparmor/exec), so the
// container's program starts confined and nothing of the runtime runs under it.
// The profile must already be loaded (podman and containerd load their defaults
// with apparmor_parser before they call the runtime). The write goes through a
// procfs only toyrun could have mounted, resolved without crossing a mount and
// checked to be procfs: an image whose /proc is a volume (or a tmpfs) would
// otherwise take the write and leave the process unconfined (CVE-2019-16884).
//
// SELinux is not applied, so a config that asks for a label is refused, never
// run unconfined: on a host without the LSM the label cannot mean anything
// (runc refuses an SELinux label there too), and on a host with it, ignoring the
// label would silently drop confinement the caller asked for.
import { existsSync, readFileSync } from 'node:fs';
import * as libc from './libc';
import { writeProcFile } from './procfs';
import type { Process } from '../spec/types';

export function apparmorEnabled(): boolean {
  if (!existsSync('/sys/kernel/security/apparmor')) return false;
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

export function selinuxEnabled(): boolean {
  return existsSync('/sys/fs/selinux/enforce');
}

/** The profiles loaded in the kernel, or undefined where the list can't be read. */
export function loadedApparmorProfiles(): Set<string> | undefined {
  let text: string;
  try {
    text = readFileSync('/sys/kernel/security/apparmor/profiles', 'utf8');
  } catch {
    return undefined;
  }
  // one "NAME (MODE)" per line; a name may hold spaces, the mode never does
  return new Set(text.split('\n').filter(Boolean).map((l) => l.slice(0, l.lastIndexOf(' ('))));
}

export function lsmProblems(p: Process | undefined, at = '/process'): string[] {
  const problems: string[] = [];
  const profile = p?.apparmorProfile;
  if (profile) {
    if (!apparmorEnabled()) problems.push(`${at}/apparmorProfile: AppArmor is not available on this host`);
    else if (/[\n\0]/.test(profile)) problems.push(`${at}/apparmorProfile: a profile name may not contain a newline or NUL`);
    else if (profile !== 'unconfined' && !profile.startsWith(':')) {
      // known before anything is made: the kernel would refuse the name at the last step (ENOENT)
      const loaded = loadedApparmorProfiles();
      if (loaded && !loaded.has(profile)) problems.push(`${at}/apparmorProfile: AppArmor profile ${profile} is not loaded (load it with apparmor_parser -r)`);
    }
  }
  if (p?.selinuxLabel) {
    problems.push(selinuxEnabled()
      ? `${at}/selinuxLabel: applying SELinux label ${p.selinuxLabel} is not supported by toyrun (refusing to run unconfined)`
      : `${at}/selinuxLabel: SELinux is not available on this host`);
  }
  return problems;
}

/** Confine this thread's next execve to profile. procFd: a procfs of our own PID
 * namespace (src/linux/procfs.ts), where our task's attr lives under its PID:
 * "self" and "thread-self" are symlinks, which the procfs writes never follow. */
export function applyApparmorProfile(profile: string | undefined, procFd: () => number): void {
  if (!profile) return;
  const pid = libc.getpid();
  // attr/apparmor/exec since Linux 5.8 (shared LSM stacking); attr/exec before
  const base = `${pid}/task/${pid}/attr`;
  try {
    writeProcFile(procFd(), `${base}/apparmor/exec`, `exec ${profile}`);
  } catch (e) {
    if (!(e instanceof libc.SysError && e.code === 'ENOENT' && e.syscall === 'openat2')) throw e;
    writeProcFile(procFd(), `${base}/exec`, `exec ${profile}`);
  }
}
