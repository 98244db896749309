// exec's argv: flags before the id are toyrun's, everything after the id is the
// command's, even words that look like flags (`sh -c ...`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execProcess, splitExecArgs } from '../../src/exec';
import { parseCommand } from '../../src/cli';
import type { Spec } from '../../src/spec/types';

test('the command after the id keeps its own flags', () => {
  assert.equal(splitExecArgs(['--tty', '-e', 'A=1', 'ID', 'sh', '-c', 'echo -n x']), {
    flags: ['--tty', '-e', 'A=1'], id: 'ID', args: ['sh', '-c', 'echo -n x'],
  });
  assert.equal(splitExecArgs(['--cwd=/tmp', 'ID', '--', 'ls', '-l']), { flags: ['--cwd=/tmp'], id: 'ID', args: ['ls', '-l'] });
  assert.equal(splitExecArgs(['--detach', '--', 'ID', 'true']), { flags: ['--detach'], id: 'ID', args: ['true'] });
  // conmon's argv
  assert.equal(splitExecArgs(['--pid-file', 'P', '--process', 'F', '--detach', '--tty', '--console-socket', 'S', 'ID']), {
    flags: ['--pid-file', 'P', '--process', 'F', '--detach', '--tty', '--console-socket', 'S'], id: 'ID', args: [],
  });
});

test('without --process: the container\'s process with runc\'s overrides', () => {
  const spec = { process: { user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'], args: ['init'], terminal: true,
    capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] } } } as unknown as Spec;
  const a = parseCommand(['--env', 'X=1', '--user', '7:8', '--cap', 'CAP_CHOWN', '--cwd', '/tmp'], ['env', 'user', 'cap', 'cwd'], ['tty']);
  const p = execProcess(a, ['sh'], spec);
  assert.equal(p.args, ['sh']);
  assert.equal(p.env, ['PATH=/bin', 'X=1']);
  assert.equal(p.user, { uid: 7, gid: 8 });
  assert.is(p.cwd, '/tmp');
  assert.is(p.terminal, false);
  assert.equal(p.capabilities?.bounding, ['CAP_KILL', 'CAP_CHOWN']);
  assert.equal(spec.process?.env, ['PATH=/bin'], 'the container config is not modified');
  assert.throws(() => execProcess(parseCommand(['--user', 'root'], ['user'], []), ['sh'], spec), /UID\[:GID\]/);
  assert.throws(() => execProcess(parseCommand([], [], []), [], spec), /args must not be empty/);
});

test.run();
