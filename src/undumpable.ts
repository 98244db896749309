// The first module of the init and of the exec helper (src/init.ts and
// src/exec-init.ts import it before anything else, so the two can't drift):
// a runtime process is non-dumpable from its first JavaScript instruction until
// it execve's the container's program. A dumpable one could be opened through
// /proc/<pid>/{exe,mem,fd,map_files,environ} and ptraced by any process of the
// container holding the capabilities the runtime holds (CVE-2019-5736), and the
// exec helper lives in the container's PID namespace from its first instant.
//
// spawnIntoNamespaces (src/linux/spawn.ts) already started us with a real gid
// different from the effective one, which makes the kernel start the engine
// non-dumpable; the prctl keeps us so (nsenter's user-namespace path, a setgid
// later) and the real gid is put back here, on the main thread (the one that goes
// on to execve; the engine's other threads end there, and only their real gid differs).
import * as libc from './linux/libc';

libc.prctl(libc.PR.SET_DUMPABLE, 0);
const [rgid, egid] = libc.getresgid();
if (rgid !== egid) libc.setresgidThisThread(egid, -1, -1);
