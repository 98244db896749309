// µs per iteration of the runtime sealing step alone (src/linux/seal.ts), without
// a spawn: the private mount namespace, the read-only binds and the way back (what
// the CLI pays), then the release of that namespace (what the spawned child pays
// when it leaves it for the container's: an RCU grace period for its mounts).
// Usage: bun scripts/bench-seal.ts [iterations]
import { readFileSync } from 'node:fs';
import * as libc from '../src/linux/libc';
import { withSealedRuntime } from '../src/linux/seal';

(globalThis as { toyrunBundleDir?: string }).toyrunBundleDir = `${__dirname}/../dist`;
const n = Number(process.argv[2] ?? 1000);
// the fd stands for the child: it keeps the private namespace alive after we leave it
const sealOnce = (): number => withSealedRuntime(() => libc.openat(libc.AT_FDCWD, '/proc/self/ns/mnt', libc.O.RDONLY | libc.O.CLOEXEC));
libc.close(sealOnce()); // warm up: koffi, prototypes
let cli = 0, release = 0;
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const fd = sealOnce();
  const t1 = performance.now();
  libc.close(fd);
  release += performance.now() - t1;
  cli += t1 - t0;
}
const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length - 1;
console.log(`seal (CLI side): ${((cli * 1000) / n).toFixed(1)} µs/iteration; release of the namespace (child side): ${((release * 1000) / n).toFixed(1)} µs; ${n} iterations, ${mounts} mounts`);
