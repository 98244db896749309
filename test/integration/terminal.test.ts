// process.terminal: the pty comes from the container's devpts instance, its
// master arrives on --console-socket exactly as conmon and go-runc check it
// (payload "/dev/ptmx", one SCM_RIGHTS cmsg with one fd), and the slave is the
// process's stdio and controlling terminal. `run -t` without a socket relays
// the pty to the user's own terminal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as libc from '../../src/linux/libc';
import { type ConsoleMessage } from '../../src/linux/console';
import { deadline, TOYRUN, Toyrun, consoleReceiver, drainPty, leftovers, uniqueId, waitFor } from '../helpers';

const t = new Toyrun('terminal');
test.after(() => t.cleanup());

function checkMessage(m: ConsoleMessage): void {
  assert.is(m.payload.toString(), '/dev/ptmx');
  assert.is(m.controlLength, 24, 'go-runc: oobn == CmsgSpace(4), so exactly one fd');
  assert.is(m.cmsgLength, 20, 'conmon: cmsg_len == CMSG_LEN(sizeof(int))');
  assert.ok(libc.isatty(m.fd), 'the fd is a terminal');
  assert.match(readlinkSync(`/proc/self/fd/${m.fd}`), /ptmx$/);
}

function receiver(): ReturnType<typeof consoleReceiver> {
  return consoleReceiver(t.tempDir());
}

