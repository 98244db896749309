// process.apparmorProfile and process.selinuxLabel. toyrun applies neither, so
// a config that asks for one is refused, never run unconfined: on a host
// without the LSM the label cannot mean anything (runc refuses an SELinux
// label there too), and on a host with it, ignoring the label would silently
// drop confinement the caller asked for.
import { existsSync, readFileSync } from 'node:fs';
import type { Process } from '../spec/types';

export function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

export function selinuxEnabled(): boolean {
  return existsSync('/sys/fs/selinux/enforce');
}

export function lsmProblems(p: Process | undefined, at = '/process'): string[] {
  const problems: string[] = [];
  if (p?.apparmorProfile) {
    problems.push(apparmorEnabled()
      ? `${at}/apparmorProfile: applying AppArmor profile ${p.apparmorProfile} is not supported by toyrun (refusing to run unconfined)`
      : `${at}/apparmorProfile: AppArmor is not available on this host`);
  }
  if (p?.selinuxLabel) {
    problems.push(selinuxEnabled()
      ? `${at}/selinuxLabel: applying SELinux label ${p.selinuxLabel} is not supported by toyrun (refusing to run unconfined)`
      : `${at}/selinuxLabel: SELinux is not available on this host`);
  }
  return problems;
}
