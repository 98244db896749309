// Where the engine bundles (init.js, exec-init.js) live: beside the CLI bundle
// (dist/ for Bun, dist/node/ for Node). Bun's node-target bundler inlines
// __dirname of lazily required modules as their *source* directory, so under
// Node the CLI script's own directory (argv[1]) is the one to trust.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function bundleFile(name: string): string {
  const candidates = [join(__dirname, name)];
  if (process.argv[1]) candidates.push(join(dirname(process.argv[1]), name));
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}
