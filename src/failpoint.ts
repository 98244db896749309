// Failpoints: named places in a multi-step operation where a reliability test
// needs the runtime to be killed. With TOYRUN_FAILPOINT=<name> in its
// environment, the runtime stops itself (SIGSTOP) on reaching <name>; the test
// then SIGKILLs it there, deterministically, with no sleeps. Without the
// variable (what podman and containerd run) a failpoint is a string compare.
export function failpoint(name: string): void {
  if (process.env.TOYRUN_FAILPOINT === name) process.kill(process.pid, 'SIGSTOP');
}
