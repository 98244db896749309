// The pure parts of image layers: which archive entries are refused, how OCI
// whiteouts map to overlayfs ones, mountinfo parsing, image config -> spec.
// unpackLayer tests write real (small) layers under /tmp and look at what the
// kernel says about them: modes, 0:0 char devices, the opaque xattr.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MAX_LAYER_BYTES, entryPath, LayerError, LayerPlan, maxLayerBytes, symlinkEscapes, unpackLayer, whiteoutOf } from '../../src/image/layers';
import { overlayMounts } from '../../src/linux/overlay';
import * as libc from '../../src/linux/libc';

/** overlayfs' opaque-directory mark, as the unpacker leaves it. */
const isOpaque = (dir: string): boolean => libc.lgetxattr(dir, 'trusted.overlay.opaque')?.toString() === 'y';
import { resolveUser, specFromImage, fileFromLayers } from '../../src/image/import';
import { topmostOnly } from '../../src/image/mount';
import { writeTar, type RawEntry } from '../tarfile';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync('/tmp/toyrun-layers-unit-');
  dirs.push(d);
  return d;
}
function unpack(entries: RawEntry[], gzip = false): string {
  const d = tmp();
  const archive = writeTar(join(d, gzip ? 'layer.tar.gz' : 'layer.tar'), entries, gzip);
  const dest = join(d, 'out');
  mkdirSync(dest);
  unpackLayer(archive, dest);
  return dest;
}

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('entryPath: relative paths are cleaned, absolute and ".." are refused', () => {
  assert.equal(entryPath('./bin/sh'), { path: 'bin/sh' });
  assert.equal(entryPath('etc//passwd'), { path: 'etc/passwd' });
  assert.equal(entryPath('./'), { path: '' });
  assert.equal(entryPath('/etc/passwd'), { problem: 'absolute path' });
  assert.equal(entryPath('a/../../b'), { problem: 'path contains ".."' });
  assert.equal(entryPath('..'), { problem: 'path contains ".."' });
  assert.equal(entryPath('a/..b/c'), { path: 'a/..b/c' }); // a name that merely starts with ..
});

test('symlinkEscapes: relative targets may not climb above the layer root', () => {
  assert.is(symlinkEscapes('bin/sh', 'busybox'), false);
  assert.is(symlinkEscapes('usr/lib/x', '../../lib/x'), false);
  assert.is(symlinkEscapes('usr/lib/x', '../../../etc/shadow'), true);
  assert.is(symlinkEscapes('x', '..'), true);
  assert.is(symlinkEscapes('a/b', 'c/../../..'), true);
  // absolute targets are resolved against the container's root at run time
  assert.is(symlinkEscapes('etc/localtime', '/usr/share/zoneinfo/UTC'), false);
});

test('whiteoutOf: OCI whiteout names', () => {
  assert.equal(whiteoutOf('etc/.wh.motd'), { kind: 'whiteout', path: 'etc/motd' });
  assert.equal(whiteoutOf('.wh.top'), { kind: 'whiteout', path: 'top' });
  assert.equal(whiteoutOf('var/cache/.wh..wh..opq'), { kind: 'opaque', dir: 'var/cache' });
  assert.equal(whiteoutOf('.wh..wh..opq'), { kind: 'opaque', dir: '' });
  assert.equal(whiteoutOf('x/.wh..wh.plnk'), { kind: 'meta' });
  assert.is(whiteoutOf('etc/motd'), undefined);
  assert.is(whiteoutOf('etc/.wh...'), undefined);
});

const entry = (path: string, type: string, extra: Partial<{ linkpath: string; devmaj: number; devmin: number }> = {}) => ({
  path,
  type: type as 'File',
  linkpath: extra.linkpath,
  mode: 0o644,
  header: { devmaj: extra.devmaj ?? 0, devmin: extra.devmin ?? 0 },
});

