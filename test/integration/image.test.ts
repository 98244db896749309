// Images and volumes on real containers: overlayfs roots stacked from layer
// archives, throw-away and persistent upper layers, whiteouts, the shared layer
// store (one unpack, hostile archives refused, prune), -v volumes, overlay
// entries in `mounts`, and `toyrun import` of images saved by podman.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BUSYBOX_ROOTFS, REPO, TOYRUN, Toyrun, leftovers, sh, uniqueId, type Result } from '../helpers';
import { writeTar, type RawEntry } from '../tarfile';
import { overlayMounts } from '../../src/linux/overlay';
import type { ImageRoot, Spec } from '../../src/spec/types';

const t = new Toyrun('image');
const test = suite('image');
const BASE = join(REPO, 'bundles', 'layered', 'layers', 'base.tar');
const podmanImages: string[] = [];
const extraRoots: Toyrun[] = [];

test.after(() => {
  t.cleanup();
  for (const r of extraRoots) r.cleanup();
  for (const img of podmanImages) sh('podman', ['rmi', '-f', img]);
});

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function storeDirs(root: string, sub: 'sha256' | 'tmp'): string[] {
  const d = join(root, '.layers', sub);
  return existsSync(d) ? readdirSync(d) : [];
}

/** A bundle whose root is an overlay of `layers` (bottom first). */
function layered(layers: string[], image: Partial<ImageRoot> = {}, fn: (s: Spec) => void = () => undefined, on: Toyrun = t): string {
  return on.bundle((s) => {
    s.root = { path: 'rootfs', readonly: false };
    s['org.toyrun.image'] = { layers, ...image };
    fn(s);
  });
}

function setScript(bundle: string, script: string): void {
  const file = join(bundle, 'config.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as Spec;
  (spec.process as NonNullable<Spec['process']>).args = ['sh', '-c', script];
  writeFileSync(file, JSON.stringify(spec));
}

/** `run` a script in the bundle, in a new container; returns its output. */
function runScript(bundle: string, script: string, id = uniqueId('img'), extra: string[] = [], on: Toyrun = t): Result {
  setScript(bundle, script);
  return on.run(['run', '--bundle', bundle, ...extra, id]);
}

/** A detached run: the container keeps toyrun's stdio, so give it a file, not our pipes. */
function runDetached(bundle: string, script: string, id: string, extra: string[] = []): void {
  setScript(bundle, script);
  const out = join(t.tempDir(), 'out');
  const fd = openSync(out, 'w');
  try {
    const r = t.run(['run', '--detach', '--bundle', bundle, ...extra, id], { stdio: ['ignore', fd, fd] });
    if (r.status !== 0) throw new Error(`run -d ${id}: ${readFileSync(out, 'utf8')}`);
  } finally {
    closeSync(fd);
  }
}

/** stderr with logrus' quoting undone (msg="..." is a JSON string). */
function errorText(r: Result): string {
  return r.stderr.split('\n').map((l) => {
    const m = /msg=("(?:[^"\\]|\\.)*")/.exec(l);
    return m ? (JSON.parse(m[1] as string) as string) : l;
  }).join('\n');
}

