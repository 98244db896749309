// `toyrun start ID`: the command line of the start operation (src/container/start.ts).
import { parseFlags, requireId } from './cli';
import type { CommandHandler } from './commands';
import { startContainer } from './container/start';

export const startCommand: CommandHandler = (ctx, rest) => {
  startContainer(ctx.root, requireId(parseFlags('start', rest), 'start'));
  return 0;
};
