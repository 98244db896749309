import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  formatIdMap, idMapProblems, parseIdMap, toHostId, unmappedUserProblems, unreachableBy,
  userNamespaceProblems, writerHasCapSetgid,
} from '../../src/linux/userns';
import { nsenterJoinArgs } from '../../src/process/userns';
import { idmapOption, idmapProblems, idmapRequests, idmapSupported, ROOTFS_IDMAP_ANNOTATION } from '../../src/linux/idmap';
import type { IdMapping, Spec, User } from '../../src/spec/types';

const MAP: IdMapping[] = [
  { containerID: 0, hostID: 100000, size: 1000 },
  { containerID: 1000, hostID: 200000, size: 10 },
];

function spec(linux: Spec['linux'], user: User = { uid: 0, gid: 0 }): Spec {
  return { ociVersion: '1.2.0', root: { path: '/r' }, process: { user, cwd: '/', args: ['sh'] }, linux };
}

test('maps: the kernel text format, parsed back from /proc padding', () => {
  assert.is(formatIdMap(MAP), '0 100000 1000\n1000 200000 10\n');
  assert.equal(parseIdMap('         0     100000       1000\n      1000     200000         10\n'), MAP);
});

test('toHostId: inside each range, and nothing outside', () => {
  assert.is(toHostId(MAP, 0), 100000);
  assert.is(toHostId(MAP, 999), 100999);
  assert.is(toHostId(MAP, 1009), 200009);
  assert.is(toHostId(MAP, 1010), undefined);
});

test('idMapProblems: overlaps on either side, empty and wrapping ranges, the one-page limit', () => {
  assert.equal(idMapProblems(MAP, '/m'), []);
  assert.match(idMapProblems([...MAP, { containerID: 5, hostID: 900000, size: 1 }], '/m').join(), /\/m\/2: container ids 5-5 overlap \/m\/0/);
  assert.match(idMapProblems([...MAP, { containerID: 5000, hostID: 100500, size: 1 }], '/m').join(), /\/m\/2: host ids 100500-100500 overlap \/m\/0/);
  assert.match(idMapProblems([{ containerID: 0, hostID: 1, size: 0 }], '/m').join(), /\/m\/0\/size must be at least 1/);
  assert.match(idMapProblems([{ containerID: 4294967290, hostID: 1, size: 10 }], '/m').join(), /goes past 4294967294/);
  const many = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 1000 + i, size: 1 }));
  assert.match(idMapProblems(many, '/m').join(), /341 ranges: the kernel accepts at most 340/);
  const wide = Array.from({ length: 200 }, (_, i) => ({ containerID: 1e9 + i, hostID: 2e9 + i, size: 1 }));
  assert.match(idMapProblems(wide, '/m').join(), /bytes as text: the kernel accepts less than 4096/);
});

test('userNamespaceProblems: maps need a user namespace, a new one needs both maps, process.user must be mapped', () => {
  assert.equal(userNamespaceProblems(spec({ namespaces: [{ type: 'mount' }] })), []);
  assert.match(userNamespaceProblems(spec({ uidMappings: MAP })).join(), /need a user namespace/);
  assert.match(userNamespaceProblems(spec({ namespaces: [{ type: 'user' }], uidMappings: MAP })).join(), /\/linux\/gidMappings is required/);
  assert.equal(userNamespaceProblems(spec({ namespaces: [{ type: 'user' }], uidMappings: MAP, gidMappings: MAP })), []);
  assert.equal(userNamespaceProblems(spec({ namespaces: [{ type: 'user', path: '/proc/1/ns/user' }] })), [], 'a joined namespace is checked once entered');
  const p = userNamespaceProblems(spec({ namespaces: [{ type: 'user' }], uidMappings: MAP, gidMappings: MAP }, { uid: 1010, gid: 5, additionalGids: [1005, 3000] }));
  assert.equal(p, ['/process/user/uid 1010 is not mapped in /linux/uidMappings', '/process/user/additionalGids/1 3000 is not mapped in /linux/gidMappings']);
});