function waitFor(what: string, cond: () => boolean): void {
  const deadline = Date.now() + 30000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

test('throw-away upper: a file written in the container is gone after delete + recreate', () => {
  const b = layered([BASE]);
  const id = uniqueId('upper');
  runDetached(b, 'echo data > /root/.f; mv /root/.f /root/f; sleep 300', id);
  const upper = join(t.root, id, 'upper');
  // written under another name and renamed: seen here complete or not at all
  waitFor('/root/f in the upper layer', () => existsSync(join(upper, 'root', 'f')));
  assert.is(readFileSync(join(upper, 'root', 'f'), 'utf8'), 'data\n');
  assert.not.ok(existsSync(join(BUSYBOX_ROOTFS, 'root', 'f')), 'the lower layer is untouched');
  t.ok(['delete', '--force', id]);
  assert.not.ok(existsSync(upper), 'upper layer removed by delete');
  assert.equal(leftovers(t, id), []);
  // same bundle, same id: a fresh upper layer
  const r = runScript(b, 'cat /root/f 2>/dev/null || echo absent', id);
  assert.is(r.stdout, 'absent\n');
  assert.equal(leftovers(t, id), []);
});

test('root.readonly makes the overlay root read-only inside', () => {
  const r = runScript(layered([BASE], {}, (s) => {
    s.root!.readonly = true;
  }), 'touch /root/x 2>&1; echo rc=$?');
  assert.match(r.stdout, /Read-only file system\nrc=1\n$/);
});

test('persistent upper: the file is still there after delete + recreate, work dir removed', () => {
  const b = layered([BASE], { persistent: true });
  const id = uniqueId('persist');
  assert.is(runScript(b, 'echo kept > /root/f; echo ok', id).stdout, 'ok\n');
  assert.is(readFileSync(join(b, 'upper', 'root', 'f'), 'utf8'), 'kept\n');
  assert.not.ok(existsSync(join(b, 'upper.work')), 'overlayfs work dir removed');
  assert.equal(leftovers(t, id), []);
  assert.is(runScript(b, 'cat /root/f', id).stdout, 'kept\n');
  // upperDir elsewhere
  const b2 = layered([BASE], { persistent: true, upperDir: 'state/data' });
  runScript(b2, 'echo custom > /root/g');
  assert.is(runScript(b2, 'cat /root/g').stdout, 'custom\n');
  assert.ok(existsSync(join(b2, 'state', 'data', 'root', 'g')));
});

test('whiteouts: an upper layer hides a lower file; an opaque dir hides a lower dir', () => {
  // bundles/layered: the app layer adds /etc/motd and deletes /bin/wget
  const r = runScript(layered([BASE, join(REPO, 'bundles', 'layered', 'layers', 'app.tar')]),
    'cat /etc/motd; ls /bin/wget 2>&1; ls -l /bin/sh | grep -c busybox');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /hello from the app layer/);
  assert.match(r.stdout, /\/bin\/wget: No such file or directory/);
  assert.match(r.stdout, /\n1\n$/);

  const d = t.tempDir();
  const low = writeTar(join(d, 'low.tar'), [
    { path: 'opt/', type: 'Directory' }, { path: 'opt/a', body: 'a' }, { path: 'opt/b', body: 'b' },
    { path: 'srv/', type: 'Directory' }, { path: 'srv/keep', body: 'k' }, { path: 'srv/drop', body: 'd' },
  ]);
  const high = writeTar(join(d, 'high.tar.gz'), [
    { path: 'opt/', type: 'Directory' }, { path: 'opt/.wh..wh..opq' }, { path: 'opt/c', body: 'c' },
    { path: 'srv/.wh.drop' },
  ], true);
  const r2 = runScript(layered([BASE, low, high]), 'echo opt: $(ls /opt); echo srv: $(ls /srv)');
  assert.is(r2.stdout, 'opt: c\nsrv: keep\n');
  // a directory is a layer as it is (relative to the bundle, like archives)
  const b = layered([BASE, low, 'dirlayer']);
  mkdirSync(join(b, 'dirlayer', 'opt'), { recursive: true });
  writeFileSync(join(b, 'dirlayer', 'opt', 'fromdir'), 'd');
  assert.is(runScript(b, 'echo opt: $(ls /opt)').stdout, 'opt: a b fromdir\n');
  // a layer listed twice (images repeat empty layers): overlayfs would refuse it with ELOOP
  const empty = writeTar(join(d, 'empty.tar'), []);
  const r3 = runScript(layered([BASE, empty, low, empty, high, low]), 'echo opt: $(ls /opt); echo srv: $(ls /srv)');
  assert.is(r3.stdout, 'opt: a b c\nsrv: drop keep\n', r3.stderr);
});

