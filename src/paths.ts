// Where the bundles live. Bun's bundler replaces __dirname/__filename with the
// *source* paths, so a bundle cannot find its siblings by itself: bin/toyrun's
// stub records its own location; a bundle run directly (node dist/node/toyrun.js)
// sits in the directory of the script the engine was started with.
import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';

export function bundleDir(): string {
  const fromStub = (globalThis as { toyrunBundleDir?: string }).toyrunBundleDir;
  if (fromStub) return fromStub;
  return dirname(realpathSync(process.argv[1] ?? '.'));
}

/** The runtime processes toyrun starts: bin/toyrun's first argument under Bun
 * (src/main.ts), the bundle `dist/node/<role>.js` under Node. */
export const ROLES = ['init', 'exec-init', 'systemd-dbus'] as const;
export type Role = (typeof ROLES)[number];
export const INIT_ROLE: Role = 'init', EXEC_INIT_ROLE: Role = 'exec-init';

/** The install root: the directory holding dist/ and node_modules/ (the Node
 * bundles are one level deeper, in dist/node/). */
export function installRoot(): string {
  const bundles = bundleDir();
  return basename(bundles) === 'node' ? dirname(dirname(bundles)) : dirname(bundles);
}
