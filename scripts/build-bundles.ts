// The CLI's bundles and bin/toyrun (make runs this).
//
// Every toyrun command is a fresh process, and loading a bundle costs time in
// proportion to its size, used or not: the whole CLI is ~700 KB (the config
// schema's compiled validators alone are half), while `start` needs the state
// store, the lifecycle table and a FIFO. So next to the whole CLI
// (dist/toyrun.js) the hot commands get bundles of their own (dist/cli-<name>.js),
// built from the same entry (src/toyrun.ts) with every *other* command's module
// left out: the dispatch sites (src/cli.ts, src/commands.ts) require a command's
// module lazily, and this build leaves those requires, except the command's own,
// unresolved (external: a bundle of its own is only ever loaded for its own
// commands, so they are never reached). (A plugin module standing in for them
// instead made Bun pair the bundle with a bytecode cache that did not match it:
// the code ran wrong, silently.) bin/toyrun finds the command word the way the
// CLI does (commandWord, src/cli.ts, copied into the stub) and loads its bundle;
// any other command loads the whole CLI.
//
// Each bundle carries Bun's bytecode cache (.jsc beside it), which Bun uses only
// while the bundle is byte-identical to what it was built with.
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GLOBAL_VALUE_FLAGS, commandWord } from '../src/cli';

// Bun's bundler API, as much of it as this script uses (the project has no Bun typings).
interface ResolveArgs { path: string; importer: string; kind: string }
interface BunPlugin {
  name: string;
  setup(build: { onResolve(o: { filter: RegExp }, f: (a: ResolveArgs) => { path: string; external: boolean } | undefined): void }): void;
}
declare const Bun: {
  build(o: { entrypoints: string[]; target: 'bun'; format: 'cjs'; bytecode: boolean; external: string[]; outdir: string; plugins: BunPlugin[] }): Promise<{ success: boolean; logs: unknown[] }>;
};

const REPO = resolve(__dirname, '..');
const DIST = join(REPO, 'dist');
const EXTERNAL = ['koffi', 'tar', 'dbus-next'];

/** Bundles of their own: name → the module the dispatch requires for them (as
 * written at the require) and the commands they serve. */
const COMMAND_BUNDLES: { name: string; module: string; commands: string[] }[] = [
  { name: 'create', module: './create', commands: ['create'] },
  { name: 'run', module: './run', commands: ['run'] },
  { name: 'start', module: './start', commands: ['start'] },
  { name: 'query', module: './query', commands: ['state', 'list', 'ps'] },
  { name: 'kill', module: './kill', commands: ['kill'] },
  { name: 'delete', module: './delete', commands: ['delete'] },
  { name: 'exec', module: './exec', commands: ['exec'] },
  { name: 'resources', module: './resource-commands', commands: ['pause', 'resume', 'update', 'events'] },
];

const DISPATCH_SITES = new Set([join(REPO, 'src', 'cli.ts'), join(REPO, 'src', 'commands.ts')]);

/** Leaves out every command module the dispatch requires, except `keep`. */
function only(keep: string): BunPlugin {
  return {
    name: `only ${keep}`,
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (a) => {
        if (a.kind !== 'require-call' || !DISPATCH_SITES.has(a.importer) || a.path === keep) return undefined;
        return { path: a.path, external: true };
      });
    },
  };
}

async function bundle(out: string, plugins: BunPlugin[]): Promise<void> {
  const tmp = join(DIST, '.build');
  rmSync(tmp, { recursive: true, force: true });
  const r = await Bun.build({ entrypoints: [join(REPO, 'src', 'toyrun.ts')], target: 'bun', format: 'cjs', bytecode: true, external: EXTERNAL, outdir: tmp, plugins });
  if (!r.success) throw new AggregateError(r.logs, `bundling ${out}`);
  renameSync(join(tmp, 'toyrun.js.jsc'), join(DIST, `${out}.jsc`));
  renameSync(join(tmp, 'toyrun.js'), join(DIST, out));
  rmSync(tmp, { recursive: true, force: true });
}

async function main(): Promise<void> {
  await bundle('toyrun.js', []);
  for (const b of COMMAND_BUNDLES) await bundle(`cli-${b.name}.js`, [only(b.module)]);
  writeStub();
}

// bin/toyrun: the engine by absolute path (toyrun runs with an empty
// environment, no PATH, from any cwd), where the bundles are, and the bundle of
// the command.
function writeStub(): void {
  const bundleOf: Record<string, string> = {};
  for (const b of COMMAND_BUNDLES) for (const c of b.commands) bundleOf[c] = `cli-${b.name}.js`;
  const stub = [
    `#!${process.execPath}`,
    `const d = require("path").join(__dirname, "../dist"); globalThis.toyrunBundleDir = d;`,
    `const commandWord = ${commandWord.toString()};`,
    `const bundles = ${JSON.stringify(bundleOf)};`,
    `const word = commandWord(process.argv.slice(2), new Set(${JSON.stringify([...GLOBAL_VALUE_FLAGS])}));`,
    'require(d + "/" + (word !== undefined && Object.hasOwn(bundles, word) ? bundles[word] : "toyrun.js"));',
    '',
  ].join('\n');
  const bin = join(REPO, 'bin', 'toyrun');
  mkdirSync(join(REPO, 'bin'), { recursive: true }); // not in a fresh clone
  writeFileSync(`${bin}.tmp`, stub);
  chmodSync(`${bin}.tmp`, 0o755);
  renameSync(`${bin}.tmp`, bin);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
