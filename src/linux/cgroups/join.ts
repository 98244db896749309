// Moving a process into the container's cgroup, and the grace-period head start.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as libc from '../libc';
import { readControllers, writeCgroupFile } from './files';
import { ownUnifiedDir } from './layout';
import type { JoinFiles } from './types';

/** How a new process joins the container's cgroup: `byParent` files get its PID
 * from the parent while it is still booting, `bySelf` files get "0" from the
 * process itself, as its first stage.
 *
 * Moving a process through cgroup.procs write-locks the global threadgroup
 * rwsem, and the first such write of a burst waits for an RCU grace period
 * (~9 ms here; it also stalls every fork on the host meanwhile). On v1, writing
 * "0" to `tasks` moves only the calling thread and takes no such lock: the
 * process moves its main thread, the one that will execve (exec leaves only that
 * thread; memcg charges follow the thread-group leader, so the engine's later
 * allocations are the container's, and its boot-time ones are not).
 *
 * cgroup2 has no per-thread move for domain cgroups, so that one write pays the
 * grace period. Where the container's cgroup2 directory has neither the memory
 * nor the pids controller (a hybrid host, whose cgroup2 side carries at most
 * leftovers such as hugetlb), nothing there can hold the booting engine to the
 * container's limits: the parent moves the process while its engine boots, and
 * the wait overlaps the boot instead of following it. Otherwise the process
 * moves itself once booted, so that neither the engine's boot memory nor its
 * helper threads count against memory.max and pids.max.
 *
 * tasksJoin is the v1 part (each hierarchy's tasks file, by the process itself),
 * procsJoin the cgroup2 part; the drivers' joinFiles combine them. */
export function tasksJoin(dirs: string[]): JoinFiles {
  return { byParent: [], bySelf: [...new Set(dirs)].map((d) => join(d, 'tasks')) };
}

/** cgroup.procs of a cgroup2 directory: moved by the parent while the engine
 * boots unless memory or pids can hold the boot to the container's limits. */
export function procsJoin(unified: string): JoinFiles {
  const procs = join(unified, 'cgroup.procs');
  const limiting = readControllers(unified).some((c) => c === 'memory' || c === 'pids');
  return limiting ? { byParent: [], bySelf: [procs] } : { byParent: [procs], bySelf: [] };
}

/** Start, in the background, the grace period that moving a process through
 * cgroup.procs must wait for. The rcu_sync guarding the threadgroup rwsem lets
 * a writer that comes within about one grace period of the previous one through
 * without a new wait: a no-op move (our own PID into the cgroup we are in) on a
 * worker thread pays the wait while we go on validating, claiming and spawning,
 * and the real move a few milliseconds later finds it paid. Only a head start:
 * if the write fails, or comes too late, the real move waits as it would have. */
export function startMoveGracePeriod(): void {
  const own = ownUnifiedDir();
  if (own === undefined) return;
  let fd: number;
  try {
    fd = libc.openat(libc.AT_FDCWD, join(own, 'cgroup.procs'), libc.O.WRONLY | libc.O.CLOEXEC);
  } catch {
    return;
  }
  libc.writeInBackground(fd, Buffer.from(String(process.pid)));
}

/** Write `pid` into each join file: cgroup.procs moves the whole process, a v1
 * `tasks` file the one thread of that id (the main thread: the one that execs). */
export function moveIntoCgroup(pid: number, files: string[]): void {
  for (const file of files) writeCgroupFile(dirname(file), basename(file), String(pid));
}

/** All of the cgroup files, for a parent that moves a process it has stopped
 * (the user-namespace stages, where the host-owned files are not writable from inside). */
export function allJoinFiles({ byParent, bySelf }: JoinFiles): string[] {
  return [...bySelf, ...byParent];
}

/** The processes in a cgroup directory and below it, sorted. */
export function pidsBelow(dir: string | undefined): number[] {
  if (!dir) return [];
  const seen = new Set<number>();
  const walk = (d: string): void => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) seen.add(Number(l));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      // a vanished sub-cgroup has no processes left
    }
  };
  walk(dir);
  return [...seen].sort((a, b) => a - b);
}
