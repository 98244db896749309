// OCI hooks: each of the six runs at its moment, in the namespaces the spec
// names, with the state JSON on stdin, its args and env. The hooks here record
// what they saw into a host directory that is also bind-mounted into the
// container, so that the startContainer hook (resolved inside) can report too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Toyrun, leftovers, uniqueId, type Result } from '../helpers';
import type { Hook, Hooks, Spec } from '../../src/spec/types';

const t = new Toyrun('hooks');
test.after(() => t.cleanup());

/** `create` (helpers collect output through files: the container holds no pipe of ours). */
function create(args: string[], env: Record<string, string> = {}): Result {
  return t.run(['create', ...args], { env });
}

function createOk(args: string[], env: Record<string, string> = {}): void {
  const r = create(args, env);
  assert.is(r.status, 0, r.stderr);
}

const NAMESPACES = ['mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup'];
const INSIDE = '/tmp/hooks'; // where the record dir appears in the container (under its /tmp tmpfs)

// POSIX sh: runs under the host's /bin/sh and the container's busybox alike.
const HOOK_SCRIPT = `#!/bin/sh
name=$1
dir=$(dirname "$0")
cat > "$dir/$name.state"
for ns in ${NAMESPACES.join(' ')}; do echo "$ns $(readlink /proc/self/ns/$ns)"; done > "$dir/$name.ns"
env > "$dir/$name.env"
echo "$@" > "$dir/$name.args"
echo "$name" >> "$dir/order"
if [ -n "$HOOK_FAIL" ]; then echo "hook $name says no" >&2; exit 7; fi
exit 0
`;

interface Recorder {
  dir: string;
  hook(name: string, where: 'host' | 'inside', extra?: Partial<Hook>): Hook;
  order(): string[];
  state(name: string): Record<string, unknown>;
  ns(name: string): Record<string, string>;
  env(name: string): string[];
}

function recorder(): Recorder {
  const dir = t.tempDir('toyrun-hooks-');
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'hook.sh'), HOOK_SCRIPT, { mode: 0o755 });
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    hook: (name, where, extra = {}) => {
      const path = join(where === 'host' ? dir : INSIDE, 'hook.sh');
      return { path, args: [path, name, 'extra-arg'], env: ['PATH=/usr/bin:/bin', `HOOK_NAME=${name}`], ...extra };
    },
    order: () => (existsSync(join(dir, 'order')) ? read('order').trim().split('\n') : []),
    state: (name) => JSON.parse(read(`${name}.state`)) as Record<string, unknown>,
    ns: (name) => Object.fromEntries(read(`${name}.ns`).trim().split('\n').map((l) => l.split(' ') as [string, string])),
    env: (name) => read(`${name}.env`).trim().split('\n'),
  };
}

function bundleWith(rec: Recorder, hooks: Hooks, args = ['sleep', '60']): string {
  return t.bundle((s: Spec) => {
    (s.process as NonNullable<Spec['process']>).args = args;
    s.mounts = [...(s.mounts ?? []), { destination: INSIDE, type: 'bind', source: rec.dir, options: ['bind'] }];
    s.hooks = hooks;
  });
}

function nsOf(pid: number | 'self'): Record<string, string> {
  return Object.fromEntries(NAMESPACES.map((n) => [n, readlinkSync(`/proc/${pid}/ns/${n}`)]));
}

test('all six hooks run in order, in the right namespaces, with state, args and env', () => {
  const rec = recorder();
  const bundle = bundleWith(rec, {
    prestart: [rec.hook('prestart', 'host')],
    createRuntime: [rec.hook('createRuntime', 'host')],
    createContainer: [rec.hook('createContainer', 'host')],
    startContainer: [rec.hook('startContainer', 'inside')],
    poststart: [rec.hook('poststart', 'host')],
    poststop: [rec.hook('poststop', 'host')],
  });
  const id = uniqueId('hooks');
  // the runtime's own environment must not reach the hooks
  createOk(['--bundle', bundle, id], { TOYRUN_TEST_LEAK: 'leaked' });
  assert.equal(rec.order(), ['prestart', 'createRuntime', 'createContainer']);
  const pid = t.state(id).pid as number;
  const host = nsOf('self');
  const container = nsOf(pid);
  assert.is.not(container.mnt, host.mnt);

  t.ok(['start', id]);
  assert.equal(rec.order(), ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']);
  t.ok(['kill', id, '9']);
  t.ok(['delete', id]);
  assert.equal(rec.order(), ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  assert.equal(leftovers(t, id), []);

  // namespaces: the runtime's for prestart/createRuntime/poststart/poststop, the container's for the other two
  for (const name of ['prestart', 'createRuntime', 'poststart', 'poststop']) assert.equal(rec.ns(name), host, name);
  for (const name of ['createContainer', 'startContainer']) assert.equal(rec.ns(name), container, name);

  // the state on stdin
  const expected: Record<string, string> = {
    prestart: 'creating', createRuntime: 'creating', createContainer: 'creating',
    startContainer: 'created', poststart: 'running', poststop: 'stopped',
  };
  for (const [name, status] of Object.entries(expected)) {
    const st = rec.state(name);
    assert.is(st.id, id, name);
    assert.is(st.status, status, name);
    assert.is(st.bundle, bundle, name);
    assert.ok(typeof st.ociVersion === 'string', name);
    if (name !== 'poststop') assert.is(st.pid, pid, name);
  }

  // args and env exactly as configured
  for (const name of Object.keys(expected)) {
    assert.is(readFileSync(join(rec.dir, `${name}.args`), 'utf8').trim(), `${name} extra-arg`);
    const env = rec.env(name);
    assert.ok(env.includes(`HOOK_NAME=${name}`), `${name}: ${env.join(',')}`);
    assert.not.ok(env.some((e) => e.startsWith('TOYRUN_TEST_LEAK')), name);
  }
});

for (const name of ['prestart', 'createRuntime', 'createContainer'] as const) {
  test(`a failing ${name} hook fails create and leaves nothing behind`, () => {
    const rec = recorder();
    const bundle = bundleWith(rec, {
      createRuntime: [rec.hook('createRuntime', 'host')],
      [name]: [rec.hook(name, 'host', { env: ['PATH=/usr/bin:/bin', 'HOOK_FAIL=1'] })],
      poststart: [rec.hook('poststart', 'host')],
    });
    const id = uniqueId(`fail-${name}`);
    const r = create(['--bundle', bundle, id]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, new RegExp(`${name} hook .*hook\\.sh: exit status 7: hook ${name} says no`));
    assert.equal(leftovers(t, id), []);
    assert.not.ok(rec.order().includes('poststart'));
  });
}

test('a hook that outlives its timeout is killed and fails create', () => {
  const rec = recorder();
  const bundle = bundleWith(rec, {
    createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'sleep 30'], timeout: 1 }],
  });
  const id = uniqueId('timeout');
  const r = create(['--bundle', bundle, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /createRuntime hook \/bin\/sh: .*(timed out|timeout)/);
  assert.equal(leftovers(t, id), []);
});

