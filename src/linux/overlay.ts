// overlayfs: the kernel side of image layers. A stack of read-only lower
// directories under one writable upper directory, merged at a mount point.
// Deletions in a layer are "whiteouts" that overlayfs recognises on its own:
// a 0:0 character device hides the lower entry of the same name, and a
// directory with trusted.overlay.opaque=y hides everything below it.
import { readFileSync } from 'node:fs';
import * as libc from './libc';
import { MNT_DETACH, SysError } from './libc';
import { parseMountInfo, unescapeMountinfo } from './mountinfo';

const S_IFCHR = 0o020000;
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** The kernel's whiteout: a character device with device number 0:0. */
export function makeWhiteout(path: string): void {
  libc.mknod(path, S_IFCHR, libc.makedev(0, 0));
}

/** Hide every lower entry below dir (trusted.* needs CAP_SYS_ADMIN: we are root). */
export function markOpaque(dir: string): void {
  libc.lsetxattr(dir, OPAQUE_XATTR, Buffer.from('y'));
}

/** Characters that would end a path early in overlayfs' option string. */
export function badOverlayPath(p: string): boolean {
  return /[,:\\\n]/.test(p);
}

/** mount -t overlay; lowers are given bottom first, overlayfs wants the top first. */
export function mountOverlay(target: string, lowersBottomFirst: string[], upper: string, work: string): void {
  const data = `lowerdir=${[...lowersBottomFirst].reverse().join(':')},upperdir=${upper},workdir=${work}`;
  // mount(2) copies at most one page of option data: a longer string would be cut.
  if (Buffer.byteLength(data) >= 4096) {
    throw new Error(`overlay options for ${target} exceed one page (${lowersBottomFirst.length} layers): use fewer or shorter layer paths`);
  }
  libc.mount('overlay', target, 'overlay', 0, data);
}

/** Unmount; a mount still busy is detached (it vanishes from the tree now and
 * is freed when its last user goes). Not mounted is not an error. */
export function unmountOverlay(target: string): void {
  try {
    libc.umount2(target, 0);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (e.code === 'EINVAL' || e.code === 'ENOENT') return;
    if (e.code !== 'EBUSY') throw e;
    libc.umount2(target, MNT_DETACH);
  }
}

export interface OverlayMount {
  target: string;
  lowers: string[];
  upper?: string;
  work?: string;
}


/** The overlay mounts of this mount namespace, with their layer directories. */
export function overlayMounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): OverlayMount[] {
  const found: OverlayMount[] = [];
  for (const { fstype, mountpoint, superOptions } of parseMountInfo(mountinfo)) {
    if (fstype !== 'overlay') continue;
    const m: OverlayMount = { target: mountpoint, lowers: [] };
    for (const opt of superOptions.split(',')) {
      const eq = opt.indexOf('=');
      const key = opt.slice(0, eq), value = unescapeMountinfo(opt.slice(eq + 1));
      if (key === 'lowerdir') m.lowers.push(...value.split(':'));
      else if (key === 'lowerdir+' || key === 'datadir+') m.lowers.push(value);
      else if (key === 'upperdir') m.upper = value;
      else if (key === 'workdir') m.work = value;
    }
    found.push(m);
  }
  return found;
}