test('LayerPlan: writes through a symlink of the same archive are refused', () => {
  const plan = new LayerPlan();
  assert.is(plan.accept(entry('etc', 'SymbolicLink', { linkpath: '/etc' })), true);
  assert.throws(() => plan.accept(entry('etc/passwd', 'File')), /written through the symlink etc/);
  // a hardlink to a symlink is a symlink too
  const p2 = new LayerPlan();
  p2.accept(entry('s', 'SymbolicLink', { linkpath: '/' }));
  p2.accept(entry('h', 'Link', { linkpath: 's' }));
  assert.throws(() => p2.accept(entry('h/x', 'File')), /through the symlink h/);
  // replacing the symlink by a directory makes the path safe again
  const p3 = new LayerPlan();
  p3.accept(entry('d', 'SymbolicLink', { linkpath: '/tmp' }));
  p3.accept(entry('d', 'Directory'));
  assert.is(p3.accept(entry('d/f', 'File')), true);
});

test('LayerPlan: devices other than 0:0 whiteouts are refused; whiteouts are collected', () => {
  const plan = new LayerPlan();
  assert.is(plan.accept(entry('a/.wh.b', 'File')), false);
  assert.is(plan.accept(entry('c', 'CharacterDevice')), false);
  assert.is(plan.accept(entry('d/.wh..wh..opq', 'File')), false);
  assert.equal(plan.whiteouts, ['a/b', 'c']);
  assert.equal(plan.opaques, ['d']);
  assert.throws(() => plan.accept(entry('dev/null', 'CharacterDevice', { devmaj: 1, devmin: 3 })), /device node 1:3/);
  assert.throws(() => plan.accept(entry('dev/sda', 'BlockDevice', { devmaj: 8 })), /block device 8:0/);
  assert.throws(() => plan.accept(entry('.wh.x', 'Directory')), /whiteout must be a regular file/);
});

test('LayerPlan: the entry whose header crosses the size bound is refused; TOYRUN_MAX_LAYER_SIZE sets the bound', () => {
  const plan = new LayerPlan(4096);
  assert.is(plan.accept({ ...entry('a', 'File'), size: 1000 }), true); // 512 + 1024
  assert.is(plan.accept({ ...entry('b', 'Directory') }), true); // 512
  assert.throws(() => plan.accept({ ...entry('c', 'File'), size: 1537 }), /entry "c": the layer unpacks to more than 4096 bytes .*TOYRUN_MAX_LAYER_SIZE/);
  assert.is(maxLayerBytes({}), DEFAULT_MAX_LAYER_BYTES);
  assert.is(maxLayerBytes({ TOYRUN_MAX_LAYER_SIZE: '1048576' }), 1048576);
  assert.is(maxLayerBytes({ TOYRUN_MAX_LAYER_SIZE: '64M' }), 64 * 1024 ** 2);
  assert.is(maxLayerBytes({ TOYRUN_MAX_LAYER_SIZE: '2GiB' }), 2 * 1024 ** 3);
  for (const bad of ['0', '-1', 'lots', '1.5G', '9999999999999999999']) {
    assert.throws(() => maxLayerBytes({ TOYRUN_MAX_LAYER_SIZE: bad }), /TOYRUN_MAX_LAYER_SIZE=.*expected a size/, bad);
  }
});

