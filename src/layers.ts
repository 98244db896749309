// `toyrun layers [ls|prune]`: the layer store (src/image/layers.ts) listed or pruned.
import { flagLists, type CommandContext } from './commands';
import { parseCommand, UsageError } from './cli';
import { listLayers, pruneLayers } from './image/layers';

/** `toyrun layers [ls|prune]`. */
export function layersCommand(ctx: CommandContext, rest: string[]): number {
  const f = flagLists('layers');
  const a = parseCommand(rest, f.strings, f.booleans, f.alias);
  const sub = String(a._[0] ?? 'ls');
  if (sub === 'prune') {
    for (const d of pruneLayers(ctx.root)) ctx.out(`${d}\n`);
    return 0;
  }
  if (sub === 'ls' || sub === 'list') {
    const layers = listLayers(ctx.root);
    if (a.format === 'json') ctx.out(JSON.stringify(layers) + '\n');
    else if (a.quiet) ctx.out(layers.map((l) => `${l.digest}\n`).join(''));
    else {
      ctx.out('DIGEST                                                                   USERS\n');
      for (const l of layers) ctx.out(`${l.digest.padEnd(73)}${l.users.length > 0 ? l.users.join(', ') : '-'}\n`);
    }
    return 0;
  }
  throw new UsageError(`layers: unknown subcommand ${JSON.stringify(sub)} (ls or prune)`);
}