test('unmappedUserProblems: the runtime needs a root inside', () => {
  const noRoot = [{ containerID: 1, hostID: 5, size: 10 }];
  assert.match(unmappedUserProblems(spec({}, { uid: 1, gid: 1 }), noRoot, MAP, 'config').join(), /uid 0 is not mapped in \/linux\/uidMappings/);
});

test('writerHasCapSetgid reads CapEff bit 6', () => {
  assert.is(writerHasCapSetgid('CapInh:\t0\nCapEff:\t000001ffffffffff\n'), true);
  assert.is(writerHasCapSetgid('CapEff:\t0000000000000000\n'), false);
  assert.is(writerHasCapSetgid('CapEff:\t0000000000000040\n'), true);
});

test('unreachableBy: mode bits of every directory on the way, for owner, group, others', () => {
  const top = mkdtempSync('/tmp/toyrun-unit-reach-');
  try {
    chmodSync(top, 0o755);
    mkdirSync(join(top, 'a', 'b'), { recursive: true });
    assert.is(unreachableBy(join(top, 'a', 'b', '.'), 100000, 100000), undefined);
    chmodSync(join(top, 'a'), 0o750);
    assert.match(unreachableBy(join(top, 'a', 'b', '.'), 100000, 100000) ?? '', /\/a \(owner 0:0, mode 0750\) cannot be searched by host uid 100000/);
    assert.is(unreachableBy(join(top, 'a', 'b', '.'), 100000, 0), undefined, 'group search bit');
    chmodSync(join(top, 'a'), 0o700);
    chownSync(join(top, 'a'), 100500, 100500);
    assert.match(unreachableBy(join(top, 'a', 'b', '.'), 100000, 100000) ?? '', /mode 0700/);
    assert.is(unreachableBy(join(top, 'a', 'b', '.'), 100000, 100000, MAP, MAP), undefined, 'owner and group mapped: the mapped root\'s CAP_DAC_READ_SEARCH counts');
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
});

test('nsenterJoinArgs: host-owned namespaces by path; mount, pid and time are left to the stages', () => {
  assert.equal(
    nsenterJoinArgs([
      { type: 'network', path: '/run/netns/x' },
      { type: 'ipc', path: '/proc/9/ns/ipc' },
      { type: 'mount', path: '/proc/9/ns/mnt' },
      { type: 'pid', path: '/proc/9/ns/pid' },
      { type: 'uts' },
    ]),
    ['--net=/run/netns/x', '--ipc=/proc/9/ns/ipc'],
  );
});

test('idmap: kernel version gate, option names, and what the config must say', () => {
  assert.is(idmapSupported('5.11.0'), false);
  assert.is(idmapSupported('5.12.1-foo'), true);
  assert.is(idmapSupported('6.1.0'), true);
  assert.is(idmapOption({ destination: '/a', options: ['rbind', 'ridmap'] }), 'ridmap');
  assert.is(idmapOption({ destination: '/a', options: ['idmap'] }), 'idmap');
  const s = spec({ namespaces: [{ type: 'user' }] });
  s.mounts = [
    { destination: '/a', type: 'bind', source: '/x', options: ['idmap'] },
    { destination: '/b', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] },
    { destination: '/c', type: 'bind', source: '/y', options: ['idmap'], uidMappings: MAP },
  ];
  assert.equal(idmapProblems(s, true), [
    '/mounts/1/options: idmap is only supported on bind mounts',
    '/mounts/2: uidMappings and gidMappings go together',
  ]);
  assert.match(idmapProblems(s, false).join(), /\/mounts\/0\/options: idmap is supported in containers with a user namespace/);
  s.annotations = { [ROOTFS_IDMAP_ANNOTATION]: 'yes' };
  assert.match(idmapProblems(s, true).join(), /must be "true" or "false"/);
  s.mounts = [];
  s.annotations = { [ROOTFS_IDMAP_ANNOTATION]: 'true' };
  assert.equal(idmapRequests(s, '/r'), [{ index: 'rootfs', source: '/r', recursive: true }]);
});

test.run();
