// Signal names and numbers (x86-64), as `kill` accepts them: "15", "TERM", "SIGTERM".
export const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7,
  SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14,
  SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21,
  SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
};

/** 0 is kill(2)'s existence check: the liveness probe supervisors send (runc accepts it). */
export function parseSignal(s: string | undefined): number {
  if (s === undefined || s === '') return 15;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 0 && n <= 64) return n;
  } else {
    const up = s.toUpperCase();
    const rt = /^(SIG)?RTMIN(\+(\d+))?$/.exec(up);
    if (rt) return 34 + Number(rt[3] ?? 0);
    const n = SIGNALS[up.startsWith('SIG') ? up : `SIG${up}`];
    if (n !== undefined) return n;
  }
  throw new Error(`invalid signal: ${s}`);
}
