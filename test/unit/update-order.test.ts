// `update --memory -1` over a stored swap limit (runc's rule: swap becomes
// unlimited too), applied by the v2 driver on a fake cgroup2 tree; the v1
// ordering runs for real in test/integration/parity.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupV2 } from '../../src/linux/cgroups/v2';
import { mergeResources, withUnlimitedSwap } from '../../src/container/update';

test('withUnlimitedSwap: only --memory -1 without a swap value', () => {
  assert.equal(withUnlimitedSwap({ memory: { limit: -1 } }), { memory: { limit: -1, swap: -1 } });
  assert.equal(withUnlimitedSwap({ memory: { limit: -1, swap: 0 } }), { memory: { limit: -1, swap: -1 } });
  assert.equal(withUnlimitedSwap({ memory: { limit: -1, swap: 1 << 30 } }), { memory: { limit: -1, swap: 1 << 30 } });
  assert.equal(withUnlimitedSwap({ memory: { limit: 1 << 20 } }), { memory: { limit: 1 << 20 } });
  assert.equal(withUnlimitedSwap({ pids: { limit: 3 } }), { pids: { limit: 3 } });
});

test('v2: memory unlimited over a stored swap limit leaves both unlimited', () => {
  const root = mkdtempSync('/tmp/toyrun-fake-cgroup2-');
  try {
    const leaf = join(root, 'toyrun', 'c1');
    mkdirSync(leaf, { recursive: true });
    for (const d of [root, join(root, 'toyrun'), leaf]) {
      writeFileSync(join(d, 'cgroup.controllers'), 'cpu memory pids\n');
      writeFileSync(join(d, 'cgroup.subtree_control'), '');
    }
    writeFileSync(join(leaf, 'memory.max'), '67108864\n');
    writeFileSync(join(leaf, 'memory.swap.max'), '67108864\n');
    const d = new CgroupV2(root);
    const rec = d.create('/toyrun/c1');
    const stored = { memory: { limit: 67108864, swap: 134217728 } };
    d.apply(rec, mergeResources(stored, withUnlimitedSwap({ memory: { limit: -1 } })));
    assert.is(readFileSync(join(leaf, 'memory.max'), 'utf8'), 'max');
    assert.is(readFileSync(join(leaf, 'memory.swap.max'), 'utf8'), 'max');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
