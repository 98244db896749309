// The CLI side of the resource commands (pause, resume, update, events):
// flag parsing only; the work is in pause.ts, update.ts and events.ts.
import { parseCommand, UsageError } from './cli';
import { flagLists, type CommandHandler } from './commands';
import { pauseContainer, resumeContainer } from './pause';
import { joinNegativeValues, mergeResources, readResourcesFile, resourcesFromFlags, updateContainer } from './update';
import { parseDuration, statsOnce, streamEvents } from './events';

function idOf(rest: string[], command: string): { id: string; a: ReturnType<typeof parseCommand> } {
  const f = flagLists(command);
  const a = parseCommand(rest, f.strings, f.booleans, f.alias);
  const id = a._[0];
  if (id === undefined || id === '') throw new UsageError(`${command}: container id is required`);
  return { id: String(id), a };
}

export const pauseCommand: CommandHandler = (ctx, rest) => {
  pauseContainer(ctx.root, idOf(rest, 'pause').id);
  return 0;
};

export const resumeCommand: CommandHandler = (ctx, rest) => {
  resumeContainer(ctx.root, idOf(rest, 'resume').id);
  return 0;
};

export const updateCommand: CommandHandler = (ctx, rest) => {
  const { id, a } = idOf(joinNegativeValues(rest, flagLists('update').strings), 'update');
  const file = a.resources as string | undefined;
  const fromFile = file !== undefined ? readResourcesFile(file) : {};
  const upd = mergeResources(fromFile, resourcesFromFlags(a));
  if (Object.keys(upd).length === 0) throw new UsageError('update: nothing to update (give --resources FILE|- or a flag such as --memory)');
  updateContainer(ctx.root, id, upd, file === undefined ? 'update flags' : file === '-' ? '<stdin>' : file);
  return 0;
};

export const eventsCommand: CommandHandler = (ctx, rest) => {
  const { id, a } = idOf(rest, 'events');
  if (a.stats === true) {
    ctx.out(statsOnce(ctx.root, id));
    return 0;
  }
  streamEvents(ctx.root, id, parseDuration(a.interval ?? '5s'));
  return 0;
};