test('two containers share one lower layer and do not see each other\'s writes', () => {
  const one = layered([BASE]), two = layered([BASE]);
  const a = uniqueId('shareA'), b = uniqueId('shareB');
  const script = (name: string): string =>
    `echo ${name} > /root/${name}; until [ -e /root/go ]; do sleep 0.05; done; echo $(ls /root) > /root/.seen; mv /root/.seen /root/seen; sleep 300`;
  runDetached(one, script('one'), a);
  runDetached(two, script('two'), b);
  const merged = (id: string): string => join(t.root, id, 'rootfs');
  waitFor('both containers to write', () => existsSync(join(merged(a), 'root', 'one')) && existsSync(join(merged(b), 'root', 'two')));
  // both overlays stacked on the very same store directory
  const hex = sha256(BASE);
  const ma = overlayMounts().find((m) => m.target === merged(a));
  const mb = overlayMounts().find((m) => m.target === merged(b));
  assert.equal(ma?.lowers, [join(t.root, '.layers', 'sha256', hex)]);
  assert.equal(mb?.lowers, ma?.lowers);
  for (const id of [a, b]) writeFileSync(join(merged(id), 'root', 'go'), '');
  waitFor('both containers to list /root', () => existsSync(join(merged(a), 'root', 'seen')) && existsSync(join(merged(b), 'root', 'seen')));
  assert.is(readFileSync(join(merged(a), 'root', 'seen'), 'utf8'), 'go one\n');
  assert.is(readFileSync(join(merged(b), 'root', 'seen'), 'utf8'), 'go two\n');
  // and the shared layer itself got none of it
  assert.not.ok(existsSync(join(t.root, '.layers', 'sha256', hex, 'root', 'one')));
  t.ok(['delete', '--force', a]);
  t.ok(['delete', '--force', b]);
  assert.equal(leftovers(t, a), []);
  assert.equal(leftovers(t, b), []);
});

test('concurrent creates of the same layer unpack it once', async () => {
  const r = new Toyrun('image-conc');
  extraRoots.push(r);
  const bundle = layered([BASE], {}, (s) => {
    s.process!.args = ['true'];
  }, r);
  const log = join(r.tempDir(), 'log');
  const ids = [uniqueId('conc'), uniqueId('conc'), uniqueId('conc')];
  const codes = await Promise.all(ids.map((id) => {
    r.track(id);
    return new Promise<number>((done) => {
      const p = spawn(TOYRUN, ['--root', r.root, '--debug', '--log', log, 'create', '--bundle', bundle, id], { stdio: 'ignore', env: {}, cwd: '/' });
      p.on('exit', (code) => done(code ?? -1));
    });
  }));
  assert.equal(codes, [0, 0, 0], readFileSync(log, 'utf8'));
  const unpacks = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('unpacked layer'));
  assert.is(unpacks.length, 1, unpacks.join('\n'));
  assert.equal(storeDirs(r.root, 'sha256'), [sha256(BASE)]);
  assert.equal(storeDirs(r.root, 'tmp'), []);
  for (const id of ids) {
    assert.is(r.state(id).status, 'created');
    r.ok(['delete', '--force', id]);
    assert.equal(leftovers(r, id), []);
  }
});

const HOSTILE: [string, RawEntry[], RegExp][] = [
  ['an absolute path', [{ path: '/etc/evil', body: 'x' }], /entry "\/etc\/evil": absolute path/],
  ['a ".." path', [{ path: 'a/../../evil', body: 'x' }], /entry "a\/..\/..\/evil": path contains ".."/],
  ['an escaping symlink', [{ path: 'esc', type: 'SymbolicLink', linkpath: '../../../../etc' }], /symlink to "..\/..\/..\/..\/etc" leads out of the layer/],
  ['an escaping hardlink', [{ path: 'h', type: 'Link', linkpath: '../../etc/shadow' }], /hardlink to "..\/..\/etc\/shadow" leads out of the layer/],
  ['a write through a symlink', [{ path: 'l', type: 'SymbolicLink', linkpath: '/tmp' }, { path: 'l/evil', body: 'x' }], /would be written through the symlink l/],
  ['a device node', [{ path: 'dev/', type: 'Directory' }, { path: 'dev/mem', type: 'CharacterDevice', devmaj: 1, devmin: 1 }], /device node 1:1/],
];

for (const [what, entries, why] of HOSTILE) {
  test(`a layer with ${what} is refused and leaves the store clean`, () => {
    const d = t.tempDir();
    // good entries first: a partial unpack must not survive either
    const archive = writeTar(join(d, 'evil.tar'), [{ path: 'ok/', type: 'Directory' }, { path: 'ok/file', body: 'fine' }, ...entries]);
    const id = uniqueId('hostile');
    const r = runScript(layered([BASE, archive]), 'echo should not run', id);
    assert.is.not(r.status, 0);
    assert.is(r.stdout, '');
    assert.match(errorText(r), /\/org\.toyrun\.image\/layers\/1: layer \S+evil\.tar: /);
    assert.match(errorText(r), why);
    assert.not.ok(storeDirs(t.root, 'sha256').includes(sha256(archive)), 'no layer under the archive digest');
    assert.equal(storeDirs(t.root, 'tmp'), [], 'no half-unpacked layer');
    assert.equal(leftovers(t, id), []);
    assert.not.ok(existsSync('/tmp/evil') || existsSync('/etc/evil'));
  });
}

