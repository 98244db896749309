// Run toyrun with extra descriptors at 3, 4, ... (a caller's leaked or
// preserved fds) and its output collected through files, not pipes (a container
// holding a pipe would keep spawnSync waiting).
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { deadline, TOYRUN, type Result } from './helpers';

export function toyrunWithFds(root: string, args: string[], extraFds: number[]): Result {
  const dir = mkdtempSync('/tmp/toyrun-fds-');
  const outFd = openSync(join(dir, 'out'), 'w+');
  const errFd = openSync(join(dir, 'err'), 'w+');
  try {
    const r = spawnSync(TOYRUN, ['--root', root, ...args], { env: {}, cwd: '/', timeout: deadline(60000), stdio: ['ignore', outFd, errFd, ...extraFds] });
    return { status: r.status ?? -1, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8'), signal: r.signal };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}
