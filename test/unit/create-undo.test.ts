// create's undo order (src/container/create.ts, src/container/undo.ts), with a
// fake launcher and a fake cgroup driver: each step fails in turn, and what create
// had acquired must be released in reverse — the init (spawned first, without a
// user namespace) killed before its cgroup (a populated cgroup can't be removed)
// and before the image is unmounted, the image unmounted before the state dir
// that holds it is removed, the state dir last — and nothing left: no state dir,
// no process, no cgroup, no mount, no open fd. (Real-kernel leftovers of failed
// creates: test/integration/failures.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContainer, type CreateEnv } from '../../src/container/create';
import type { ImageMount, ImagePort } from '../../src/container/image-port';
import { UndoStack } from '../../src/container/undo';
import { claimContainerDir, containerDir } from '../../src/container/store';
import type { CgroupDriver, CgroupRecord } from '../../src/linux/cgroups/types';
import type { SyncChannel } from '../../src/process/channel';
import type { Launched } from '../../src/process/launch';
import { ChildError } from '../../src/process/protocol';
import { configureLog } from '../../src/log';
import * as libc from '../../src/linux/libc';
import type { Spec } from '../../src/spec/types';

test('UndoStack releases last-acquired first, and a failing release does not stop the rest', () => {
  const undo = new UndoStack();
  const ran: string[] = [];
  undo.push('a', () => ran.push('a'));
  undo.push('b', () => {
    ran.push('b');
    throw new Error('EBUSY');
  });
  undo.push('c', () => ran.push('c'));
  const failed: string[] = [];
  assert.equal(undo.unwind((name, e) => failed.push(`${name}: ${(e as Error).message}`)), ['c', 'b', 'a']);
  assert.equal(ran, ['c', 'b', 'a']);
  assert.equal(failed, ['b: EBUSY']);
  assert.equal(undo.unwind(() => undefined), [], 'a second unwind releases nothing twice');
});

/** Where each step of a create can fail, in the order create reaches them. */
const STEPS = ['launch', 'image mount', 'cgroup create', 'cgroup apply', 'devices', 'createRuntime', 'ready', 'pid file'] as const;
type Step = (typeof STEPS)[number];

/** What each failure must release, in this order (the names create's UndoStack uses). */
const RELEASED: Record<Step, string[]> = {
  launch: ['state dir'],
  'image mount': ['init', 'state dir'],
  'cgroup create': ['image mount', 'init', 'state dir'],
  'cgroup apply': ['cgroup', 'image mount', 'init', 'state dir'],
  devices: ['cgroup', 'image mount', 'init', 'state dir'],
  createRuntime: ['cgroup', 'image mount', 'init', 'state dir'],
  ready: ['cgroup', 'image mount', 'init', 'state dir'],
  'pid file': ['cgroup', 'image mount', 'init', 'state dir'],
};

/** A real process stands in for the init (create must kill it); posix_spawn
 * leaves no engine-side handle open, so an fd count can tell what create leaked. */
function fakeInit(): number {
  return libc.posixSpawn('/bin/sleep', ['sleep', '600'], [], [], '/');
}

function reap(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    libc.kill(pid, 9);
  } catch {
    // gone
  }
  try {
    libc.waitpid(pid, 0);
  } catch {
    // reaped
  }
}

/** Our open fds, but the grace period's write to our own cgroup.procs: its
 * worker closes that fd from the event loop, which a synchronous test never yields to. */
