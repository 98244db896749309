// Sealing the runtime against its containers (the CVE-2019-5736 class).
//
// The init and the exec helper are the host's JavaScript engine. A container can
// get a handle on the engine's file: its entrypoint can be a script starting with
// `#!/proc/self/exe` (the kernel then runs the init's own executable as the
// container's process), and a process watching /proc can open /proc/<pid>/exe,
// map_files/ or fd/ of a helper that has not execve'd yet. Reopened for writing
// once no runtime process executes it (ETXTBSY gone), such a handle would let the
// container rewrite the engine, and the next toyrun command on the host would run
// the container's code as root.
//
// So every runtime process toyrun starts for a container runs from a read-only
// copy-free view of its install tree, as runc 1.2 runs itself from a sealed
// overlay of its binary:
//
//   fsopen("overlay") lowerdir=<install root>:<empty tmpfs>, no upperdir
//                        an overlay without an upper layer is read-only in the
//                        kernel itself (EROFS on any write through it): no
//                        remount, mount_setattr or open_tree clone can change
//                        that, in any namespace, with any capability
//   fsmount(RDONLY|NOSUID|NODEV)  a *detached* mount: in no mount table at all,
//                        reachable only through its fd. The host sees nothing,
//                        nothing is left behind, the kernel frees it when the last
//                        process holding a file on it execve's or exits
//   posix_spawn          the fd is passed at a known number N and the child is
//                        execve'd as /proc/self/fd/N/<engine>: its exe, the
//                        bundle it reads and koffi's native module it maps are
//                        all files on the sealed mount
//
// Under Bun the runtime process is bin/toyrun itself, the compiled executable
// (src/main.ts): `/proc/self/fd/N/bin/toyrun init <fd> <fd>`. Its code is inside
// the file the kernel executes, precompiled, so nothing else is read but koffi's
// native module, dlopen'ed by path (src/linux/koffi.ts). Under Node the engine
// would resolve a script path through /proc/self/fd/N to the path it has inside
// the detached mount ("/dist/node/init.js", which is nothing on the host), so it
// is given a one-line loader (`-e`, LOADER below) that reads the bundle through
// the sealed path and compiles it. Creating and releasing the mount costs
// ~0.25 ms (overlay) / ~0.06 ms (bind); nothing is copied.
import { basename, dirname, join, relative } from 'node:path';
import { realpathSync } from 'node:fs';
import * as libc from './libc';
import { AT_FDCWD, O } from './libc';
import { bundleDir, INIT_ROLE, installRoot, ROLES, type Role } from '../paths';
import { isUnprivileged } from './rootless';
import { runSealHelper, sealTreesInUserNamespace } from './rootless-seal';

const MOUNT_ATTR_RDONLY = 0x1, MOUNT_ATTR_NOSUID = 0x2, MOUNT_ATTR_NODEV = 0x4;
const OPEN_TREE_CLONE = 1;

/** A detached, read-only view of one host directory: the fd of its root. */
interface SealedTree {
  fd: number;
  hostDir: string;
}

/** The runtime's files, sealed: the install tree (dist/, node_modules/) and the
 * engine's directory if the engine lives elsewhere (Node's /usr/bin/node). */
export interface SealedRuntime {
  trees: SealedTree[];
  /** Paths relative to trees[engineTree].hostDir and trees[0].hostDir. */
  engineTree: number;
  engine: string;
  bundles: string;
  close(): void;
}

/** How the tree fds are numbered in a child: trees[i] at fds[i]. */
export type SealedFds = number[];

/** The read-only view of one directory: an overlay without an upper layer, or
 * (where overlayfs is missing) a read-only bind mount clone. */
