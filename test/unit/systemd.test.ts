// --systemd-cgroup without systemd: which unit, which properties (the D-Bus side
// runs for real in test/integration/systemd.test.ts, on a host booted by systemd).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuMask, pidsProperties, resourceProperties, scopeFor, scopeProperties } from '../../src/linux/systemd';
import { resolveCgroupPath } from '../../src/linux/cgroups/layout';

test('scope: slice:prefix:name → unit and slice; the default is system.slice:toyrun:<id> (runc: system.slice:runc:<id>)', () => {
  assert.equal(scopeFor('machine.slice:libpod:abc', 'abc'), { slice: 'machine.slice', unit: 'libpod-abc.scope' });
  assert.equal(scopeFor(':cri:x', 'x'), { slice: 'system.slice', unit: 'cri-x.scope' });
  assert.equal(scopeFor('user.slice::x', 'x'), { slice: 'user.slice', unit: 'x.scope' });
  assert.equal(scopeFor(undefined, 'c1'), { slice: 'system.slice', unit: 'toyrun-c1.scope' });
  assert.equal(scopeFor('', 'c1'), { slice: 'system.slice', unit: 'toyrun-c1.scope' });
  assert.is(resolveCgroupPath(undefined, 'c1', true), '/system.slice/toyrun-c1.scope', 'the cgroup systemd makes for it');
  assert.throws(() => scopeFor('/abs/path', 'x'), /expected "slice:prefix:name" with --systemd-cgroup/);
  assert.throws(() => scopeFor('a.slice:p:../x', 'x'), /the name "\.\.\/x" must not contain "\/"/);
});

test('scope properties: as runc asks (Delegate, PIDs, accounting), limits in systemd\'s units', () => {
  const props = scopeProperties({ slice: 'system.slice', unit: 'toyrun-c1.scope' }, 4242, 'c1', {
    memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 },
    cpu: { shares: 1024, quota: 25000, period: 100000, cpus: '0,2-3', mems: '0' },
    blockIO: { weight: 500 },
    pids: { limit: 7 },
  }, 2);
  const byName = Object.fromEntries(props.map(([n, sig, v]) => [n, [sig, v]]));
  assert.equal(byName.PIDs, ['au', [4242]]);
  assert.equal(byName.Delegate, ['b', true]);
  assert.equal(byName.Slice, ['s', 'system.slice']);
  assert.equal(byName.MemoryMax, ['t', String(64 << 20)]);
  assert.equal(byName.MemoryLow, ['t', String(32 << 20)]);
  assert.equal(byName.MemorySwapMax, ['t', String(32 << 20)], 'swap alone, as memory.swap.max');
  assert.equal(byName.CPUWeight, ['t', '39']);
  assert.equal(byName.CPUQuotaPerSecUSec, ['t', '250000']);
  assert.equal(byName.CPUQuotaPeriodUSec, ['t', '100000']);
  assert.equal(byName.AllowedCPUs, ['ay', [0b1101]]);
  assert.equal(byName.AllowedMemoryNodes, ['ay', [1]]);
  assert.equal(byName.IOWeight, ['t', '4950']);
  assert.not.ok('TasksMax' in byName, 'the pids limit waits for the init to be ready (splitPidsLimit)');
  assert.equal(pidsProperties({ pids: { limit: 7 } }), [['TasksMax', 't', '7']]);
  assert.equal(pidsProperties({ pids: { limit: -1 } }), [['TasksMax', 't', '18446744073709551615']]);
  // 1.3's limit 0 is a real limit: systemd refuses TasksMax=0, and 1 refuses every new
  // task just as well while the init is in the scope (never "infinity")
  assert.equal(pidsProperties({ pids: { limit: 0 } }), [['TasksMax', 't', '1']]);
  assert.equal(resourceProperties({ memory: { limit: -1 } }, 2), [['MemoryMax', 't', '18446744073709551615']]);
  assert.equal(resourceProperties({ memory: { limit: 1 << 20 }, cpu: { shares: 512 } }, 1), [['MemoryLimit', 't', String(1 << 20)], ['CPUShares', 't', '512']]);
  assert.equal(cpuMask('8'), [0, 1]);
});

test.run();
