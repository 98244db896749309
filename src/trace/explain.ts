// One plain sentence per stage: why the runtime asks the kernel what it asks there,
// and where the code is. Keyed by the stage names of src/init/init.ts, src/init/exec-init.ts
// and the CLI's phases (src/container/create.ts, start.ts, delete.ts, exec.ts).
export interface StageNote {
  why: string;
  /** Source file and function; the steps' own `at` names the exact callers. */
  src: string;
}

export const STAGE_NOTES: Record<string, StageNote> = {
  // ---- the CLI
  'validate config': { why: 'Before touching the kernel, config.json is checked against the schema and the host (paths, namespaces, sysctls), so bad input fails with a JSON path and leaves nothing behind.', src: 'src/container/create.ts createContainer, hostProblems' },
  'claim id': { why: 'The state directory is the container\'s identity on the host: it is created atomically and locked.', src: 'src/container/store.ts claimContainerDir, lockContainer' },
  'spawn init': { why: 'unshare(CLONE_NEWPID) changes the PID namespace of the caller\'s future children, not its own: so the CLI unshares, spawns the init (which becomes PID 1 of the new namespace) and switches back. The init is the runtime\'s own engine, so it runs from a read-only overlay of toyrun\'s install tree (fsopen/fsmount, never attached anywhere): a container can never get that file open for writing (CVE-2019-5736).', src: 'src/linux/seal.ts sealRuntime, src/linux/spawn.ts spawnIntoNamespaces, src/process/launch.ts launch, CgroupEntry' },
  record: { why: 'Without a user namespace the init is spawned before this and boots while the CLI writes what it has: the record (the init\'s PID and start time, so that from here on `delete --force` can find and undo everything), the config, and exec.fifo, on which the init will block until `start`.', src: 'src/container/create.ts createContainer, src/container/store.ts saveRecord' },
  cgroup: { why: 'A cgroup is a directory in cgroupfs: mkdir creates it, and writing a value into one of its files (memory.limit_in_bytes, devices.deny, ...) is how a limit is set; writing a PID into cgroup.procs/tasks moves a process in.', src: 'src/linux/cgroups/manager.ts cgroupDriver, files.ts writeCgroupFile' },
  'user namespace': { why: 'A multithreaded engine cannot unshare(CLONE_NEWUSER): a holder process makes the namespace, the CLI writes uid_map/gid_map as the privileged parent, and nsenter starts the next stage inside it.', src: 'src/process/launch.ts launch, src/process/userns.ts spawnInUserNamespace, src/container/create-userns.ts, src/linux/userns.ts createUserNamespace' },
  'drive init': { why: 'The init is another program, so its plan (the config, the rootfs, the cgroup files) goes over a pipe; the CLI then waits for it to report each step, running the hooks it asks for.', src: 'src/container/create.ts driveInit, src/process/channel.ts SyncChannel' },
  undo: { why: 'Something failed: everything created so far is undone in reverse order (the init is killed, the cgroup removed, the state directory deleted), so a failed create leaves nothing behind.', src: 'src/container/create.ts createContainer (undo list)' },
  start: { why: 'Opening exec.fifo for writing is the signal: the init, blocked in open/read on its other end, wakes up and goes on to become the container\'s program.', src: 'src/container/start.ts startContainer' },
  'wait for exit': { why: '`run` stays in the foreground: it forwards signals to the container\'s process and waits for it to exit.', src: 'src/run.ts runContainer, src/linux/spawn.ts waitForwardingSignals' },
  delete: { why: 'Delete undoes create from the outside: kill what is left, unmount, rmdir the cgroup directories (the kernel refuses while a process is inside) and remove the state directory.', src: 'src/container/delete.ts deleteContainer' },
  'spawn exec helper': { why: 'A new process joins an existing container: like the init, it is spawned into the container\'s PID namespace (which applies only to children) and receives its plan over a pipe.', src: 'src/container/exec.ts execInContainer, spawnExecInit' },
  'drive exec helper': { why: 'The CLI waits until the helper reports ready (or an error), the same handshake as for the init.', src: 'src/container/exec.ts awaitExec' },
  // ---- user-namespace stage 1
  'user namespace stage 1': { why: 'Inside the new user namespace this process holds every capability, so namespaces it now creates (PID) are owned by the container\'s user namespace; it spawns stage 2 as PID 1 and exits.', src: 'src/init/userns-stage1.ts runUserNamespaceStage1' },
  // ---- the init (and the exec helper, which shares the later stages)
  'start-up': { why: 'The runtime\'s engine has started and read its plan; nothing of the container exists in this process yet.', src: 'main' },
  'join cgroup': { why: 'The process writes "0" (itself) into the cgroup\'s tasks/cgroup.procs files first, so every byte it allocates from now on is charged to the container.', src: 'joinCgroup' },
  namespaces: { why: 'unshare(CLONE_NEW*) gives this process new mount, UTS, IPC, network and cgroup namespaces (setns joins existing ones): from now on what it mounts or renames is private to the container.', src: 'main, src/linux/namespaces.ts enterNamespaces' },
  'session keyring': { why: 'A fresh session keyring keeps the caller\'s kernel keys (credentials) away from the container.', src: 'src/linux/keyring.ts joinContainerKeyring' },
  hostname: { why: 'sethostname only changes the new UTS namespace: the host keeps its name.', src: 'src/init/init.ts setHostnames' },
  mounts: { why: 'In its own mount namespace the init builds the container\'s file tree: the rootfs is bind-mounted onto itself (pivot_root needs a mount point), then each entry of "mounts" is mounted below it through fds, and /dev is filled with device nodes.', src: 'src/init/init.ts doMounts, src/linux/mounts.ts mountOne, src/linux/devices.ts createDevices' },
  'createRuntime hooks': { why: 'The OCI hooks run now, before pivot_root: the CLI runs prestart/createRuntime in the host\'s namespaces, the init createContainer in the container\'s.', src: 'src/init/init.ts runtimeHooks, src/process/hooks.ts runHooks' },
  console: { why: 'With a terminal, a pty is opened in the container\'s devpts and its master is sent to the console socket.', src: 'src/linux/console.ts setupConsole' },
  'seccomp filter': { why: 'The seccomp profile is compiled to BPF now, while libseccomp is still reachable on the host\'s filesystem; it is installed last, just before execve.', src: 'src/linux/seccomp.ts prepareSeccompFilter' },
  pivot_root: { why: 'pivot_root(".", ".") makes the rootfs the root and stacks the old root on top of it; the old root is made a slave (so the unmount does not propagate to the host) and detached with umount2(MNT_DETACH): the host\'s files are gone from the container\'s view.', src: 'src/linux/rootfs.ts pivotRoot' },
  sysctl: { why: 'Namespaced kernel parameters are written under /proc/sys, through a private procfs instance that the container cannot have swapped.', src: 'src/linux/sysctl.ts applySysctls' },
  'masked and read-only paths': { why: 'Parts of /proc and /sys that would leak or change the host are bind-mounted read-only or hidden (masked) with an empty file or tmpfs; the root is made read-only if asked.', src: 'src/init/init.ts finishRootfs, src/linux/rootfs.ts readonlyPaths, maskPaths' },
  oom_score_adj: { why: 'The OOM killer\'s preference for this process is set through procfs; it is inherited by the program.', src: 'src/linux/process.ts setOomScoreAdj' },
  rlimits: { why: 'Resource limits (prlimit) are per process and survive execve.', src: 'src/linux/process.ts applyRlimits' },
  'resolve program': { why: 'chdir to process.cwd and look up process.args[0] in PATH now, so a missing program fails `create` instead of `start`.', src: 'src/init/init.ts resolveProgram, src/linux/process.ts lookPath' },
  'wait for start': { why: 'The init reports "ready" and blocks opening exec.fifo: the container is "created" until `toyrun start` opens the other end.', src: 'src/init/init.ts waitForStart' },
  'startContainer hooks': { why: 'startContainer hooks run in the container, after start and before the program.', src: 'src/process/hooks.ts runHooks' },
  scheduler: { why: 'The scheduling policy is inherited across execve; set while the capabilities it needs are still held.', src: 'src/linux/sched.ts applyScheduler' },
  'I/O priority': { why: 'ioprio_set, inherited across execve.', src: 'src/linux/sched.ts applyIoPriority' },
  'memory policy': { why: 'set_mempolicy (NUMA), inherited across execve.', src: 'src/linux/mempolicy.ts applyMemoryPolicy' },
  personality: { why: 'personality(2) (e.g. a 32-bit uname), inherited across execve.', src: 'src/linux/personality.ts applyPersonality' },
  'user and capabilities': { why: 'The capability bounding set is cut first (PR_CAPBSET_DROP needs CAP_SETPCAP), then groups, gid and uid change, and capset leaves exactly the configured capabilities.', src: 'src/linux/process.ts becomeUser, src/linux/capabilities.ts' },
  no_new_privs: { why: 'PR_SET_NO_NEW_PRIVS: execve can never grant privileges again (setuid bits, file capabilities are ignored).', src: 'src/linux/process.ts setNoNewPrivileges' },
  'file descriptors': { why: 'Only stdio and the --preserve-fds range may reach the program: everything else is marked close-on-exec, and stdio\'s close-on-exec the engine set is cleared.', src: 'src/linux/process.ts prepareFds' },
  signals: { why: 'Ignored signals and the signal mask survive execve: every disposition is reset to the default and the mask emptied.', src: 'src/linux/libc.ts resetSignals' },
  seccomp: { why: 'seccomp(SET_MODE_FILTER) installs the BPF filter last: every later syscall of this process and its program is checked against it, so only execve should follow.', src: 'src/linux/seccomp.ts loadSeccompFilter' },
  execve: { why: 'execve replaces the runtime\'s engine with the container\'s program in the same process: same PID, namespaces, cgroup, root, credentials; the trace ends here for this process (close-on-exec closes its fd).', src: 'src/linux/libc.ts execve' },
  'initial CPU affinity': { why: 'execCPUAffinity.initial: the CPUs the helper runs on before it joins the container\'s cgroup.', src: 'src/linux/sched.ts setAffinity' },
  'final CPU affinity': { why: 'After the cgroup move (which resets affinity to the cpuset), the final CPU set.', src: 'src/linux/sched.ts setAffinity' },
};

/** The file whose named stages a process runs. */
export function roleSource(role: string): string {
  if (role === 'init') return 'src/init/init.ts';
  if (role === 'exec helper') return 'src/init/exec-init.ts';
  if (role.startsWith('userns')) return 'src/init/userns-stage1.ts';
  return 'src/cli.ts';
}
