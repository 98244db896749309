import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseGlobals, parseCommand } from '../../src/cli';
import { COMMANDS, commandSpec, flagLists, usageText, valueFlagNames } from '../../src/commands';
import { parseSignal } from '../../src/process/signals';

test('global flags before the command, both --flag value and --flag=value', () => {
  const p = parseGlobals(['--root', '/x', '--log=/l', '--log-format', 'json', '--debug', 'create', '--bundle', 'b', 'id1']);
  assert.is(p.globals.root, '/x');
  assert.is(p.globals.log, '/l');
  assert.is(p.globals.logFormat, 'json');
  assert.is(p.globals.debug, true);
  assert.is(p.command, 'create');
  assert.equal(p.rest, ['--bundle', 'b', 'id1']);
});

test('runc flags toyrun does not need are accepted', () => {
  const p = parseGlobals(['--systemd-cgroup', '--criu', '/usr/sbin/criu', '--rootless=false', 'state', 'x']);
  assert.is(p.command, 'state');
  assert.is(p.globals.systemdCgroup, true);
});

test('bad --log-format is a usage error', () => {
  assert.throws(() => parseGlobals(['--log-format', 'xml', 'list']), /text or json/);
});

test('command flags: value flags in both forms, booleans do not eat the id', () => {
  const a = parseCommand(['--pid-file=/p', '--bundle', '/b', '--no-pivot', 'id9'], ['bundle', 'pid-file'], ['no-pivot']);
  assert.is(a['pid-file'], '/p');
  assert.is(a.bundle, '/b');
  assert.is(a['no-pivot'], true);
  assert.equal(a._, ['id9']);
});

test('runc create flags toyrun ignores do not eat the id', () => {
  const a = parseCommand(['--notify-socket', '/run/n.sock', '--no-new-keyring', 'id7'], ['notify-socket'], ['no-new-keyring']);
  assert.equal(a._, ['id7']);
});

test('signals: numbers, names, SIG-prefixed names, default TERM', () => {
  assert.is(parseSignal('9'), 9);
  assert.is(parseSignal('KILL'), 9);
  assert.is(parseSignal('SIGHUP'), 1);
  assert.is(parseSignal('sigusr1'), 10);
  assert.is(parseSignal(undefined), 15);
  assert.is(parseSignal('RTMIN+2'), 36);
  assert.throws(() => parseSignal('NOPE'), /invalid signal/);
  assert.throws(() => parseSignal('99'), /invalid signal/);
});

test('one registry: --help lists every command, COMMAND --help its flags, parsing uses the same lists', () => {
  const help = usageText('');
  for (const c of COMMANDS) assert.match(help, `\n  ${c.name} `);
  const create = usageText('', commandSpec('create'));
  assert.match(create, '-b, --bundle DIR');
  assert.match(create, '--no-new-keyring');
  const f = flagLists('run');
  assert.ok(f.strings.includes('volume') && f.booleans.includes('detach') && f.alias.v === 'volume');
  const a = parseCommand(['-d', '-v', '/h:/c', '--bundle', 'b', 'id3'], f.strings, f.booleans, f.alias);
  assert.equal([a.detach, a.volume, a.bundle, a._], [true, '/h:/c', 'b', ['id3']]);
  assert.ok(valueFlagNames('exec').has('e') && valueFlagNames('exec').has('env') && !valueFlagNames('exec').has('tty'));
});

test.run();
