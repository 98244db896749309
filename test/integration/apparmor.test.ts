// AppArmor (process.apparmorProfile, exec --apparmor): on a host whose kernel has
// it (Debian's and Ubuntu's do: the cgroup2 VM), the container's process starts
// under the profile, an exec'd process too (the container's profile unless it
// names its own), and an image that puts its own files at /proc cannot take the
// write that names the profile (CVE-2019-16884). On a kernel without it (the
// project machines) every profile is refused, never ignored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addCaps, leftovers, sh, Toyrun, uniqueId, waitFor, withUserns } from '../helpers';
import { apparmorEnabled } from '../../src/linux/lsm';
import type { Process, Spec } from '../../src/spec/types';

const t = new Toyrun('apparmor');
const PARSER = '/sbin/apparmor_parser';
const PROFILE = `toyrun-test-${process.pid}`;

function proc(s: Spec): Process {
  return s.process as Process;
}

/** A detached container running `sleep`, with the spec edited by fn. */
function sleeper(fn: (s: Spec) => void): string {
  const id = uniqueId('aa');
  const r = t.run(['run', '--detach', '--bundle', t.bundle((s) => {
    proc(s).args = ['sleep', '600'];
    fn(s);
  }), id]);
  assert.is(r.status, 0, r.stderr);
  return id;
}

