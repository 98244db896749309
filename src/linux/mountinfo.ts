// /proc/self/mountinfo, for the root switch: which mount holds the rootfs, and
// which procfs and sysfs mounts of the host are still in our mount namespace.
import { readFileSync } from 'node:fs';
import * as libc from './libc';
import { O } from './libc';

export interface MountInfo {
  id: number;
  /** The path inside its filesystem that is mounted ("/" for a full mount). */
  root: string;
  mountpoint: string;
  fstype: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    out.push({ id: Number(pre[0]), root: unescape(pre[3] ?? ''), mountpoint: unescape(pre[4] ?? ''), fstype: line.slice(sep + 3).split(' ')[0] ?? '' });
  }
  return out;
}

export function readMountInfo(): MountInfo[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The mount a path lives on, by the mount id the kernel reports for an fd of it
 * (/proc/self/fdinfo): symlinks and mounts stacked on the path's parents count as they do for the kernel. */
export function mountOf(path: string): MountInfo {
  const fd = libc.openat(libc.AT_FDCWD, path, O.PATH | O.CLOEXEC);
  try {
    const m = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    const id = Number(m?.[1]);
    const hit = readMountInfo().find((x) => x.id === id);
    if (!hit) throw new Error(`mount of ${path} (mnt_id ${m?.[1] ?? '?'}) is not in /proc/self/mountinfo`);
    return hit;
  } finally {
    libc.close(fd);
  }
}
