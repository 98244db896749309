// /proc/self/mountinfo, the one parser of it: for the root switch (which mount holds
// the rootfs, which host procfs and sysfs mounts are still in our namespace), the
// cgroup layout (src/linux/cgroups/layout.ts) and the overlay mounts (src/linux/overlay.ts).
import { readFileSync } from 'node:fs';
import * as libc from './libc';
import { O } from './libc';

export interface MountInfo {
  id: number;
  /** The path inside its filesystem that is mounted ("/" for a full mount). */
  root: string;
  mountpoint: string;
  fstype: string;
  /** The superblock options as the kernel prints them, still escaped (values may hold ','). */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype = '', , superOptions = ''] = line.slice(sep + 3).split(' ');
    out.push({ id: Number(pre[0]), root: unescapeMountinfo(pre[3] ?? ''), mountpoint: unescapeMountinfo(pre[4] ?? ''), fstype, superOptions });
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
