// The start.fifo protocol between `start` and the init, on real FIFOs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../../src/linux/libc';
import { O } from '../../src/linux/libc';
import { awaitExec, openStartReporter, openStartStatus, reportStartFailure, START_FIFO, type InitProgress } from '../../src/process/startsync';

function stateDir(): { dir: string; fd: number; done(): void } {
  const dir = mkdtempSync('/tmp/toyrun-startsync-');
  libc.mkfifo(join(dir, START_FIFO), 0o600);
  const fd = libc.openat(libc.AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
  return { dir, fd, done: () => (libc.close(fd), rmSync(dir, { recursive: true, force: true })) };
}

const neverAsked = (): InitProgress => {
  throw new Error('progress() should not be needed');
};

test('the writer closing without a word means the exec happened', () => {
  const s = stateDir();
  const reader = openStartStatus(s.fd) as number;
  const writer = openStartReporter(s.fd, 0) as number;
  assert.ok(writer >= 3);
  assert.is(libc.fcntl(writer, libc.F_GETFD) & libc.FD_CLOEXEC, libc.FD_CLOEXEC); // closes at execve
  libc.close(writer); // what execve does to it
  assert.is(awaitExec(reader, neverAsked), '');
  s.done();
});

test('an error written before the writer goes is what start reports', () => {
  const s = stateDir();
  const reader = openStartStatus(s.fd) as number;
  const writer = openStartReporter(s.fd, 0);
  reportStartFailure(writer, 'startContainer hooks: exit status 7');
  libc.close(writer as number);
  assert.is(awaitExec(reader, neverAsked), 'startContainer hooks: exit status 7');
  s.done();
});

test('the reporter stays above the --preserve-fds range', () => {
  const s = stateDir();
  const reader = openStartStatus(s.fd) as number;
  const writer = openStartReporter(s.fd, 40) as number;
  assert.ok(writer >= 43, String(writer));
  libc.close(writer);
  libc.close(reader);
  s.done();
});

test('an init that never opened its end: the process itself tells exec from death', () => {
  const s = stateDir();
  let calls = 0;
  const reader = openStartStatus(s.fd) as number;
  assert.is(awaitExec(reader, () => (++calls < 3 ? 'init' : 'exec')), '');
  assert.is(calls, 3);
  const reader2 = openStartStatus(s.fd) as number;
  assert.match(awaitExec(reader2, () => 'gone'), /exited before running the program/);
  s.done();
});

test('a program that execs and exits between the poll and the look at the process is an exec, not a death', () => {
  const s = stateDir();
  const reader = openStartStatus(s.fd) as number;
  const writer = openStartReporter(s.fd, 0) as number;
  // the init is still the runtime at the first poll; by the time start asks,
  // it has exec'd (the writer closed) and the program has already exited
  assert.is(awaitExec(reader, () => (libc.close(writer), 'gone')), '');
  s.done();
});

test('an init that writes its error and exits between the poll and the look at the process: the error, not an exec', () => {
  const s = stateDir();
  const reader = openStartStatus(s.fd) as number;
  const writer = openStartReporter(s.fd, 0) as number;
  // the poll times out while the hook runs; before start looks at the process, the
  // init has reported and is exiting: its command line already empty, which reads as
  // "exec" (as it must mid-execve). The FIFO has the last word (found by the cgroup2
  // VM's make test: a failed startContainer hook let `start` succeed)
  let calls = 0;
  const failing = (): InitProgress => {
    if (++calls === 1) {
      reportStartFailure(writer, 'startContainer hook: exit status 7');
      libc.close(writer);
    }
    return 'exec';
  };
  assert.is(awaitExec(reader, failing), 'startContainer hook: exit status 7');
  s.done();
});

test('no start.fifo (a container created by an older toyrun): nothing to wait for', () => {
  const dir = mkdtempSync('/tmp/toyrun-startsync-');
  const fd = libc.openat(libc.AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
  assert.is(openStartStatus(fd), undefined);
  assert.is(openStartReporter(fd, 0), undefined);
  libc.close(fd);
  rmSync(dir, { recursive: true, force: true });
});


test.run();
