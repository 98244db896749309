// OCI hooks: each gets the container state as JSON on stdin, runs with its own
// args and env, and is killed after `timeout` seconds.
import type * as ChildProcess from 'node:child_process';
import { statSync } from 'node:fs';
import type { Hook, Hooks, State } from '../spec/types';
import { logWarn } from '../log';

export type HookName = keyof Hooks;

/**
 * Where a hook starts. The spec is silent; runc's choice is followed: hooks run
 * in the runtime's namespaces start in the bundle (runc chdirs there), the
 * init passes the container's root for createContainer (before pivot_root) and
 * process.cwd for startContainer. A bundle removed before `delete` leaves poststop /.
 */
function bundleCwd(state: State): string {
  try {
    if (state.bundle && statSync(state.bundle).isDirectory()) return state.bundle;
  } catch {
    // removed: fall through
  }
  return '/';
}

export function runHooks(hooks: Hooks | undefined, name: HookName, state: State, cwd = bundleCwd(state)): void {
  for (const hook of hooks?.[name] ?? []) runHook(hook, name, state, cwd);
}

/** poststart and poststop: a failure is a warning, and the remaining hooks still run. */
export function runHooksWarnOnly(hooks: Hooks | undefined, name: HookName, state: State): void {
  const cwd = bundleCwd(state);
  for (const hook of hooks?.[name] ?? []) {
    try {
      runHook(hook, name, state, cwd);
    } catch (e) {
      logWarn((e as Error).message);
    }
  }
}

function runHook(hook: Hook, name: HookName, state: State, cwd: string): void {
  const [argv0, ...args] = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  // required here, not imported: most containers have no hooks, and loading
  // child_process costs every create, start and init a few milliseconds
  const { spawnSync } = require('node:child_process') as typeof ChildProcess;
  const r = spawnSync(hook.path, args, {
    argv0,
    cwd,
    input: JSON.stringify(state),
    env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    timeout: hook.timeout ? hook.timeout * 1000 : undefined,
    killSignal: 'SIGKILL',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const what = `${name} hook ${hook.path}`;
  // A hook need not read its stdin: a closed pipe (EPIPE) is not its failure.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    const err = r.error as NodeJS.ErrnoException;
    if (err.code === 'ETIMEDOUT') throw new Error(`${what}: timed out after ${hook.timeout}s`);
    throw new Error(`${what}: ${err.code ?? err.message}`, { cause: err });
  }
  if (r.signal) throw new Error(`${what}: killed by ${r.signal}${hook.timeout ? ` (timeout ${hook.timeout}s)` : ''}`);
  if (r.status !== 0) {
    const stderr = r.stderr?.toString().trim();
    throw new Error(`${what}: exit status ${r.status}${stderr ? `: ${stderr}` : ''}`);
  }
}
