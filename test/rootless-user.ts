// A throwaway ordinary user for the rootless tests (integration and e2e): made
// with useradd, given its own /etc/subuid and /etc/subgid ranges, removed by the
// name made here. And a private copy of the built tree it can run, whatever the
// checkout's permissions (a worktree under a root-only directory would do).
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, sh, type Result } from './helpers';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** First host id of its subordinate ranges (uids and gids), 65536 of them; undefined without. */
  sub?: number;
}

function root(cmd: string, args: string[]): Result {
  const r = sh(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

/** useradd NAME (no home, no login shell, no automatic ranges: ours, or none, are explicit). */
export function addTestUser(name: string, sub?: number): TestUser {
  root('/usr/sbin/useradd', ['-M', '-s', '/usr/sbin/nologin', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  if (sub !== undefined) root('/usr/sbin/usermod', ['--add-subuids', `${sub}-${sub + 65535}`, '--add-subgids', `${sub}-${sub + 65535}`, name]);
  const id = (flag: string): number => Number(root('/usr/bin/id', [flag, name]).stdout.trim());
  return { name, uid: id('-u'), gid: id('-g'), sub };
}

/** Its ranges, then the user and its group, by name. */
export function removeTestUser(u: TestUser): void {
  if (u.sub !== undefined) sh('/usr/sbin/usermod', ['--del-subuids', `${u.sub}-${u.sub + 65535}`, '--del-subgids', `${u.sub}-${u.sub + 65535}`, u.name]);
  sh('/usr/sbin/userdel', [u.name]);
}

/** A subordinate range unlikely to meet another test run's. */
export function subRangeFor(pid = process.pid): number {
  return 400_000_000 + (pid % 500) * 65536;
}

/** bin/, dist/, node_modules/ copied to DIR/toyrun (DIR searchable by anyone), owned by `owner`. */
export function privateTree(dir: string, owner: TestUser): { tree: string; cli: string } {
  chmodSync(dir, 0o755);
  const tree = join(dir, 'toyrun');
  mkdirSync(tree);
  for (const d of ['bin', 'dist', 'node_modules']) root('/bin/cp', ['-a', join(REPO, d), tree]);
  const cli = join(tree, 'bin', 'toyrun');
  root('/bin/chown', ['-R', `${owner.uid}:${owner.gid}`, tree]);
  return { tree, cli };
}

/** $XDG_RUNTIME_DIR for the user: /run/user/UID, 0700, its own (removed by the caller). */
export function runtimeDir(u: TestUser): string {
  const dir = `/run/user/${u.uid}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, u.uid, u.gid);
  return dir;
}

/** A directory owned by the user, below `base`. */
export function userDir(base: string, u: TestUser, prefix = 'user-'): string {
  const d = mkdtempSync(join(base, prefix));
  chownSync(d, u.uid, u.gid);
  return d;
}

/** argv as the user: its uid and gid, no supplementary groups, no capabilities. */
export function asUser(u: TestUser, argv: string[], env: Record<string, string>, cwd: string, input?: string): Result {
  return sh('/usr/bin/setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', '--', ...argv], { env, cwd, ...(input !== undefined ? { input } : {}) });
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
