// Where the engine bundles (init.js, exec-init.js) live: beside the CLI bundle
// (dist/ for Bun, dist/node/ for Node). Bun's bundler inlines __dirname of
// lazily required modules as their *source* directory (src/), and Bun would
// then quietly run src/init.ts from source: so the bundle is found from the
// script that was started, argv[1] (dist/node/toyrun.js, or the bin/toyrun stub
// whose bundle is ../dist/toyrun.js), and only an existing file is taken.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function bundleFile(name: string): string {
  const script = process.argv[1];
  const candidates = script ? [join(dirname(script), name), join(dirname(script), '..', 'dist', name)] : [];
  candidates.push(join(__dirname, name));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`engine bundle ${name} not found (looked in ${candidates.join(', ')}): run make`);
  return found;
}
