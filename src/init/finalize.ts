// The way out of the init and of the exec helper, shared: from root with every
// capability in the container's namespaces to the container's process. The order
// is runc's (init_linux.go's finalizeNamespace, then the standard/setns inits):
// scheduling and memory attributes while the capabilities they need are held →
// user and capabilities → no_new_privs → fds close-on-exec → signal dispositions →
// seccomp, as late as possible (the profile filters everything after it) → execve.
import * as libc from '../linux/libc';
import type { StageRunner } from './stages';
import { cause, traceStage } from '../trace/record';
import type { MemoryPolicy, Process } from '../spec/types';
import { becomeUser, checkCwdInsideRoot, holdsSysAdmin, prepareFds, setNoNewPrivileges } from '../linux/process';
import { releaseHeldCapability } from '../linux/capabilities';
import { loadSeccompFilter, type SeccompFilter } from '../linux/seccomp';
import { giveTerminalTo } from '../linux/console';
import { applyIoPriority, applyScheduler } from '../linux/sched';
import { applyMemoryPolicy } from '../linux/mempolicy';
import { applyPersonality } from '../linux/personality';
import { applyApparmorProfile } from '../linux/lsm';

export interface Finale {
  process: Process;
  /** The program, resolved in the container's root. */
  execPath: string;
  /** The cwd could not be entered as root: enter it again as the user. */
  cwdPending: boolean;
  memoryPolicy?: MemoryPolicy;
  personality?: { domain: string; flags?: string[] };
  preserveFds: number;
  /** A procfs of the process's own PID namespace, for writes (src/linux/procfs.ts). */
  procFd: () => number;
  seccomp?: SeccompFilter;
  /** Right before the filter goes in (exec reports "ready" here: the profile may forbid the write later). */
  beforeSeccomp?: () => void;
  /** Right after the filter went in, while CAP_SYS_ADMIN may still be held (the init hands out the notify listener). */
  afterSeccomp?: () => void;
}

export function finalize(stages: StageRunner, f: Finale): never {
  const p = f.process;
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN (seccomp(2)):
  // held, effective, until the filter is in, so that the load stays the last step.
  const hold = f.seccomp && !p.noNewPrivileges && !holdsSysAdmin(p) ? 'CAP_SYS_ADMIN' : undefined;
  // First, while root with every capability and before no_new_privs: the
  // profile is only named here and takes hold at execve (runc's order).
  stages.run('AppArmor profile', () => cause('/process/apparmorProfile', () => applyApparmorProfile(p.apparmorProfile, f.procFd)));
  // Inherited across execve; set while we still hold CAP_SYS_NICE/CAP_SYS_ADMIN
  // (real-time policies, negative nice, the RT I/O class need them).
  stages.run('scheduler', () => cause('/process/scheduler', () => applyScheduler(p.scheduler)));
  stages.run('I/O priority', () => cause('/process/ioPriority', () => applyIoPriority(p.ioPriority)));
  stages.run('memory policy', () => cause('/linux/memoryPolicy', () => applyMemoryPolicy(f.memoryPolicy)));
  stages.run('personality', () => cause('/linux/personality', () => applyPersonality(f.personality)));
  stages.run('user and capabilities', () => {
    if (p.terminal) giveTerminalTo(p.user?.uid ?? 0);
    cause('/process/user', () => becomeUser(p, hold, f.cwdPending));
    checkCwdInsideRoot(p.cwd);
  });
  stages.run('no_new_privs', () => cause('/process/noNewPrivileges', () => setNoNewPrivileges(p)));
  stages.run('file descriptors', () => prepareFds(f.preserveFds));
  stages.run('signals', () => libc.resetSignals());
  // Nothing to do between the filter and the program (no listener to hand out, no
  // capability to drop): both go in from one piece of machine code, so the engine
  // runs nothing under the user's profile (libc.ts prepareSeccompExecve).
  const filter = f.seccomp;
  // (A --trace run keeps the two steps apart: the trace shows each call it made.)
  const together = filter?.bpf && !filter.notify && !hold && !libc.tracer.on
    ? libc.prepareSeccompExecve(filter.bpf.program, filter.bpf.flags, f.execPath, p.args as string[], p.env ?? [])
    : undefined;
  f.beforeSeccomp?.();
  if (together) {
    stages.runLast('seccomp', () => undefined); // named; the filter goes in with the execve
    stages.current = 'seccomp and execve';
    traceStage('execve');
    return cause('/linux/seccomp', together);
  }
  stages.runLast('seccomp', () => {
    // From here on every syscall is filtered by the user's profile: only what
    // afterSeccomp does, the release of the held capability and execve follow.
    if (filter) cause('/linux/seccomp', () => loadSeccompFilter(filter));
    f.afterSeccomp?.();
    if (hold) releaseHeldCapability(p.capabilities);
  });
  stages.current = 'execve';
  traceStage('execve');
  return cause('/process/args', () => libc.execve(f.execPath, p.args as string[], p.env ?? []));
}