function openFds(): string[] {
  return readdirSync('/proc/self/fd').map((f) => {
    try {
      return readlinkSync(`/proc/self/fd/${f}`);
    } catch {
      return ''; // the directory listing's own fd
    }
  }).filter((l) => l !== '' && !l.endsWith('/cgroup.procs')).sort();
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const spec = (): Spec => ({
  ociVersion: '1.0.2',
  root: { path: 'rootfs' },
  process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  'org.toyrun.image': { layers: ['layer'] },
} as Spec);

for (const failAt of STEPS) {
  test(`create failing at "${failAt}": released ${RELEASED[failAt].join(' → ')}, nothing left`, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'toyrun-undo-'));
    const root = join(tmp, 'root');
    const bundle = join(tmp, 'bundle');
    mkdirSync(join(bundle, 'layer'), { recursive: true });
    const log = join(tmp, 'log');
    configureLog({ file: log, format: 'text', debug: true });
    const id = `undo-${STEPS.indexOf(failAt)}`;
    const dir = containerDir(root, id);
    // what the fakes saw when each thing was released
    const seen: string[] = [];
    let init: number | undefined;
    let mounted = false, cgroupMade = false;
    const world = (): string => `init ${init !== undefined && alive(init) ? 'alive' : 'dead'}, image ${mounted ? 'mounted' : 'unmounted'}, cgroup ${cgroupMade ? 'made' : 'gone'}, state dir ${existsSync(dir) ? 'present' : 'gone'}`;
    const fail = (step: Step): void => {
      if (step === failAt) throw new Error(`injected failure at ${step}`);
    };

    const image: ImagePort = {
      problems: () => [],
      mount: (_r, stateDir) => {
        fail('image mount');
        mounted = true;
        return { target: join(stateDir, 'rootfs'), upper: '', work: '', persistent: false } as ImageMount;
      },
      proven: (_d, m) => ({ mount: m, doubts: [] }),
      unmount: () => {
        seen.push(`image unmount: ${world()}`);
        mounted = false;
      },
    };
    const planned = { fake: join(tmp, 'cgroup') };
    const driver = {
      version: 1,
      plannedDirs: () => planned,
      create: (): CgroupRecord => {
        fail('cgroup create');
        cgroupMade = true;
        return { version: 1, paths: planned };
      },
      apply: () => fail('cgroup apply'),
      applyDevices: () => fail('devices'),
      joinFiles: () => ({ byParent: [], bySelf: [] }),
      destroy: () => {
        seen.push(`cgroup destroy: ${world()}`);
        cgroupMade = false;
      },
    } as unknown as CgroupDriver;
    const env: CreateEnv = {
      cgroups: () => driver,
      launch: (): Launched => {
        fail('launch');
        init = fakeInit();
        const chan = {
          send: () => undefined,
          expect: (type: string) => {
            if (type === failAt) throw new ChildError(`injected failure at ${type}`);
            return type === 'ready' ? { type, stages: [] } : { type };
          },
          close: () => undefined,
        } as unknown as SyncChannel;
        return { pid: init, chan, fds: {} };
      },
    };
    const fdsBefore = openFds();
    try {
      assert.throws(() => createContainer({
        root, id, bundle, preserveFds: 0, noPivot: false, systemdCgroup: false, spec: spec(), image: () => image,
        pidFile: failAt === 'pid file' ? join(tmp, 'no-such-dir', 'pid') : join(tmp, 'pid'),
      }, env));
      const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('create failed: released'));
      assert.ok(line, 'create logs what it released');
      assert.equal(/released ([^"]*)/.exec(line as string)?.[1]?.split(', '), RELEASED[failAt]);
      // the order, as the world looked at each release
      const expectSeen: string[] = [];
      if (RELEASED[failAt].includes('cgroup')) expectSeen.push('cgroup destroy: init dead, image mounted, cgroup made, state dir present');
      if (RELEASED[failAt].includes('image mount')) expectSeen.push(`image unmount: init dead, image mounted, cgroup gone, state dir present`);
      assert.equal(seen, expectSeen);
      // nothing left
      assert.equal(world(), 'init dead, image unmounted, cgroup gone, state dir gone');
      assert.not.ok(existsSync(join(tmp, 'pid')));
      assert.equal(openFds(), fdsBefore, 'no fd left open (the lock, the channel, the trees)');
      claimContainerDir(root, id); // the id is free again
    } finally {
      reap(init);
      configureLog({ file: undefined, debug: false });
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

test('a create that succeeds releases nothing, and leaves the init to start', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'toyrun-undo-'));
  let init: number | undefined;
  try {
    mkdirSync(join(tmp, 'bundle', 'rootfs'), { recursive: true });
    writeFileSync(join(tmp, 'bundle', 'config.json'), '{}');
    let destroyed = false;
    const driver = {
      version: 1,
      plannedDirs: () => ({}),
      create: (): CgroupRecord => ({ version: 1, paths: {} }),
      apply: () => undefined,
      applyDevices: () => undefined,
      joinFiles: () => ({ byParent: [], bySelf: [] }),
      destroy: () => {
        destroyed = true;
      },
    } as unknown as CgroupDriver;
    const s = spec();
    delete s['org.toyrun.image'];
    const created = createContainer({ root: join(tmp, 'root'), id: 'ok', bundle: join(tmp, 'bundle'), preserveFds: 0, noPivot: false, systemdCgroup: false, spec: s, image: () => assert.unreachable('no image') as never }, {
      cgroups: () => driver,
      launch: () => {
        init = fakeInit();
        const chan = { send: () => undefined, expect: (type: string) => (type === 'ready' ? { type, stages: [] } : { type }), close: () => undefined } as unknown as SyncChannel;
        return { pid: init, chan, fds: {} };
      },
    });
    assert.is(created.rec.pid, init);
    assert.ok(init !== undefined && alive(init));
    assert.not.ok(destroyed);
    assert.ok(existsSync(join(created.dir, 'state.json')));
  } finally {
    reap(init);
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
