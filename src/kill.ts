// `toyrun kill [--all] ID [SIGNAL]`: the command line of the kill operation (src/container/kill.ts).
import { parseFlags, requireId } from './cli';
import type { CommandHandler } from './commands';
import { killContainer } from './container/kill';

export const killCommand: CommandHandler = (ctx, rest) => {
  const a = parseFlags('kill', rest);
  killContainer(ctx.root, requireId(a, 'kill'), a._[1] === undefined ? undefined : String(a._[1]), a.all === true);
  return 0;
};