test('create --console-socket: the master arrives as callers expect; the slave is stdio and controlling tty', () => {
  const id = uniqueId('tty');
  const bundle = t.bundle((s) => {
    const p = s.process as NonNullable<typeof s.process>;
    p.terminal = true;
    p.consoleSize = { height: 33, width: 99 };
    // field 6 of stat is the session, 7 the controlling tty (136:0 = 34816)
    p.args = ['sh', '-c', 'tty; stty size; cut -d" " -f6,7 /proc/$$/stat; ls -l /proc/$$/fd/0'];
  });
  const r = receiver();
  try {
    const c = t.run(['create', '--bundle', bundle, '--console-socket', r.path, id]);
    assert.is(c.status, 0, c.stderr);
    assert.is(c.stdout + c.stderr, '');
    const m = r.accept();
    checkMessage(m);
    t.ok(['start', id]);
    const out = drainPty(m.fd).replace(/\r/g, '').split('\n');
    assert.is(out[0], '/dev/pts/0');
    assert.is(out[1], '33 99');
    assert.is(out[2], '1 34816', 'PID 1 leads its session, /dev/pts/0 is its controlling tty');
    assert.match(out[3] ?? '', /-> \/dev\/pts\/0$/);
  } finally {
    r.close();
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

test('exec --tty --console-socket --detach: a new pty in the container\'s devpts', () => {
  const id = uniqueId('ttyexec');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['sleep', '1000'];
  });
  t.ok(['run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
  const r = receiver();
  try {
    const e = t.run(['exec', '--tty', '--detach', '--console-socket', r.path, id, 'sh', '-c', 'tty; cut -d" " -f7 /proc/$$/stat; exit 3'], { stdio: 'ignore' });
    assert.is(e.status, 0);
    const m = r.accept();
    checkMessage(m);
    const out = drainPty(m.fd).replace(/\r/g, '').split('\n');
    assert.is(out[0], '/dev/pts/0');
    assert.is(out[1], '34816');
  } finally {
    r.close();
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

for (const [how, fromConfig] of [['process.terminal in config.json', true], ['the -t flag', false]] as const) {
  test(`run with ${how}, no console socket: an interactive terminal, window size forwarded, exit status kept`, () => {
    const id = uniqueId('runt');
    const bundle = t.bundle((s) => {
      const p = s.process as NonNullable<typeof s.process>;
      p.terminal = fromConfig;
      p.args = ['sh'];
    });
    const cmd = `stty cols 123 rows 45; ${TOYRUN} --root ${t.root} run ${fromConfig ? '' : '-t '}--bundle ${bundle} ${id}`;
    t.track(id);
    const r = spawnSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], {
      input: 'tty; stty size; exit 5\n',
      encoding: 'utf8',
      timeout: deadline(30000),
    });
    const out = String(r.stdout).replace(/\r/g, '');
    assert.match(out, /\/dev\/pts\/0\n45 123\n/);
    assert.is(r.status, 5);
    assert.equal(leftovers(t, id), []);
  });
}

test('exec -t without a console socket: the new pty is relayed to the user\'s terminal', () => {
  const id = uniqueId('exect');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).args = ['sleep', '1000'];
  });
  t.ok(['run', '--detach', '--bundle', bundle, id]);
  try {
    const cmd = `stty cols 77 rows 22; ${TOYRUN} --root ${t.root} exec -t ${id} sh`;
    const r = spawnSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], { input: 'tty; stty size; exit 4\n', encoding: 'utf8', timeout: deadline(30000) });
    assert.match(String(r.stdout).replace(/\r/g, ''), /\/dev\/pts\/\d+\n22 77\n/);
    assert.is(r.status, 4);
  } finally {
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

/** toyrun in the foreground with a relayed terminal; its output collected in a file. */
function foreground(args: string[]): { child: ChildProcess; output(): string; exit: Promise<number | null> } {
  const out = join(t.tempDir(), 'out');
  const fd = openSync(out, 'w');
  // stdin stays an open pipe: its end would only stop the input side of the relay
  const child = spawn(TOYRUN, ['--root', t.root, ...args], { stdio: ['pipe', fd, fd] });
  closeSync(fd);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => readFileSync(out, 'utf8').replace(/\r/g, ''), exit };
}

const TRAP = 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done';

/** toyrun in the foreground running TRAP behind a relayed terminal: SIGTERM sent
 * to toyrun must reach the process (which says so and exits 3). */
async function expectTermForwarded(args: string[]): Promise<void> {
  const fg = foreground(args);
  try {
    waitFor(() => fg.output().includes('ready'), 'the process to be ready');
    fg.child.kill('SIGTERM');
    assert.is(await fg.exit, 3, fg.output());
    assert.match(fg.output(), 'got TERM');
  } finally {
    fg.child.kill('SIGKILL');
  }
}

test('run -t: a signal sent to toyrun reaches the container while the terminal is relayed', async () => {
  const id = uniqueId('runsig');
  const bundle = t.bundle((s) => ((s.process as NonNullable<typeof s.process>).args = ['sh', '-c', TRAP]));
  t.track(id);
  await expectTermForwarded(['run', '-t', '--bundle', bundle, id]);
  assert.equal(leftovers(t, id), []);
});

test('exec -t: a signal sent to toyrun reaches the exec\'d process while the terminal is relayed', async () => {
  const id = uniqueId('execsig');
  const bundle = t.bundle((s) => ((s.process as NonNullable<typeof s.process>).args = ['sleep', '1000']));
  t.ok(['run', '--detach', '--bundle', bundle, id]);
  try {
    await expectTermForwarded(['exec', '-t', id, 'sh', '-c', TRAP]);
  } finally {
    t.run(['delete', '--force', id]);
  }
  assert.equal(leftovers(t, id), []);
});

test('process.terminal without --console-socket: create fails clearly and leaves nothing', () => {
  const id = uniqueId('nosock');
  const bundle = t.bundle((s) => {
    (s.process as NonNullable<typeof s.process>).terminal = true;
  });
  const r = t.run(['create', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  assert.is(r.status, 1);
  assert.match(r.stderr, 'no --console-socket');
  assert.equal(leftovers(t, id), []);
  const d = t.run(['run', '--detach', '--bundle', bundle, id]);
  assert.is(d.status, 1);
  assert.match(d.stderr, 'cannot allocate tty if toyrun will detach without setting console socket');
  assert.equal(leftovers(t, id), []);
});

test.run();
