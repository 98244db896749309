// The engine's JIT policy. bin/toyrun starts with JavaScriptCore's tier-up
// thresholds scaled up a hundredfold (Makefile: --compile-jit-policy): nearly
// every toyrun process lives for tens of milliseconds and runs most functions a
// handful of times, and compiling them cost more CPU than it saved (JIT worker
// threads were ~7% of a `run`'s samples; measured: run −8%, 100 parallel creates
// +15-20%). Work that runs long and hot asks for the normal policy first.
// Node, and Bun running the sources (the tests), keep their own.

/** Back to the engine's normal tier-up thresholds, for the rest of this process. */
export function normalJitPolicy(): void {
  (globalThis as { Bun?: { unsafe?: { setJITPolicy?(scale: number): void } } }).Bun?.unsafe?.setJITPolicy?.(1);
}
