// Bad input gets a clear error and leaves nothing behind: no state dir, no
// cgroup, no mount, no process (checked by id with leftovers()).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Toyrun, leftovers, uniqueId, waitFor } from '../helpers';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('failures');
const test = suite('failures');
test.after(() => t.cleanup());

function createFails(fn: (s: Spec) => void, expected: RegExp): void {
  const id = uniqueId('fail');
  const r = t.run(['create', '--bundle', t.bundle(fn), id]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, expected);
  assert.equal(leftovers(t, id), [], 'nothing left behind');
}

test('invalid config: every problem by JSON path, nothing created', () => {
  createFails((s) => {
    (s.linux!.namespaces as { type: string }[])[1] = { type: 'netwrok' };
    (s.process as unknown as Record<string, unknown>).cwd = 5;
  }, /config\.json: (?=.*\/linux\/namespaces\/1\/type must be one of pid, network)(?=.*\/process\/cwd must be string)/);
});

test('config.json that is not JSON', () => {
  const bundle = t.bundle();
  writeFileSync(join(bundle, 'config.json'), '{"ociVersion": ');
  const id = uniqueId('json');
  const r = t.run(['create', '--bundle', bundle, id]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /config\.json: invalid JSON/);
  assert.equal(leftovers(t, id), []);
});

test('missing bundle', () => {
  const r = t.run(['create', '--bundle', '/nonexistent/bundle', uniqueId('nob')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/bundle\/config\.json: no such file/);
});

test('missing rootfs', () => {
  createFails((s) => {
    s.root = { path: '/nonexistent/rootfs' };
  }, /\/root\/path \/nonexistent\/rootfs does not exist/);
});

test('missing program: runc\'s wording, which podman maps to exit 127', () => {
  createFails((s) => {
    s.process!.args = ['/nonexistent'];
  }, /exec: \\?"\/nonexistent\\?": stat \/nonexistent: no such file or directory/);
  createFails((s) => {
    s.process!.args = ['no-such-program'];
  }, /exec: \\?"no-such-program\\?": executable file not found in \$PATH/);
});

test('a failing mount names the mount, the syscall, the path and the errno', () => {
  createFails((s) => {
    s.mounts!.push({ destination: '/tmp/x', type: 'bind', source: '/nonexistent/source', options: ['bind'] });
  }, /mount \/nonexistent\/source to \/tmp\/x: stat \/nonexistent\/source: no such file or directory \(ENOENT\)/);
  createFails((s) => {
    s.mounts!.push({ destination: '/tmp/y', type: 'nosuchfs', source: 'none' });
  }, /mount none to \/tmp\/y: mount \/tmp\/y: no such device \(ENODEV\)/);
});

test('a namespace path that does not exist', () => {
  createFails((s) => {
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/proc/999999999/ns/net' } : n));
  }, /network namespace path \/proc\/999999999\/ns\/net does not exist/);
});

test('a host-wide sysctl is refused', () => {
  createFails((s) => {
    s.linux!.sysctl = { 'kernel.panic': '1' };
  }, /sysctl kernel\.panic is not namespaced/);
});

test('invalid container ids are refused before anything is created', () => {
  for (const bad of ['../escape', 'a/b', '.x']) {
    const r = t.run(['create', '--bundle', t.bundle(), bad]);
    assert.is(r.status, 1);
    assert.match(r.stderr, /invalid container id/);
  }
});

test('commands refuse ids that would name a path outside the state root', () => {
  // `delete --force ..` once resolved to the state root's parent and removed it
  const marker = join(t.root, '..', `keep-${process.pid}`);
  writeFileSync(marker, 'x');
  try {
    for (const cmd of [['delete', '--force'], ['delete'], ['state'], ['kill'], ['start']]) {
      for (const bad of ['..', '.', '../x', 'a/../..']) {
        const r = t.run([...cmd, bad]);
        assert.is(r.status, 1, `${cmd.join(' ')} ${bad}`);
        assert.match(r.stderr, /invalid container id/);
      }
    }
    assert.ok(existsSync(marker), 'the parent of the state root is intact');
    assert.ok(existsSync(t.root), 'the state root is intact');
  } finally {
    rmSync(marker, { force: true });
  }
});

test('a failed start leaves a stopped container that delete cleans', () => {
  const id = uniqueId('deadinit');
  t.ok(['create', '--bundle', t.bundle((s) => { s.process!.args = ['sleep', '100']; }), id]);
  process.kill(t.state(id).pid as number, 'SIGKILL');
  waitFor(() => t.state(id).status === 'stopped', 'the container to stop');
  const r = t.run(['start', id]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /cannot start a container that has stopped/);
  t.ok(['delete', id]);
  assert.equal(leftovers(t, id), []);
});

test('unknown command and missing id are usage errors', () => {
  assert.match(t.run(['frobnicate']).stderr, /unknown command \\?"frobnicate\\?"/);
  assert.match(t.run(['state']).stderr, /state: container id is required/);
});

test.run();