test('unpackLayer: modes, owners, symlinks and hardlinks come out as archived', () => {
  const out = unpack([
    { path: 'bin/', type: 'Directory', mode: 0o555 },
    { path: 'bin/busybox', body: 'ELF', mode: 0o4755 },
    { path: 'bin/sh', type: 'SymbolicLink', linkpath: 'busybox' },
    { path: 'bin/ash', type: 'Link', linkpath: 'bin/busybox' },
    { path: 'tmp/', type: 'Directory', mode: 0o1777 },
    { path: 'home/app/', type: 'Directory', mode: 0o700, uid: 1000, gid: 1001 },
    { path: 'home/app/f', body: 'x', uid: 1000, gid: 1001 },
  ]);
  assert.is(lstatSync(join(out, 'home/app')).uid, 1000);
  assert.is(lstatSync(join(out, 'home/app')).mode & 0o7777, 0o700);
  assert.is(lstatSync(join(out, 'home/app/f')).gid, 1001);
  assert.is(lstatSync(join(out, 'bin')).mode & 0o7777, 0o555);
  assert.is(lstatSync(join(out, 'bin/busybox')).mode & 0o7777, 0o4755);
  assert.is(lstatSync(join(out, 'tmp')).mode & 0o7777, 0o1777);
  assert.is(readlinkSync(join(out, 'bin/sh')), 'busybox');
  assert.is(lstatSync(join(out, 'bin/ash')).ino, lstatSync(join(out, 'bin/busybox')).ino);
});

test('unpackLayer: OCI whiteouts become overlayfs whiteouts (gzip archive)', () => {
  const out = unpack([
    { path: 'etc/', type: 'Directory' },
    { path: 'etc/.wh.motd' },
    { path: 'var/cache/.wh..wh..opq' },
    { path: 'var/cache/new', body: 'n' },
    { path: 'old', type: 'CharacterDevice' },
  ], true);
  const wh = lstatSync(join(out, 'etc/motd'));
  assert.ok(wh.isCharacterDevice(), 'etc/motd is a character device');
  assert.is(wh.rdev, 0);
  assert.ok(lstatSync(join(out, 'old')).isCharacterDevice());
  assert.not.ok(readdirSync(join(out, 'etc')).includes('.wh.motd'), 'the .wh. file itself is not kept');
  assert.ok(isOpaque(join(out, 'var/cache')), 'trusted.overlay.opaque=y on var/cache');
  assert.not.ok(isOpaque(join(out, 'etc')));
  assert.is(readFileSync(join(out, 'var/cache/new'), 'utf8'), 'n');
});

test('unpackLayer: a whiteout never hides an entry of its own layer', () => {
  for (const entries of [
    [{ path: 'a', body: 'mine' }, { path: '.wh.a' }],
    [{ path: '.wh.a' }, { path: 'a', body: 'mine' }],
  ] as RawEntry[][]) {
    const out = unpack(entries);
    assert.is(readFileSync(join(out, 'a'), 'utf8'), 'mine');
  }
});

for (const [name, entries, why] of [
  ['absolute path', [{ path: '/etc/x', body: 'x' }], /absolute path/],
  ['dot-dot', [{ path: 'a/../../x', body: 'x' }], /contains "\.\."/],
  ['escaping symlink', [{ path: 'a/l', type: 'SymbolicLink', linkpath: '../../etc' }], /leads out of the layer/],
  ['escaping hardlink', [{ path: 'h', type: 'Link', linkpath: '../etc/passwd' }], /hardlink to "..\/etc\/passwd" leads out/],
  ['absolute hardlink', [{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }], /leads out/],
  ['device node', [{ path: 'dev/mem', type: 'CharacterDevice', devmaj: 1, devmin: 1 }], /device node 1:1/],
  ['write through symlink', [{ path: 'l', type: 'SymbolicLink', linkpath: '/etc' }, { path: 'l/passwd', body: 'x' }], /through the symlink/],
] as [string, RawEntry[], RegExp][]) {
  test(`unpackLayer refuses a hostile archive: ${name}`, () => {
    try {
      unpack(entries);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, LayerError);
      assert.match((e as Error).message, why);
    }
  });
}

test('unpackLayer: an empty layer (end-of-archive blocks only, plain or gzip) is valid', () => {
  assert.equal(readdirSync(unpack([])), []);
  assert.equal(readdirSync(unpack([], true)), []);
});

test('unpackLayer: not a tar archive is a clear error', () => {
  const d = tmp();
  writeFileSync(join(d, 'x.tar'), 'hello '.repeat(200));
  assert.throws(() => unpackLayer(join(d, 'x.tar'), d), /cannot unpack/);
});

