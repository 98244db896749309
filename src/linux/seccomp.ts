// linux.seccomp — loaded through libseccomp (see issue: confinement).
import type { Process, Seccomp } from '../spec/types';

export function loadSeccomp(profile: Seccomp | undefined, _p: Process): void {
  if (profile) throw new Error('linux.seccomp is not supported by this build of toyrun yet');
}
