// The ENOSYS stub (src/linux/seccomp-enosys.ts), run through a small classic-BPF
// interpreter: every architecture's path, including i386 and x32 that this VM
// cannot call for real (the x86-64 path runs in test/integration/parity.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { enosysStub, highestNamedSyscalls, wantsEnosysStub } from '../../src/linux/seccomp-enosys';
import { seccompCacheKey } from '../../src/linux/seccomp-cache';
import type { Seccomp } from '../../src/spec/types';

const AUDIT_X86_64 = 0xc000003e, AUDIT_I386 = 0x40000003, AUDIT_AARCH64 = 0xc00000b7, SCMP_X32 = 0x4000003e;
const ENOSYS_RET = 0x00050026;

/** Run the stub on seccomp_data {nr, arch}: its return value, or 'filter' when it
 * falls through to libseccomp's program (appended after it). */
function run(stub: Buffer, nr: number, arch: number): number | 'filter' {
  const n = stub.length / 8;
  let pc = 0, acc = 0;
  for (let steps = 0; steps < 1000; steps++) {
    if (pc === n) return 'filter';
    assert.ok(pc >= 0 && pc < n, `pc ${pc} out of the stub`);
    const code = stub.readUInt16LE(pc * 8), jt = stub.readUInt8(pc * 8 + 2), jf = stub.readUInt8(pc * 8 + 3), k = stub.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x20: acc = k === 0 ? nr >>> 0 : k === 4 ? arch >>> 0 : NaN; break;
      case 0x15: pc += acc === k ? jt : jf; break;
      case 0x25: pc += acc > k ? jt : jf; break;
      case 0x45: pc += (acc & k) !== 0 ? jt : jf; break;
      case 0x05: pc += k; break;
      case 0x06: return k;
      default: throw new Error(`opcode ${code}`);
    }
  }
  throw new Error('loop');
}

test('stub: above each arch\'s highest named call ENOSYS, the rest to the filter; x32 by bit 30', () => {
  const stub = enosysStub(new Map([[AUDIT_X86_64, 231], [AUDIT_I386, 252], [SCMP_X32, 300], [AUDIT_AARCH64, 94]]));
  assert.is(run(stub, 232, AUDIT_X86_64), ENOSYS_RET);
  assert.is(run(stub, 435, AUDIT_X86_64), ENOSYS_RET);
  assert.is(run(stub, 231, AUDIT_X86_64), 'filter');
  assert.is(run(stub, 0, AUDIT_X86_64), 'filter');
  assert.is(run(stub, 0xffffffff, AUDIT_X86_64), ENOSYS_RET);
  assert.is(run(stub, 0x40000000 | 300, AUDIT_X86_64), 'filter', 'x32 compares against its own highest');
  assert.is(run(stub, 0x40000000 | 301, AUDIT_X86_64), ENOSYS_RET);
  assert.is(run(stub, 252, AUDIT_I386), 'filter');
  assert.is(run(stub, 253, AUDIT_I386), ENOSYS_RET);
  assert.is(run(stub, 95, AUDIT_AARCH64), ENOSYS_RET);
  assert.is(run(stub, 94, AUDIT_AARCH64), 'filter');
  assert.is(run(stub, 5000, 0x12345678), 'filter', 'an arch the profile lacks: libseccomp\'s bad-arch action decides');
});

test('stub: without x32 in the filter, x32 numbers are left to libseccomp', () => {
  const stub = enosysStub(new Map([[AUDIT_X86_64, 231]]));
  assert.is(run(stub, 0x40000000 | 5000, AUDIT_X86_64), 'filter');
  assert.is(run(stub, 5000, AUDIT_X86_64), ENOSYS_RET);
  assert.is(enosysStub(new Map()).length, 0);
});

test('when: refusing defaults other than ERRNO(ENOSYS); every rule\'s names count, per arch (libseccomp\'s tables)', () => {
  const p = (defaultAction: string, defaultErrnoRet?: number): Seccomp => ({ defaultAction, defaultErrnoRet });
  assert.ok(wantsEnosysStub(p('SCMP_ACT_ERRNO')));
  assert.ok(wantsEnosysStub(p('SCMP_ACT_ERRNO', 1)));
  assert.ok(wantsEnosysStub(p('SCMP_ACT_KILL_PROCESS')));
  assert.ok(wantsEnosysStub(p('SCMP_ACT_TRAP')));
  assert.not.ok(wantsEnosysStub(p('SCMP_ACT_ERRNO', 38)));
  assert.not.ok(wantsEnosysStub(p('SCMP_ACT_ALLOW')));
  assert.not.ok(wantsEnosysStub(p('SCMP_ACT_LOG')));
  assert.not.ok(wantsEnosysStub(p('SCMP_ACT_TRACE')));
  const profile: Seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['read', 'exit_group'], action: 'SCMP_ACT_ALLOW' }, { names: ['mkdir', 'no_such_call'], action: 'SCMP_ACT_ERRNO' }],
  };
  const max = highestNamedSyscalls(profile, [AUDIT_X86_64, AUDIT_I386, SCMP_X32]);
  assert.is(max.get(AUDIT_X86_64), 231); // exit_group
  assert.is(max.get(AUDIT_I386), 252); // exit_group on i386
  assert.is(max.get(SCMP_X32), 231, 'x32 numbers without bit 30');
});

test('cache key: names the stub version, so programs stored without it are not reused', () => {
  const key = seccompCacheKey({ defaultAction: 'SCMP_ACT_ERRNO' });
  if (key === undefined) return; // no libseccomp file here: no cache at all
  assert.match(key, /"enosysStub":1/);
});

test.run();
