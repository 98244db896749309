// `toyrun kill [--all] ID [SIGNAL]`. containerd matches "container not running"
// and "does not exist" in the error text: keep those words.
import * as libc from './linux/libc';
import { ContainerError, lockContainer } from './state';
import { loadContainer } from './container';
import { pidsIn } from './linux/cgroups';
import { parseSignal } from './signals';

export function killContainer(root: string, id: string, signal: string | undefined, all: boolean): void {
  const sig = parseSignal(signal);
  const unlock = lockContainer(root, id);
  try {
    const { rec, status } = loadContainer(root, id);
    if (status === 'stopped' || status === 'creating') throw new ContainerError('container not running');
    if (all) {
      for (const pid of pidsIn(rec.cgroup)) {
        try {
          libc.kill(pid, sig);
        } catch {
          // exited meanwhile
        }
      }
      return;
    }
    libc.kill(rec.pid, sig);
  } finally {
    unlock();
  }
}
