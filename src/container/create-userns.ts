// create's part of starting the init in the spec's user namespace (the strategy
// itself is src/process/userns.ts, behind launch()): what the request carries
// (the namespace, idmapped trees, fds the mapped root could not open itself), and
// what the host root checks and hands over between stage 1's report and the plan.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../linux/libc';
import { AT_FDCWD, O } from '../linux/libc';
import { findNamespace } from '../linux/namespaces';
import { isBind } from '../linux/mounts';
import { idmapRequests, idmappedTree } from '../linux/idmap';
import { connectConsoleSocket } from '../linux/console';
import { createUserNamespace, formatIdMap, toHostId, unmappedUserProblems, unreachableBy } from '../linux/userns';
import type { Launched, LaunchRequest } from '../process/launch';
import type { IdmapFds, InitPlan } from '../process/plan';
import { START_FIFO } from '../process/startsync';
import { ValidationError } from '../spec/validate';
import type { IdMapping, Namespace, Spec } from '../spec/types';

export interface InitUserNamespace {
  /** The user namespace, the namespaces nsenter joins, and the fds stage 2 gets. */
  request: Pick<LaunchRequest, 'user' | 'join' | 'extraFds'>;
  /** Stage 2's numbers for those fds, as the plan names them. */
  planFds(child: Launched): Pick<InitPlan, 'stateDirFd' | 'idmapFds' | 'consoleSocketFd'>;
  /** Close our copies (once launched, or on failure). */
  close(): void;
}

/** Open what the init in the spec's user namespace is handed: an O_PATH fd on the
 * state dir (the mapped root could not walk to it), the idmapped trees (made by
 * host root with the container's user namespace, which must then exist first),
 * and the console socket, connected here. */
export function initUserNamespace(spec: Spec, stateDir: string, rootfs: string, consoleSocket?: string): InitUserNamespace {
  const nss = spec.linux?.namespaces ?? [];
  const user = findNamespace(nss, 'user') as Namespace;
  const opened: number[] = [];
  const close = (): void => {
    for (const fd of opened.splice(0)) libc.close(fd);
  };
  try {
    const dirFd = libc.openat(AT_FDCWD, stateDir, O.PATH | O.DIRECTORY | O.CLOEXEC);
    opened.push(dirFd);
    const requests = idmapRequests(spec, rootfs);
    let userOpt: NonNullable<LaunchRequest['user']> = user.path ? { path: user.path } : { uidMap: spec.linux?.uidMappings ?? [], gidMap: spec.linux?.gidMappings ?? [] };
    const trees: number[] = [];
    if (requests.length > 0) {
      const nsFd = user.path
        ? libc.openat(AT_FDCWD, user.path, O.RDONLY | O.CLOEXEC)
        : createUserNamespace(spec.linux?.uidMappings ?? [], spec.linux?.gidMappings ?? []);
      opened.push(nsFd);
      userOpt = { fd: nsFd };
      for (const r of requests) {
        let mapsFd = nsFd;
        if (r.maps) {
          mapsFd = createUserNamespace(r.maps.uid, r.maps.gid);
          opened.push(mapsFd);
        }
        try {
          trees.push(idmappedTree(r.source, mapsFd, r.recursive));
        } catch (e) {
          throw new Error(`${r.index === 'rootfs' ? '/root/path' : `/mounts/${r.index}`}: idmapped mount of ${r.source}: ${(e as Error).message}`, { cause: e });
        }
        opened.push(trees[trees.length - 1] as number);
      }
    }
    // The caller's console socket usually sits in a root-only directory: we connect
    // (as runc's parent does) and hand the connected socket down.
    const consoleFd = spec.process?.terminal && consoleSocket ? connectConsoleSocket(consoleSocket) : undefined;
    if (consoleFd !== undefined) opened.push(consoleFd);
    return {
      request: {
        user: userOpt,
        // pid and time go as launch()'s own fields; mount is left to stage 2 (the
        // engine and its scripts must stay reachable at their host paths)
        join: nss.filter((n) => n.path && !['user', 'mount', 'pid', 'time'].includes(n.type)),
        extraFds: {
          stateDir: dirFd,
          ...Object.fromEntries(trees.map((fd, i) => [`idmap${i}`, fd])),
          ...(consoleFd !== undefined ? { console: consoleFd } : {}),
        },
      },
      planFds: (child) => {
        const idmapFds: IdmapFds = { mounts: {} };
        requests.forEach((r, i) => {
          const fd = child.fds[`idmap${i}`] as number;
          if (r.index === 'rootfs') idmapFds.rootfs = fd;
          else idmapFds.mounts[r.index] = fd;
        });
        return { stateDirFd: child.fds.stateDir, idmapFds, consoleSocketFd: child.fds.console };
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

/** The maps stage 1 saw must be the ones config.json asked for (a joined namespace has its own). */
function mapMismatch(wanted: IdMapping[] | undefined, got: IdMapping[], at: string): string[] {
  if (!wanted?.length) return [];
  const key = (m: IdMapping[]): string => formatIdMap([...m].sort((a, b) => a.containerID - b.containerID));
  return key(wanted) === key(got) ? [] : [`${at} does not match the joined user namespace (${formatIdMap(got).trim().replace(/\n/g, ', ')})`];
}

/**
 * Between stage 1's report and the cgroup join (CgroupEntry): what only the host
 * root can tell, with the maps the namespace really has.
 *  - the joined namespace's maps must fit the config and process.user;
 *  - the rootfs and bind sources must be reachable (no capability applies to
 *    inodes whose owner is unmapped: only the mode bits count).
 */
export function checkInitUserNamespace(spec: Spec, child: Launched, configFile: string, rootfs: string): void {
  const user = findNamespace(spec.linux?.namespaces, 'user');
  const uidMap = child.uidMap ?? [], gidMap = child.gidMap ?? [];
  const problems: string[] = [];
  if (user?.path) {
    const where = `the user namespace ${user.path}`;
    problems.push(
      ...mapMismatch(spec.linux?.uidMappings, uidMap, '/linux/uidMappings'),
      ...mapMismatch(spec.linux?.gidMappings, gidMap, '/linux/gidMappings'),
      ...unmappedUserProblems(spec, uidMap, gidMap, where),
    );
  }
  const uid = toHostId(uidMap, 0) ?? 0;
  const gid = toHostId(gidMap, 0) ?? 0;
  const root = unreachableBy(`${rootfs}/.`, uid, gid, uidMap, gidMap);
  if (root) problems.push(`/root/path ${rootfs} is not reachable by the container's root: ${root}`);
  (spec.mounts ?? []).forEach((m, i) => {
    if (!isBind(m) || !m.source) return;
    const why = unreachableBy(m.source, uid, gid, uidMap, gidMap);
    if (why) problems.push(`/mounts/${i}/source ${m.source} is not reachable by the container's root: ${why}`);
  });
  if (problems.length > 0) throw new ValidationError(configFile, problems);
}

/** exec.fifo and start.fifo go to the mapped root (runc chowns its exec.fifo) and the
 * state dir becomes searchable (0711) so that the init can open the fifo in it. */
export function handFifosToMappedRoot(child: Launched, stateDir: string): void {
  const uid = toHostId(child.uidMap ?? [], 0) ?? 0;
  const gid = toHostId(child.gidMap ?? [], 0) ?? 0;
  for (const fifo of ['exec.fifo', START_FIFO]) libc.lchown(join(stateDir, fifo), uid, gid);
  chmodSync(stateDir, 0o711);
}