test('bad image config: clear errors naming the JSON path, nothing left behind', () => {
  const cases: [Partial<ImageRoot> & { layers: string[] }, RegExp][] = [
    [{ layers: ['missing.tar'] }, /\/org\.toyrun\.image\/layers\/0: \S+missing\.tar does not exist/],
    [{ layers: [BASE], upperDir: 'up' }, /\/org\.toyrun\.image\/upperDir: only meaningful with "persistent": true/],
    [{ layers: [] }, /\/org\.toyrun\.image\/layers must NOT have fewer than 1 items/],
    [{ layers: [BASE], persistant: true } as ImageRoot, /\/org\.toyrun\.image\/persistant is not a known property/],
  ];
  for (const [image, why] of cases) {
    const id = uniqueId('badimg');
    const r = runScript(layered(image.layers, image), 'true', id);
    assert.is.not(r.status, 0);
    assert.match(errorText(r), why);
    assert.equal(leftovers(t, id), []);
  }
  // a persistent upper already mounted by a running container
  const b = layered([BASE], { persistent: true });
  const first = uniqueId('busyup');
  runDetached(b, 'sleep 300', first);
  const second = uniqueId('busyup');
  const r = runScript(b, 'true', second);
  assert.match(errorText(r), /\/org\.toyrun\.image\/upperDir: \S+\/upper is already the upper layer of the mount \S+/);
  assert.equal(leftovers(t, second), []);
  t.ok(['delete', '--force', first]);
  assert.ok(existsSync(join(b, 'upper')), 'a persistent upper survives delete');
});

test('a create that fails after the overlay is mounted unmounts it and keeps a persistent upper', () => {
  const id = uniqueId('failmount');
  const b = layered([BASE], {}, (s) => {
    s.process!.args = ['/no/such/program'];
  });
  const r = t.run(['run', '--bundle', b, id]);
  assert.is.not(r.status, 0);
  assert.match(errorText(r), /no\/such\/program/);
  assert.equal(leftovers(t, id), [], 'no state dir, mount or cgroup');
  const p = layered([BASE], { persistent: true }, (s) => {
    s.process!.args = ['/no/such/program'];
  });
  mkdirSync(join(p, 'upper', 'root'), { recursive: true });
  writeFileSync(join(p, 'upper', 'root', 'kept'), 'k');
  const id2 = uniqueId('failmount');
  assert.is.not(t.run(['run', '--bundle', p, id2]).status, 0);
  assert.equal(leftovers(t, id2), []);
  assert.is(readFileSync(join(p, 'upper', 'root', 'kept'), 'utf8'), 'k', 'the persistent upper is data: never removed');
  assert.not.ok(existsSync(join(p, 'upper.work')));
});

test('volumes: -v data outlives the container; :ro refuses writes; host dir created', () => {
  const host = join(t.tempDir(), 'vol', 'nested');
  const b = layered([BASE]);
  const first = uniqueId('vol');
  const r1 = runScript(b, 'echo persisted > /data/f; echo ok', first, ['-v', `${host}:/data`]);
  assert.is(r1.stdout, 'ok\n', r1.stderr);
  assert.is(readFileSync(join(host, 'f'), 'utf8'), 'persisted\n');
  assert.equal(leftovers(t, first), [], 'container, overlay and volume mounts gone');
  // while it runs: the root overlay is mounted on the host, the volume only in the container
  const running = uniqueId('vol');
  runDetached(b, 'touch /data/running; sleep 300', running, ['-v', `${host}:/data`]);
  waitFor('the volume write', () => existsSync(join(host, 'running')));
  const hostMounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(join(t.root, running)));
  assert.is(hostMounts.length, 1, hostMounts.join('\n'));
  assert.match(hostMounts[0] as string, / - overlay overlay /);
  t.ok(['delete', '--force', running]);
  assert.equal(leftovers(t, running), []);
  // the next container, from another bundle, sees it
  const r2 = runScript(layered([BASE]), 'cat /data/f', uniqueId('vol'), ['-v', `${host}:/data`]);
  assert.is(r2.stdout, 'persisted\n');
  // read-only
  const r3 = runScript(b, 'echo x > /data/g && echo wrote || echo refused; cat /data/f', uniqueId('vol'), ['-v', `${host}:/data:ro`]);
  assert.match(r3.stderr + r3.stdout, /Read-only file system/);
  assert.match(r3.stdout, /refused\npersisted\n/);
  assert.not.ok(existsSync(join(host, 'g')));
  // a volume over a directory of the image: mounted after (on top of) the overlay root
  writeFileSync(join(host, 'from-host'), 'h');
  const r4 = runScript(b, 'ls /etc', uniqueId('vol'), ['-v', `${host}:/etc`]);
  assert.is(r4.stdout, 'f\nfrom-host\nrunning\n');
  const r5 = runScript(b, 'ls /etc/passwd', uniqueId('vol'));
  assert.is(r5.stdout, '/etc/passwd\n', 'the image /etc is back once the volume is gone');
});

