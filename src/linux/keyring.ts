// The session keyring. A process inherits its parent's session keyring, so a
// container started from a login shell (or by a daemon) would possess, read and
// add to the keys of whoever ran toyrun. As runc does, the init joins a fresh
// keyring named "_ses.<id>" (a later `exec` joins the same one by name), unless
// the container was created with --no-new-keyring.
import * as libc from './libc';
import { SysError } from './libc';

/** The per-container session keyring's name (runc's). */
export function sessionKeyringName(id: string): string {
  return `_ses.${id}`;
}

// key permission bits (include/uapi/linux/keyctl.h): possessor 0xNN000000,
// user 0x00NN0000, group 0x0000NN00, other 0x000000NN; search is 0x08 of each.
const KEY_USR_SEARCH = 0x00080000;
const KEY_OTH_SEARCH = 0x00000008;

/** Join (or create) the container's keyring on this thread: keyrings belong to
 * the thread's credentials, and the init's main thread is the one that execs.
 * The keyring must stay searchable by name for `exec` to find it: by its owner
 * uid, or, in a user namespace, by anyone (runc's getSessionRingParams). */
export function joinContainerKeyring(name: string, userNamespace: boolean): void {
  let serial: number;
  try {
    serial = libc.keyctlJoinSessionKeyring(name);
  } catch (e) {
    // A kernel without keyrings has nothing to share either (runc ignores ENOSYS too).
    if (e instanceof SysError && e.code === 'ENOSYS') return;
    throw e;
  }
  const perm = Number.parseInt(libc.keyctlDescribe(serial).split(';')[3] ?? '', 16);
  if (!Number.isInteger(perm)) throw new Error(`keyring ${name}: cannot read its permissions`);
  libc.keyctlSetperm(serial, perm | (userNamespace ? KEY_OTH_SEARCH : KEY_USR_SEARCH));
}

/** `exec`: join the container's keyring by name, as runc's setns init does (a new,
 * empty one if it can't be found); never keep the caller's. */
export function joinExecKeyring(name: string): void {
  try {
    libc.keyctlJoinSessionKeyring(name);
  } catch (e) {
    if (!(e instanceof SysError && e.code === 'ENOSYS')) throw e;
  }
}