// CVE-2019-16884: an image declaring a volume at /proc got runc to write the
// profile's name into a file of the image's, and the process ran unconfined.
test('attack: a volume at /proc is refused before anything is made (runc\'s rule and words)', () => {
  const fake = t.tempDir('toyrun-fake-proc-');
  mkdirSync(join(fake, 'self', 'attr', 'apparmor'), { recursive: true });
  const id = uniqueId('aa-procvol');
  const bundle = t.bundle((s) => {
    s.mounts = [...(s.mounts ?? []), { destination: '/proc/', type: 'bind', source: fake, options: ['rbind', 'rw'] }];
  });
  const r = t.run(['create', '--bundle', bundle, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /\/mounts\/\d+: \\?"\/proc\/\\?" cannot be mounted because it is not of type proc/); // quotes escaped in the log line
  assert.equal(leftovers(t, id), []);
  const ref = sh('runc', ['--root', join(fake, 'runc'), 'create', '--bundle', bundle, uniqueId('aa-runc')]);
  assert.match(ref.stderr, 'cannot be mounted because it is not of type proc', JSON.stringify(ref));
});

if (!apparmorEnabled()) {
  test('without AppArmor in the kernel, a profile is refused by create and by exec, and nothing is left', () => {
    const id = uniqueId('aa-refused');
    const r = t.run(['create', '--bundle', t.bundle((s) => void (proc(s).apparmorProfile = 'unconfined')), id]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, '/process/apparmorProfile: AppArmor is not available on this host');
    assert.equal(leftovers(t, id), []);
    const running = sleeper(() => undefined);
    const e = t.run(['exec', '--apparmor', 'unconfined', running, 'true']);
    assert.is(e.status, 255);
    assert.match(e.stderr, '/apparmorProfile: AppArmor is not available on this host');
    t.ok(['delete', '--force', running]);
  });
} else {
  // The profile the tests load: everything allowed but reading /etc/passwd, so
  // that confinement shows as a refusal, and the name in attr/current.
  const dir = t.tempDir('toyrun-apparmor-');
  chmodSync(dir, 0o755);
  const profileFile = join(dir, PROFILE);

  test.before(() => {
    assert.ok(existsSync(PARSER), `${PARSER} is missing: install the Debian package apparmor (make test installs it where the kernel has AppArmor)`);
    writeFileSync(profileFile, `profile ${PROFILE} flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  unix,
  ptrace,
  mount,
  umount,
  pivot_root,
  deny /etc/passwd r,
}
`);
    const r = sh(PARSER, ['-r', profileFile]);
    assert.is(r.status, 0, r.stderr);
  });
  test.after(() => void sh(PARSER, ['-R', profileFile]));

  const PROBE = 'cat /proc/self/attr/current; cat /etc/passwd >/dev/null 2>&1 && echo passwd-read || echo passwd-denied';

  test('the container process starts under its profile, and the profile holds (as with runc)', () => {
    const bundle = t.bundle((s) => {
      proc(s).args = ['sh', '-c', PROBE];
      proc(s).apparmorProfile = PROFILE;
    });
    const r = t.run(['run', '--bundle', bundle, uniqueId('aa-run')]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, `${PROFILE} (enforce)\npasswd-denied\n`);
    const ref = sh('runc', ['--root', join(dir, 'runc'), 'run', '--bundle', bundle, uniqueId('aa-runc')]);
    assert.is(ref.stdout, r.stdout, `runc: ${ref.stderr}`);
    // and without a profile: unconfined, as before
    const plain = t.sh(PROBE);
    assert.is(plain.stdout, 'unconfined\npasswd-read\n', plain.stderr);
  });

  test('exec: the container\'s profile unless the process names its own (--apparmor, --process)', () => {
    const id = sleeper((s) => void (proc(s).apparmorProfile = PROFILE));
    const viaArgs = t.run(['exec', id, 'sh', '-c', PROBE]);
    assert.is(viaArgs.stdout, `${PROFILE} (enforce)\npasswd-denied\n`, viaArgs.stderr);
    const file = join(dir, `process-${id}.json`);
    writeFileSync(file, JSON.stringify({ args: ['sh', '-c', PROBE], env: ['PATH=/bin:/usr/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
    const viaFile = t.run(['exec', '--process', file, id]);
    assert.is(viaFile.stdout, `${PROFILE} (enforce)\npasswd-denied\n`, viaFile.stderr);
    const own = t.run(['exec', '--apparmor', 'unconfined', id, 'sh', '-c', PROBE]);
    assert.is(own.stdout, 'unconfined\npasswd-read\n', own.stderr);
    const missing = t.run(['exec', '--apparmor', 'toyrun-no-such-profile', id, 'true']);
    assert.is(missing.status, 255);
    assert.match(missing.stderr, '/apparmorProfile: AppArmor profile toyrun-no-such-profile is not loaded');
    t.ok(['delete', '--force', id]);
  });

  // The same files put at /proc by the container's own root after start: what
  // `exec` writes must still reach the kernel, or exec must refuse.
  const FAKE_DIRS = ['self/attr/apparmor', 'thread-self/attr/apparmor', 'self/attr', 'thread-self/attr'];
  const fakeFiles = (): string[] => FAKE_DIRS.flatMap((d) => [`/proc/${d}/exec`, `/proc/${d}/current`]);
  for (const userns of [false, true]) {
    test(`attack: the container's root covers /proc with its own files; exec'd processes are confined or refused, never unconfined${userns ? ' (user namespace)' : ''}`, () => {
      const plant = `mount -t tmpfs fake /proc && mkdir -p ${FAKE_DIRS.map((d) => `/proc/${d}`).join(' ')} && touch ${fakeFiles().join(' ')} && touch /proc/planted`;
      const id = sleeper((s) => {
        proc(s).apparmorProfile = PROFILE;
        proc(s).args = ['sh', '-c', `${plant}; exec sleep 600`];
        addCaps(s, 'CAP_SYS_ADMIN');
        if (userns) withUserns(s);
      });
      const pid = t.state(id).pid as number;
      const inside = (p: string): string => `/proc/${pid}/root${p}`;
      waitFor(() => existsSync(inside('/proc/planted')), 'the fake /proc');
      // the init's process, seen from the host: under its profile
      assert.is(readFileSync(`/proc/${pid}/attr/current`, 'utf8').trim(), `${PROFILE} (enforce)`);
      const e = t.run(['exec', id, 'sh', '-c', 'cat /etc/passwd >/dev/null 2>&1 && echo passwd-read || echo passwd-denied']);
      if (e.status === 0) assert.is(e.stdout, 'passwd-denied\n', e.stderr);
      else assert.match(e.stderr, '/proc in the container is not a procfs root');
      for (const f of fakeFiles()) assert.is(readFileSync(inside(f), 'utf8'), '', `${f} was written`);
      t.ok(['delete', '--force', id]);
    });
  }
}

test.after(() => t.cleanup());
test.run();
