// Rootless mode's pure rules: the --rootless flag, runc's default-root rule,
// /etc/subuid parsing, which maps the kernel takes from an ordinary user.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultRoot, inNonInitialUserNamespace, rootlessFlag, setRootlessFlag } from '../../src/linux/rootless';
import { ownIdOnly, subordinateRanges } from '../../src/linux/rootless-idmap';
import { parseGlobals } from '../../src/cli';

test('--rootless takes true, false, auto (bare: true); anything else is refused', () => {
  setRootlessFlag('false');
  assert.is(rootlessFlag(), 'false');
  setRootlessFlag(undefined);
  assert.is(rootlessFlag(), 'true');
  assert.throws(() => setRootlessFlag('yes'), /invalid --rootless value "yes": true, false or auto/);
  assert.throws(() => parseGlobals(['--rootless', 'maybe', 'state', 'x']), /invalid --rootless value/);
  parseGlobals(['--rootless=auto', 'state', 'x']);
  assert.is(rootlessFlag(), 'auto');
});

test('the initial user namespace maps every id to itself; any other map is a user namespace', () => {
  assert.is(inNonInitialUserNamespace('         0          0 4294967295\n'), false);
  assert.is(inNonInitialUserNamespace('         0       1000          1\n'), true);
  assert.is(inNonInitialUserNamespace('0 1000 1\n1 100000 65536\n'), true);
});

test('default root: root gets /run/toyrun (this test runs as root in the initial namespace)', () => {
  if ((process.geteuid?.() ?? 0) !== 0 || inNonInitialUserNamespace()) return;
  assert.equal(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/0' }), { root: '/run/toyrun' });
  assert.equal(parseGlobals(['state', 'x']).globals.root, '/run/toyrun');
});

test('/etc/subuid lines by name or uid; malformed and other users\' lines ignored', () => {
  const text = 'alice:100000:65536\nbob:165536:65536\n1001:300000:10\nalice:bad:1\nalice:5:0\n';
  assert.equal(subordinateRanges(text, 'alice', 1000), [{ start: 100000, count: 65536 }]);
  assert.equal(subordinateRanges(text, 'carol', 1001), [{ start: 300000, count: 10 }]);
  assert.equal(subordinateRanges(text, 'dave', 1002), []);
});

test('an ordinary user may write one map line of its own id, size 1; anything else needs newuidmap', () => {
  assert.ok(ownIdOnly([{ containerID: 0, hostID: 1000, size: 1 }], 1000));
  assert.not.ok(ownIdOnly([{ containerID: 0, hostID: 1000, size: 2 }], 1000));
  assert.not.ok(ownIdOnly([{ containerID: 0, hostID: 1001, size: 1 }], 1000));
  assert.not.ok(ownIdOnly([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }], 1000));
});

test.run();