test('the standard way: a mounts entry of type overlay', () => {
  const d = t.tempDir();
  for (const sub of ['lower', 'upper', 'work']) mkdirSync(join(d, sub));
  writeFileSync(join(d, 'lower', 'low'), 'from lower\n');
  writeFileSync(join(d, 'lower', 'gone'), 'x');
  // on /home, which the busybox rootfs has: a missing mount point would be created in the shared rootfs
  const r = t.sh('cat /home/low; echo new > /home/new; rm /home/gone; ls /home', (s) => {
    s.mounts!.push({
      destination: '/home', type: 'overlay', source: 'overlay',
      options: [`lowerdir=${join(d, 'lower')}`, `upperdir=${join(d, 'upper')}`, `workdir=${join(d, 'work')}`],
    });
  });
  assert.is(r.stdout, 'from lower\nlow\nnew\n', r.stderr);
  assert.is(readFileSync(join(d, 'upper', 'new'), 'utf8'), 'new\n');
  assert.ok(lstatSync(join(d, 'upper', 'gone')).isCharacterDevice(), 'rm left an overlayfs whiteout in the upper dir');
  assert.ok(existsSync(join(d, 'lower', 'gone')), 'lower dir untouched');
});

test('layers ls / prune: a layer in use stays, an unused one goes', () => {
  const r = new Toyrun('image-prune');
  extraRoots.push(r);
  const bundle = layered([BASE], {}, (s) => {
    s.process!.args = ['true'];
  }, r);
  const id = uniqueId('prune');
  const out = join(r.tempDir(), 'out');
  const fd = openSync(out, 'w');
  r.ok(['create', '--bundle', bundle, id], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const hex = sha256(BASE);
  assert.match(r.ok(['layers', 'ls']).stdout, new RegExp(`sha256:${hex}\\s+container ${id}`));
  assert.is(r.ok(['layers', 'prune']).stdout, '');
  assert.equal(storeDirs(r.root, 'sha256'), [hex]);
  assert.not.match(r.ok(['list']).stdout, /\.layers/, 'the store is not a container');
  r.ok(['delete', id]);
  assert.is(r.ok(['layers', 'prune']).stdout, `sha256:${hex}\n`);
  assert.equal(storeDirs(r.root, 'sha256'), []);
  assert.is(r.ok(['layers', 'ls', '-q']).stdout, '');
});

test('bundles/layered runs with the README command', () => {
  const r = t.run(['run', '--bundle', join(REPO, 'bundles', 'layered'), uniqueId('readme')]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'hello from the app layer of bundles/layered\n/bin/wget: deleted by the app layer (whiteout)\nwritten by toyrun\n');
});

// ---- import ----------------------------------------------------------------------------------

/** A busybox image built locally (no registry here): podman import of the rootfs. */
function buildImage(): string {
  const d = t.tempDir();
  const rootfsTar = join(d, 'rootfs.tar');
  const tarred = sh('tar', ['-C', BUSYBOX_ROOTFS, '--numeric-owner', '-cf', rootfsTar, '.']);
  assert.is(tarred.status, 0, tarred.stderr);
  const name = `localhost/toyrun-import-test-${process.pid}:latest`;
  podmanImages.push(name);
  const r = sh('podman', [
    'import',
    '--change', 'ENTRYPOINT ["sh", "-c"]',
    '--change', 'CMD ["echo Cmd says hi from $(pwd) as $(id -u):$(id -g) with FOO=$FOO"]',
    '--change', 'ENV FOO=bar',
    '--change', 'WORKDIR /srv/app',
    '--change', 'USER nobody',
    '--change', 'LABEL org.example.flavour=plain',
    '--change', 'EXPOSE 8080',
    rootfsTar, name,
  ]);
  assert.is(r.status, 0, r.stderr);
  return name;
}

let image: string | undefined;
const EXPECTED = 'Cmd says hi from /srv/app as 65534:65534 with FOO=bar\n';

for (const format of ['docker-archive', 'oci-archive']) {
  test(`import of a podman save (${format}) runs and prints its Cmd's output`, () => {
    image ??= buildImage();
    const d = t.tempDir();
    const archive = join(d, 'image.tar');
    const saved = sh('podman', ['save', '-q', '--format', format, '-o', archive, image]);
    assert.is(saved.status, 0, saved.stderr);
    const bundle = join(d, 'bundle');
    t.ok(['import', archive, bundle]);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec;
    assert.equal(spec.annotations, { 'org.example.flavour': 'plain' });
    assert.not.match(JSON.stringify(spec), /8080/);
    const layers = spec['org.toyrun.image']?.layers ?? [];
    assert.is(layers.length, 1);
    assert.match(layers[0] as string, /^layers\/[0-9a-f]{64}\.tar(\.gz)?$/);
    assert.is(sha256(join(bundle, layers[0] as string)), (layers[0] as string).slice(7, 71), 'named by its digest');
    assert.equal(readdirSync(bundle).sort(), ['config.json', 'layers'], 'no staging left');
    const id = uniqueId('imported');
    const r = t.run(['run', '--bundle', bundle, id]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, EXPECTED);
    assert.equal(leftovers(t, id), []);
  });
}

test('import of an OCI layout directory hardlinks the layer blobs; bad input is refused', () => {
  image ??= buildImage();
  const d = t.tempDir();
  const archive = join(d, 'oci.tar');
  assert.is(sh('podman', ['save', '-q', '--format', 'oci-archive', '-o', archive, image]).status, 0);
  const layout = join(d, 'layout');
  mkdirSync(layout);
  assert.is(sh('tar', ['-C', layout, '-xf', archive]).status, 0);
  const bundle = join(d, 'bundle');
  t.ok(['import', layout, bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec;
  const layer = spec['org.toyrun.image']?.layers[0] as string;
  const blob = join(layout, 'blobs', 'sha256', layer.slice(7, 71));
  assert.is(lstatSync(join(bundle, layer)).ino, lstatSync(blob).ino, 'the bundle layer is the blob itself');
  assert.is(t.run(['run', '--bundle', bundle, uniqueId('imported')]).stdout, EXPECTED);

  const again = t.run(['import', layout, bundle]);
  assert.match(again.stderr, /config\.json exists/);
  const junk = writeTar(join(d, 'junk.tar'), [{ path: 'hello', body: 'x' }]);
  const bad = t.run(['import', junk, join(d, 'nope')]);
  assert.match(bad.stderr, /not an image archive/);
  assert.not.ok(existsSync(join(d, 'nope')), 'a failed import leaves no bundle dir');
  // a docker-archive whose manifest names a symlink to a host file: that file must not be moved
  const victim = join(d, 'victim');
  writeFileSync(victim, 'precious');
  const sneaky = writeTar(join(d, 'sneaky.tar'), [
    { path: 'manifest.json', body: JSON.stringify([{ Config: 'c.json', Layers: ['layer.tar'] }]) },
    { path: 'c.json', body: '{}' },
    { path: 'layer.tar', type: 'SymbolicLink', linkpath: victim },
  ]);
  assert.match(errorText(t.run(['import', sneaky, join(d, 'nope')])), /layer layer\.tar: points outside the archive/);
  assert.is(readFileSync(victim, 'utf8'), 'precious');
  assert.not.ok(existsSync(join(d, 'nope')));
  const evil = writeTar(join(d, 'evil.tar'), [{ path: '../evil', body: 'x' }]);
  assert.match(errorText(t.run(['import', evil, join(d, 'nope')])), /path contains "\.\."/);
});

test.run();
