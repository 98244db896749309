// toyrun is written against node: APIs + koffi only: the same CLI and init run
// under Node 20 (dist/node/), not just under Bun.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, Toyrun, leftovers, sh, uniqueId } from '../helpers';

const t = new Toyrun('node');
const test = suite('node-smoke');
test.after(() => t.cleanup());

const NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => { try { readFileSync(p); return true; } catch { return false; } });
const CLI = join(REPO, 'dist', 'node', 'toyrun.js');
const node = (args: string[]) => sh(NODE as string, [CLI, '--root', t.root, ...args], { env: {}, cwd: '/' });

test('node is v20 or later', () => {
  assert.ok(NODE, 'node installed');
  const v = sh(NODE as string, ['--version']).stdout.trim();
  assert.ok(Number(v.slice(1).split('.')[0]) >= 20, v);
});

test('run under Node: the container runs and reports its status', () => {
  const bundle = t.bundle((s) => { s.process!.args = ['sh', '-c', 'echo pid $$; exit 3']; });
  const id = uniqueId('node-run');
  t.track(id);
  const r = node(['run', '--bundle', bundle, id]);
  assert.is(r.stdout, 'pid 1\n', r.stderr);
  assert.is(r.status, 3);
  assert.equal(leftovers(t, id), []);
});

test('create/start/state/kill/delete under Node, with a Node init', () => {
  const bundle = t.bundle((s) => { s.process!.args = ['sleep', '100']; });
  const id = uniqueId('node-life');
  t.track(id);
  assert.is(node(['create', '--bundle', bundle, id]).status, 0);
  const st = JSON.parse(node(['state', id]).stdout);
  assert.is(st.status, 'created');
  assert.match(readFileSync(`/proc/${st.pid}/cmdline`, 'utf8'), /node\u0000.*dist\/node\/init\.js/);
  assert.is(node(['start', id]).status, 0);
  assert.is(JSON.parse(node(['state', id]).stdout).status, 'running');
  assert.is(node(['kill', id, 'KILL']).status, 0);
  assert.is(node(['delete', '--force', id]).status, 0);
  assert.equal(leftovers(t, id), []);
});

test.run();
