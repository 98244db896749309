// runtime-spec v1.3.0: configs written at "ociVersion": "1.3.0" run, and each
// field added since 1.1 does what the spec says, as seen from inside the container.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leftovers, Toyrun, uniqueId } from '../helpers';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('spec13');

/** Every config in this file is written at 1.3.0, as current tools write them. */
function v13(fn: (s: Spec) => void = () => undefined): (s: Spec) => void {
  return (s) => {
    s.ociVersion = '1.3.0';
    fn(s);
  };
}

test.after(() => t.cleanup());

test('a config at ociVersion 1.3.0 runs (and pre-release/build suffixes are accepted)', () => {
  for (const v of ['1.3.0', '1.3.0-rc.2', '1.3.1+dev']) {
    const r = t.sh('echo hello', (s) => {
      s.ociVersion = v;
    });
    assert.is(r.status, 0, `${v}: ${r.stderr}`);
    assert.is(r.stdout, 'hello\n', v);
  }
});

test('ociVersion 2.0.0 is refused at validation with the JSON path', () => {
  const id = uniqueId('v2');
  const b = t.bundle((s) => {
    s.ociVersion = '2.0.0';
  });
  const r = t.run(['run', '--bundle', b, id]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, '/ociVersion must match');
  assert.equal(leftovers(t, id), []);
});

test.run();