test('overlayMounts: lowerdir/upperdir/workdir parsed from mountinfo, escapes undone', () => {
  const info = [
    '36 35 98:0 / /mnt/a rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '112 54 0:50 / /run/toyrun/c1/rootfs rw,relatime - overlay overlay rw,lowerdir=/s/sha256/bb:/s/sha256/aa,upperdir=/run/toyrun/c1/upper,workdir=/run/toyrun/c1/work,uuid=on',
    '113 54 0:51 / /with\\040space rw - overlay overlay rw,lowerdir=/l\\040x,upperdir=/u,workdir=/w',
  ].join('\n');
  const m = overlayMounts(info);
  assert.is(m.length, 2);
  assert.equal(m[0], { target: '/run/toyrun/c1/rootfs', lowers: ['/s/sha256/bb', '/s/sha256/aa'], upper: '/run/toyrun/c1/upper', work: '/run/toyrun/c1/work' });
  assert.equal(m[1], { target: '/with space', lowers: ['/l x'], upper: '/u', work: '/w' });
});

test('topmostOnly: a layer repeated in the stack is kept at its topmost place', () => {
  assert.equal(topmostOnly(['base', 'empty', 'app', 'empty']), ['base', 'app', 'empty']);
  assert.equal(topmostOnly(['a', 'b', 'a']), ['b', 'a']);
  assert.equal(topmostOnly(['a']), ['a']);
});

test('specFromImage: Entrypoint+Cmd, Env (PATH added), WorkingDir, Labels; ExposedPorts ignored', () => {
  const spec = specFromImage({
    config: {
      Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'], Env: ['FOO=bar'], WorkingDir: '/srv',
      Labels: { 'org.example': 'x' }, ExposedPorts: { '80/tcp': {} },
    },
  }, ['layers/a.tar'], { uid: 7, gid: 8 });
  assert.equal(spec.process?.args, ['/bin/sh', '-c', 'echo hi']);
  assert.ok(spec.process?.env?.some((e) => e.startsWith('PATH=')));
  assert.ok(spec.process?.env?.includes('FOO=bar'));
  assert.is(spec.process?.cwd, '/srv');
  assert.equal(spec.process?.user, { uid: 7, gid: 8 });
  assert.equal(spec.annotations, { 'org.example': 'x' });
  assert.equal(spec['org.toyrun.image'], { layers: ['layers/a.tar'] });
  assert.is(spec.root?.readonly, false);
  assert.not.ok(JSON.stringify(spec).includes('80/tcp'));
  const bare = specFromImage({ config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }, [], { uid: 0, gid: 0 });
  assert.equal(bare.process?.env, ['PATH=/bin']);
  assert.is(bare.process?.cwd, '/');
});

test('resolveUser: numbers, and names from the image /etc/passwd (top layer wins)', () => {
  const d = tmp();
  const low = writeTar(join(d, 'low.tar'), [{ path: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\napp:x:100:100::/:/bin/sh\n' }]);
  const high = writeTar(join(d, 'high.tar'), [
    { path: './etc/passwd', body: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n' },
    { path: './etc/group', body: 'root:x:0:\nstaff:x:50:\n' },
  ]);
  assert.is(fileFromLayers([low], 'etc/passwd')?.includes('app:x:100:'), true);
  assert.equal(resolveUser('', [low, high]), { uid: 0, gid: 0 });
  assert.equal(resolveUser('app', [low, high]), { uid: 1000, gid: 1001 });
  assert.equal(resolveUser('app:staff', [low, high]), { uid: 1000, gid: 50 });
  assert.equal(resolveUser('1000', [low, high]), { uid: 1000, gid: 1001 });
  assert.equal(resolveUser('42:43', [low, high]), { uid: 42, gid: 43 });
  assert.throws(() => resolveUser('nobody', [low, high]), /no user nobody/);
  assert.throws(() => resolveUser('app:wheel', [low, high]), /no group wheel/);
});

test.run();
