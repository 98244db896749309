// Sealing the runtime's files when toyrun is not root (src/linux/seal.ts says why).
//
// An ordinary user may not use the mount API in the host's mount namespace:
// fsopen, fsmount and open_tree(OPEN_TREE_CLONE) need CAP_SYS_ADMIN in the user
// namespace that owns the caller's mount namespace. A user may make a user
// namespace of its own, and a mount namespace owned by it, where it holds that
// capability; overlayfs and tmpfs can be mounted there (FS_USERNS_MOUNT,
// overlayfs since Linux 5.11). So a helper does the sealing there:
//
//   unshare --user --map-root-user --mount -- ENGINE init.js seal-helper DIRS
//        a private user and mount namespace that no container is in: no process
//        that could attack the engine file exists in it
//   helper: sealTree(dir) for each dir (the same read-only overlay as root's,
//        detached), prints the fd numbers, waits for its stdin to close
//   CLI:  pidfd_getfd(2) copies each fd out of the helper (we are its parent
//        and the same user: PTRACE_MODE_ATTACH_REALCREDS holds), then closes
//        the helper's stdin: it exits. The mounts live on through our fds.
//
// The container's processes then run from those detached mounts exactly as in
// the root case: read-only in the kernel (an overlay without an upper layer),
// reachable only through the fds. Costs one more engine start per create/exec.
import * as libc from './libc';
import { UNSHARE } from './userns';

export const SEAL_HELPER_ARG = 'rootless-seal-helper';

const SYS_pidfd_getfd = 438;

/** The helper's side: seal each directory, report the fds, wait to be released. */
export function runSealHelper(dirsJson: string, sealTree: (dir: string) => number): void {
  try {
    const dirs = JSON.parse(dirsJson) as string[];
    const fds = dirs.map((d) => sealTree(d));
    libc.write(1, Buffer.from(`${fds.join(' ')}\n`));
    const buf = Buffer.alloc(16);
    while (libc.read(0, buf) > 0) { /* until the CLI closes our stdin */ }
    process.exit(0);
  } catch (e) {
    libc.write(1, Buffer.from(`error ${(e as Error).message}\n`));
    process.exit(1);
  }
}

/** The CLI's side: sealed trees of `dirs` (fds on their detached roots, in
 * order); `runtime` is the argv of an unsealed runtime process (src/linux/seal.ts's runtimeArgv). */
export function sealTreesInUserNamespace(dirs: string[], runtime: string[]): number[] {
  let [fromHelper, helperOut] = libc.pipe();
  let [helperIn, toHelper] = libc.pipe();
  let pid: number | undefined;
  let pidfd = -1;
  const got: number[] = [];
  try {
    pid = libc.posixSpawn(UNSHARE, [UNSHARE, '--user', '--map-root-user', '--mount', '--', ...runtime, SEAL_HELPER_ARG, JSON.stringify(dirs)], [],
      [[helperIn, 0], [helperOut, 1], [2, 2]], '/');
    libc.close(helperIn);
    libc.close(helperOut);
    helperIn = helperOut = -1;
    const line = libc.readLine(fromHelper).trim();
    if (!/^\d+( \d+)*$/.test(line)) {
      throw new Error(`${UNSHARE} --user --map-root-user --mount (the rootless sealing helper) failed` +
        `${line ? `: ${line.replace(/^error /, '')}` : ''}${line ? '' : ': unprivileged user namespaces may be disabled (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)'}`);
    }
    pidfd = libc.rawSyscall(libc.SYS.pidfd_open, 'int', pid, 'unsigned int', 0);
    for (const n of line.split(' ').map(Number)) {
      // the copy is close-on-exec (pidfd_getfd(2)); the callers dup2 it into place
      got.push(libc.rawSyscall(SYS_pidfd_getfd, 'int', pidfd, 'int', n, 'unsigned int', 0));
    }
    return got.splice(0);
  } finally {
    for (const fd of got) libc.close(fd);
    if (pidfd >= 0) libc.close(pidfd);
    if (helperIn >= 0) libc.close(helperIn);
    if (helperOut >= 0) libc.close(helperOut);
    libc.close(fromHelper);
    libc.close(toHelper); // the helper reads EOF and exits
    libc.reapExiting(pid);
  }
}