test('a failing startContainer hook fails start; the container is stopped and deletes cleanly', () => {
  const rec = recorder();
  const bundle = bundleWith(rec, {
    startContainer: [rec.hook('startContainer', 'inside', { env: ['PATH=/usr/bin:/bin', 'HOOK_FAIL=1'] })],
    poststart: [rec.hook('poststart', 'host')],
  });
  const id = uniqueId('fail-start');
  createOk(['--bundle', bundle, id]);
  const r = t.run(['start', id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /startContainer hook \/tmp\/hooks\/hook\.sh: exit status 7: hook startContainer says no/);
  assert.is(t.state(id).status, 'stopped');
  assert.equal(rec.order(), ['startContainer']); // poststart does not run for a failed start
  t.ok(['delete', id]);
  assert.equal(leftovers(t, id), []);
});

test('poststart runs once the program has replaced the init', () => {
  const rec = recorder();
  const probe: Hook = {
    path: '/bin/sh',
    // the state's pid is the container process: its exe must already be the container's busybox
    args: ['sh', '-c', `pid=$(sed 's/.*"pid":\\([0-9]*\\).*/\\1/'); readlink /proc/$pid/exe > ${rec.dir}/exe`],
    env: ['PATH=/usr/bin:/bin'],
  };
  const bundle = bundleWith(rec, { poststart: [probe] });
  const id = uniqueId('poststart-exe');
  createOk(['--bundle', bundle, id]);
  t.ok(['start', id]);
  assert.match(readFileSync(join(rec.dir, "exe"), "utf8").trim(), /\/bin\/busybox$/);
  t.ok(['delete', '--force', id]);
});

// A failing poststart hook fails start (runtime-spec 1.3, and runc): test/integration/spec13.test.ts
test('failing poststop hooks are warnings: delete and the later hooks go on', () => {
  const rec = recorder();
  const bundle = bundleWith(rec, {
    poststop: [rec.hook('poststop-bad', 'host', { env: ['PATH=/usr/bin:/bin', 'HOOK_FAIL=1'] }), rec.hook('poststop', 'host')],
  });
  const id = uniqueId('warn');
  const log = join(rec.dir, 'runtime.log');
  createOk(['--bundle', bundle, id]);
  const start = t.run(['--log', log, '--log-format', 'json', 'start', id]);
  assert.is(start.status, 0, start.stderr);
  assert.is(start.stderr, ''); // silent on success, as callers require
  assert.is(t.state(id).status, 'running');
  t.ok(['kill', id, '9']);
  const del = t.run(['--log', log, '--log-format', 'json', 'delete', id]);
  assert.is(del.status, 0, del.stderr);
  assert.equal(rec.order(), ['poststop-bad', 'poststop']);
  const warnings = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
  assert.ok(warnings.some((w) => w.level === 'warning' && /poststop hook .*exit status 7/.test(w.msg)), JSON.stringify(warnings));
  assert.equal(leftovers(t, id), []);
});

test('hooks that never read their stdin succeed (Node reported EPIPE for them)', () => {
  const dir = t.tempDir('toyrun-hooks-quiet-');
  const marker = join(dir, 'ran');
  const quiet = (name: string): Hook => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${name} >> ${marker}; exit 0`] });
  const bundle = t.bundle((s: Spec) => {
    (s.process as NonNullable<Spec['process']>).args = ['true'];
    s.mounts = [...(s.mounts ?? []), { destination: dir, type: 'bind', source: dir, options: ['bind'] }];
    s.hooks = { prestart: [quiet('prestart')], createRuntime: [quiet('createRuntime')], createContainer: [quiet('createContainer')], startContainer: [quiet('startContainer')] };
  });
  writeFileSync(marker, '');
  const id = uniqueId('quiet');
  const r = t.run(['run', '--bundle', bundle, id]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(readFileSync(marker, 'utf8').trim().split('\n'), ['prestart', 'createRuntime', 'createContainer', 'startContainer']);
  assert.equal(leftovers(t, id), []);
});

test.run();