function sealTree(hostDir: string): SealedTree {
  if (process.env.TOYRUN_SEAL_FORCE_BIND !== '1') {
    try {
      // overlayfs wants two lower layers when it has no upper one: the empty tmpfs goes below
      const empty = libc.newFilesystemMount('tmpfs', ['size=4k', 'nr_inodes=4', 'mode=0555'], MOUNT_ATTR_RDONLY);
      try {
        const fd = libc.newFilesystemMount('overlay', [`lowerdir=${hostDir}:/proc/self/fd/${empty}`], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        return { fd, hostDir };
      } finally {
        libc.close(empty);
      }
    } catch (e) {
      if (!(e instanceof libc.SysError && ['ENODEV', 'EINVAL', 'EPERM', 'ELOOP', 'ENOSYS'].includes(e.code))) throw e;
    }
  }
  // A bind mount clone, read-only: it lives in an anonymous mount namespace made
  // from the host's, which a container can neither reach nor clone from
  // (open_tree(2) copies only from the caller's own namespace).
  const fd = libc.rawSyscall(libc.SYS.open_tree, 'int', AT_FDCWD, 'str', hostDir, 'unsigned int', OPEN_TREE_CLONE | O.CLOEXEC);
  try {
    libc.mountSetattr(fd, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, hostDir);
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return { fd, hostDir };
}

/** Seal the runtime's files for the processes about to be spawned (close() once
 * they have been: each child holds its own reference). */
export function sealRuntime(): SealedRuntime {
  const root = realpathSync(installRoot());
  const engine = engineFile();
  const trees: SealedTree[] = [];
  try {
    const inRoot = engine.startsWith(root + '/');
    const dirs = inRoot ? [root] : [root, dirname(engine)];
    let direct = !isUnprivileged();
    if (direct) {
      try {
        for (const d of dirs) trees.push(sealTree(d));
      } catch (e) {
        // root of a user namespace that does not own our mount namespace
        if (!(e instanceof libc.SysError && e.code === 'EPERM')) throw e;
        for (const t of trees.splice(0)) libc.close(t.fd);
        direct = false;
      }
    }
    if (!direct) {
      // no mount API for us here: sealed in a user namespace of our own (src/linux/rootless-seal.ts)
      const fds = sealTreesInUserNamespace(dirs, runtimeArgv(INIT_ROLE, []));
      fds.forEach((fd, i) => trees.push({ fd, hostDir: dirs[i] as string }));
    }
    const engineTree = inRoot ? 0 : 1;
    return {
      trees,
      engineTree,
      engine: relative((trees[engineTree] as SealedTree).hostDir, engine),
      bundles: relative(installRoot(), bundleDir()),
      close: () => {
        for (const t of trees.splice(0)) libc.close(t.fd);
      },
    };
  } catch (e) {
    for (const t of trees) libc.close(t.fd);
    throw new Error(`sealing the runtime's files read-only (${root}): ${(e as Error).message}`, { cause: e });
  }
}

/** The rootless sealing helper's entry (src/linux/rootless-seal.ts), in its own user and mount namespace. */
export function sealHelperMain(dirsJson: string): void {
  runSealHelper(dirsJson, (d) => sealTree(d).fd);
}

/** Bun runs toyrun compiled: the runtime processes are bin/toyrun with a role
 * (src/main.ts), whether the caller is bin/toyrun itself or a script run from
 * source (the benchmarks). Node runs a role's bundle through LOADER. */
const COMPILED = process.versions.bun !== undefined;

/** The file every runtime process executes: bin/toyrun, or Node. */
function engineFile(): string {
  return realpathSync(COMPILED ? join(installRoot(), 'bin', 'toyrun') : process.execPath);
}

/** What follows the engine in a runtime process's argv, `bundles` being the
 * directory of Node's bundles as that process reaches it. */
function roleArgs(role: Role, bundles: string): string[] {
  return COMPILED ? [role] : ['-e', LOADER, `${bundles}/${role}.js`];
}

/** argv of a runtime process started from the host's paths (not sealed: the
 * rootless sealing helper, the systemd D-Bus helper; neither meets a container). */
export function runtimeArgv(role: Role, args: string[]): string[] {
  return [engineFile(), ...roleArgs(role, bundleDir()), ...args];
}

/** Node's loader (`-e`): argv[1] is the bundle, read through the sealed mount
 * and compiled as a script (node:vm's Script, not eval: the engine parses a
 * program lazily, function bodies only when first called), in the CommonJS
 * wrapper a module gets. */
export const LOADER =
  'const f=process.argv[1],d=require("path").dirname(f),m={exports:{}};globalThis.toyrunBundleDir=d;' +
  'const s="(function(exports,require,module,__filename,__dirname){"+require("fs").readFileSync(f,"utf8")+"\\n})";' +
  'new(require("vm").Script)(s,{filename:f}).runInThisContext()(m.exports,require,m,f,d)';

/** argv of a runtime process started from the sealed trees, whose fds the child
 * holds at `fds`: [engine, role] (Bun) or [engine, -e, LOADER, bundle] (Node),
 * then `args`. The path is also the one to execve (or to hand to nsenter). */
export function sealedArgv(s: SealedRuntime, fds: SealedFds, role: Role, args: string[]): string[] {
  const at = (i: number): string => `/proc/self/fd/${fds[i]}`;
  return [`${at(s.engineTree)}/${s.engine}`, ...roleArgs(role, `${at(0)}/${s.bundles}`), ...args];
}

/** The role of a runtime process, from its argv (/proc/<pid>/cmdline), or
 * undefined for any other program. */
export function runtimeRoleOf(argv: string[]): Role | undefined {
  const role = COMPILED
    ? basename(argv[0] ?? '') === 'toyrun' ? argv[1] : undefined
    : /(^|\/)node$/.test(argv[0] ?? '') && argv[1] === '-e' && argv[2] === LOADER ? basename(argv[3] ?? '').replace(/\.js$/, '') : undefined;
  return (ROLES as readonly (string | undefined)[]).includes(role) ? (role as Role) : undefined;
}
