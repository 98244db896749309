// Schema validation: real configs from podman and containerd must pass; bad
// ones fail with every problem named by JSON path and expectation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSpec, validateProcessSpec, validateContainerId, ValidationError } from '../../src/spec/validate';
import { defaultSpec } from '../../src/spec/default';
import { FIXTURES, REPO } from '../helpers';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

function problems(data: unknown): string[] {
  try {
    validateSpec(data);
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
  return [];
}

test('podman and containerd configs validate', () => {
  assert.equal(problems(fixture('podman-config.json')), []);
  assert.equal(problems(fixture('containerd-config.json')), []);
});

test('exec process files from podman and containerd validate', () => {
  validateProcessSpec(fixture('podman-exec-process.json'), 'podman-exec-process.json');
  validateProcessSpec(fixture('containerd-exec-process.json'), 'containerd-exec-process.json');
});

test('the default spec and the embedded bundle validate', () => {
  assert.equal(problems(defaultSpec()), []);
  assert.equal(problems(JSON.parse(readFileSync(join(REPO, 'bundles/busybox/config.json'), 'utf8'))), []);
});

test('a wrong namespace type names the path and the allowed values', () => {
  const spec = defaultSpec();
  (spec.linux!.namespaces as { type: string }[])[2] = { type: 'bogus' };
  const p = problems(spec);
  assert.equal(p, ['/linux/namespaces/2/type must be one of pid, network, mount, ipc, uts, user, cgroup, time']);
});

test('every problem is listed, not just the first', () => {
  const spec = defaultSpec() as unknown as Record<string, any>;
  spec.ociVersion = '2.0.0';
  spec.process.user.uid = -1;
  spec.process.cwd = 'relative';
  spec.mounts[0].options = 'ro';
  delete spec.root;
  const p = problems(spec);
  assert.ok(p.includes('/root is required'), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/ociVersion must match')), p.join('\n'));
  assert.ok(p.includes('/process/user/uid must be >= 0'), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/process/cwd must match')), p.join('\n'));
  assert.ok(p.includes('/mounts/0/options must be array'), p.join('\n'));
});

test('unknown properties are ignored, as the spec requires', () => {
  const spec = defaultSpec() as unknown as Record<string, any>;
  spec.somethingNew = { x: 1 };
  spec.linux.futureThing = true;
  assert.equal(problems(spec), []);
});

test('any ociVersion 1.x.y is accepted (with pre-release and build suffixes), others are not', () => {
  for (const v of ['1.0.0', '1.0.2-dev', '1.1.0', '1.2.0', '1.2.1', '1.3.0', '1.3.0-rc.1', '1.3.0+dev', '1.12.7']) {
    const spec = defaultSpec();
    spec.ociVersion = v;
    assert.equal(problems(spec), [], v);
  }
  for (const v of ['0.9.0', '2.0.0', '1.3', 'latest', '1.3.0 ']) {
    const spec = defaultSpec();
    spec.ociVersion = v;
    assert.is(problems(spec).length, 1, v);
  }
});

test('unknown capability and rlimit names, bad seccomp action are validation errors', () => {
  const spec = defaultSpec();
  spec.process!.capabilities!.bounding = ['CAP_CHOWN', 'CAP_NOT_A_THING'];
  spec.process!.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }];
  spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_MAYBE' };
  const p = problems(spec);
  assert.ok(p.some((x) => x.startsWith('/process/capabilities/bounding/1 must be one of CAP_CHOWN')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/process/rlimits/0/type must be one of RLIMIT_CPU')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/linux/seccomp/defaultAction must be one of')), p.join('\n'));
});

test('semantic rules: duplicate namespaces, soft > hard, hostname without uts', () => {
  const spec = defaultSpec();
  spec.linux!.namespaces!.push({ type: 'pid' });
  spec.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }];
  spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'uts');
  const p = problems(spec);
  assert.ok(p.some((x) => x.includes('"pid" appears more than once')), p.join('\n'));
  assert.ok(p.some((x) => x.includes('soft limit 10 must not exceed hard limit 5')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/hostname can only be set with a new uts namespace')), p.join('\n'));
});

test('the message names the file and the JSON paths', () => {
  const spec = defaultSpec() as unknown as Record<string, any>;
  spec.process.args = [];
  try {
    validateSpec(spec, '/b/config.json');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /^\/b\/config\.json: \/process\/args must NOT have fewer than 1 items/);
  }
});

test('container ids: no slash, no dot-dot, sane characters and length', () => {
  for (const ok of ['a', 'ctr-d1', '96007eb0073b951f97d841dfae1f7f8d3dd0652e9c5b8ffc2ba7af4beac973f3', 'x_y.z+1']) assert.is(validateContainerId(ok), ok);
  for (const bad of ['', '.', '..', '../x', 'a/b', '-x', '.hidden', 'a b', 'a\u0000b', 'x'.repeat(1025), 'é']) {
    assert.throws(() => validateContainerId(bad), undefined, JSON.stringify(bad));
  }
});

test.run();
