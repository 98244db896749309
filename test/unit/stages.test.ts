// The stage runner shared by the init and the exec helper (src/init/stages.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StageRunner } from '../../src/init/stages';
import { ExecError } from '../../src/linux/process';

test('stages are timed in order, after the engine start-up', () => {
  const s = new StageRunner();
  assert.is(s.run('mounts', () => 42), 42);
  s.run('pivot_root', () => undefined);
  assert.equal(s.times.map(([n]) => n), ['engine start-up', 'mounts', 'pivot_root']);
});

test('a stage name used twice is refused (errors and timings would be ambiguous)', () => {
  const s = new StageRunner();
  s.run('console', () => undefined);
  assert.throws(() => s.run('console', () => undefined), /stage "console" is run twice/);
});

test('an error names the stage it happened in, unless it names its step already', () => {
  const s = new StageRunner();
  let caught: unknown;
  try {
    s.run('mounts', () => {
      throw new Error('mount /proc: EPERM');
    });
  } catch (e) {
    caught = e;
  }
  assert.is(s.describe(caught), 'mounts: mount /proc: EPERM');
  assert.is(s.describe(new ExecError('exec: "nope": executable file not found in $PATH')), 'exec: "nope": executable file not found in $PATH');
  // classified by type, not by its words
  assert.is(s.describe(new Error('exec: lookalike')), 'mounts: exec: lookalike');
});

test.run();
