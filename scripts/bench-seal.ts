// µs per iteration of the runtime sealing step alone (src/linux/seal.ts): the
// private mount namespace, the read-only binds and the way back, without a spawn.
// Usage: bun scripts/bench-seal.ts [iterations]
import { withSealedRuntime } from '../src/linux/seal';

(globalThis as { toyrunBundleDir?: string }).toyrunBundleDir = `${__dirname}/../dist`;
const n = Number(process.argv[2] ?? 1000);
withSealedRuntime(() => undefined); // warm up: koffi, prototypes
const t0 = performance.now();
for (let i = 0; i < n; i++) withSealedRuntime(() => undefined);
const us = ((performance.now() - t0) * 1000) / n;
console.log(`seal: ${us.toFixed(1)} µs/iteration over ${n} (${require('node:fs').readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length - 1} mounts)`);
