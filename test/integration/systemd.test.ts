// --systemd-cgroup: the container's cgroup is a transient scope that systemd makes
// (StartTransientUnit over D-Bus, as runc does) and removes on delete. On a host
// booted by systemd (e.g. a default Debian 12) the unit, its properties and its
// cgroup are checked through systemctl and cgroupfs; on a host without systemd as
// PID 1 (the project's machines) the same command must fail with a clear error
// and leave nothing behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deadline, CGROUP2_MOUNT, CGROUP_V2, leftovers, SYSTEMD_BOOTED, TOYRUN, Toyrun, uniqueId, waitFor } from '../helpers';
import type { Spec } from '../../src/spec/types';

const t = new Toyrun('systemd');

function tryCreate(args: string[], id: string): { status: number | null; output: string } {
  const log = join(t.tempDir('toyrun-sd-log-'), 'out');
  const fd = openSync(log, 'w');
  try {
    t.track(id);
    const r = spawnSync(TOYRUN, ['--root', t.root, '--systemd-cgroup', ...args], { stdio: ['ignore', fd, fd], env: {}, cwd: '/', timeout: deadline(120000) });
    return { status: r.status, output: readFileSync(log, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

function bundle(args: string[], edit: (s: Spec) => void = () => undefined): string {
  return t.bundle((s) => {
    (s.process as NonNullable<Spec['process']>).args = args;
    edit(s);
  });
}

/** systemctl show UNIT -p ... as a record (LoadState=not-found once the unit is gone). */
function unitProps(unit: string, props: string[]): Record<string, string> {
  const r = spawnSync('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])], { encoding: 'utf8' });
  return Object.fromEntries(r.stdout.trim().split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

if (!SYSTEMD_BOOTED) {
  test('no systemd as PID 1: --systemd-cgroup fails with a clear error and leaves nothing behind (runc refuses too)', () => {
    const id = uniqueId('nosd');
    const r = tryCreate(['create', '--bundle', bundle(['true']), id], id);
    assert.is(r.status, 1, r.output);
    assert.match(r.output, /--systemd-cgroup: systemd is not running on this host \(no \/run\/systemd\/system\), cannot use the systemd cgroup manager/);
    assert.equal(leftovers(t, id), []);
    for (const d of [join('/sys/fs/cgroup', 'memory', 'system.slice', `toyrun-${id}.scope`), join(CGROUP2_MOUNT, 'system.slice', `toyrun-${id}.scope`)]) {
      assert.not.ok(existsSync(d), `no cgroup made in cgroupfs behind systemd's back: ${d}`);
    }
    const rc = spawnSync('runc', ['--root', join(t.root, 'runc'), '--systemd-cgroup', 'run', '--bundle', bundle(['true']), uniqueId('runc')], { encoding: 'utf8' });
    assert.is.not(rc.status, 0, 'runc refuses as well');
  });
} else {
  test('systemd: a transient scope with Delegate=yes and the limits as properties; delete stops it', () => {
    const id = uniqueId('sd');
    const unit = `tt-${id}.scope`;
    const b = bundle(['sleep', '1000'], (s) => {
      s.linux!.cgroupsPath = `toyrun-test.slice:tt:${id}`;
      s.linux!.resources = { memory: { limit: 64 << 20 }, pids: { limit: 20 }, cpu: { shares: 1024 } };
    });
    const c = tryCreate(['create', '--bundle', b, id], id);
    assert.is(c.status, 0, c.output);
    // systemd nests dashed slices: toyrun-test.slice lives in toyrun.slice
    const rel = `/toyrun.slice/toyrun-test.slice/${unit}`;
    const dir = CGROUP_V2 ? join('/sys/fs/cgroup', rel) : join('/sys/fs/cgroup', 'memory', rel);
    try {
      const p = unitProps(unit, ['ActiveState', 'Delegate', 'MemoryMax', 'TasksMax', 'ControlGroup', 'Slice']);
      assert.equal(p, { ActiveState: 'active', Delegate: 'yes', MemoryMax: String(64 << 20), TasksMax: '20', ControlGroup: rel, Slice: 'toyrun-test.slice' });
      const init = t.state(id).pid as number;
      assert.match(readFileSync(`/proc/${init}/cgroup`, 'utf8'), CGROUP_V2 ? `0::${rel}\n` : `:memory:${rel}\n`);
      if (CGROUP_V2) {
        assert.is(readFileSync(join(dir, 'memory.max'), 'utf8').trim(), String(64 << 20));
        assert.is(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '20');
      }
      t.ok(['start', id]);
      // a daemon-reload re-applies unit properties to the cgroup: ours survive it
      assert.is(spawnSync('systemctl', ['daemon-reload']).status, 0);
      if (CGROUP_V2) assert.is(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '20', 'TasksMax was set: daemon-reload keeps the limit');
      // update sets the unit's properties too
      t.ok(['update', '--pids-limit', '30', '--memory', '96m', id]);
      assert.equal(unitProps(unit, ['TasksMax', 'MemoryMax']), { TasksMax: '30', MemoryMax: String(96 << 20) });
      assert.is(spawnSync('systemctl', ['daemon-reload']).status, 0);
      if (CGROUP_V2) assert.is(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '30');
    } finally {
      t.ok(['--systemd-cgroup', 'delete', '--force', id]);
    }
    assert.is(unitProps(unit, ['LoadState']).LoadState, 'not-found', 'the unit is gone');
    assert.not.ok(existsSync(dir), 'systemd removed the scope\'s cgroup');
    assert.equal(leftovers(t, id), []);
  });

  test('systemd: no cgroupsPath gives system.slice/toyrun-<id>.scope; a failed create stops its unit', () => {
    const id = uniqueId('sdd');
    const r = t.run(['--systemd-cgroup', 'run', '--bundle', bundle(['cat', '/proc/self/cgroup']), id]);
    assert.is(r.status, 0, r.stderr);
    if (CGROUP_V2) assert.is(r.stdout.trim(), '0::/', 'its own cgroup namespace');
    assert.is(unitProps(`toyrun-${id}.scope`, ['LoadState']).LoadState, 'not-found', 'run deleted it');

    const bad = uniqueId('sdbad');
    const f = tryCreate(['create', '--bundle', bundle(['true'], (s) => (s.linux!.resources = CGROUP_V2 ? { network: { classID: 1 } } : { unified: { 'memory.high': '1' } })), bad], bad);
    assert.is(f.status, 1, f.output);
    assert.match(f.output, /not supported on cgroup v2|not on this host's cgroup2 hierarchy \(cgroup v1 host\)/);
    waitFor(() => unitProps(`toyrun-${bad}.scope`, ['LoadState']).LoadState === 'not-found', 'the unit of the failed create to go');
    assert.not.ok(existsSync(join(CGROUP2_MOUNT, 'system.slice', `toyrun-${bad}.scope`)));
    assert.equal(leftovers(t, bad), []);
  });

  test('systemd: a 1.3 pids limit of 0 stays 0 in the scope (systemd refuses TasksMax=0: the unit gets 1, never infinity)', () => {
    const id = uniqueId('sdp0');
    const unit = `toyrun-${id}.scope`;
    const b = bundle(['sh', '-c', 'echo started; /bin/true && echo forked; sleep 1000'], (s) => {
      s.ociVersion = '1.3.0';
      s.linux!.resources = { pids: { limit: 0 } };
    });
    const c = tryCreate(['create', '--bundle', b, id], id);
    assert.is(c.status, 0, c.output);
    const dir = CGROUP_V2 ? join('/sys/fs/cgroup', 'system.slice', unit) : join('/sys/fs/cgroup', 'pids', 'system.slice', unit);
    try {
      assert.is(unitProps(unit, ['TasksMax']).TasksMax, '1');
      assert.is(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '0');
      // the same check after an update that leaves pids alone and one that sets 0 again
      t.ok(['update', '--memory', '64m', id]);
      assert.is(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '0', 'update keeps the limit');
      assert.is(unitProps(unit, ['TasksMax']).TasksMax, '1');
    } finally {
      t.ok(['--systemd-cgroup', 'delete', '--force', id]);
    }
    const rid = uniqueId('sdp0r');
    t.track(rid);
    const r = t.run(['--systemd-cgroup', 'run', '--bundle', bundle(['sh', '-c', 'echo started; /bin/true && echo forked'], (s) => {
      s.ociVersion = '1.3.0';
      s.linux!.resources = { pids: { limit: 0 } };
    }), rid]);
    assert.match(r.stdout, 'started');
    assert.not.match(r.stdout, 'forked', 'no new task in the container');
    assert.match(r.stderr, "can't fork");
  });
}

test.after(() => t.cleanup());
test.run();
