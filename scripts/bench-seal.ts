// What sealing the runtime (src/linux/seal.ts) adds to each `create` and `exec`:
// the CLI's side (the read-only overlay made, then closed once the child holds it),
// timed alone, without a spawn. The child's side (the kernel freeing the mount when
// the last runtime process execve's) is inside the create/exec figures of bench.ts.
// Usage: bun scripts/bench-seal.ts [iterations]
import { sealRuntime } from '../src/linux/seal';

(globalThis as { toyrunBundleDir?: string }).toyrunBundleDir = `${__dirname}/../dist`;
const n = Number(process.argv[2] ?? 500);
sealRuntime().close(); // warm up: koffi, prototypes
const t0 = performance.now();
for (let i = 0; i < n; i++) sealRuntime().close();
const us = ((performance.now() - t0) * 1000) / n;
console.log(`engine sealing (read-only overlay of the install tree, per create/exec): ${us.toFixed(0)} µs, ${n} iterations`);
