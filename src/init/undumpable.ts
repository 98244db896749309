// The first module of the init and of the exec helper (src/init/init.ts and
// src/init/exec-init.ts import it before any other, so the two can't drift): a runtime
// process stays non-dumpable from the kernel's execve of the engine until it
// execve's the container's program. A dumpable one could be opened through
// /proc/<pid>/{exe,mem,fd,map_files,environ} and ptraced by a process of the
// container holding the capabilities the runtime holds (CVE-2019-5736); the exec
// helper lives in the container's PID namespace from its first instant.
//
// The spawn (spawnRuntimeProcess, src/linux/spawn.ts) started us with a real gid
// different from the effective one, which makes the kernel start the engine
// non-dumpable (fs/exec.c, begin_new_exec: set_dumpable(suid_dumpable), 0 by
// default), before the engine ran one instruction. The prctl keeps us so however
// we were started (nsenter's user-namespace path sets its gids equal), and the
// real gid is put back, on this thread: the one that goes on to execve (the
// engine's other threads end there; only their real gid differs meanwhile).
import * as libc from '../linux/libc';

libc.prctl(libc.PR.SET_DUMPABLE, 0);
const [rgid, egid] = libc.getresgid();
if (rgid !== egid) libc.setresgidThisThread(egid, -1, -1);
