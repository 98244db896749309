// `toyrun pause ID` / `toyrun resume ID`: the command lines of the pause and
// resume operations (src/container/pause.ts).
import { parseFlags, requireId } from './cli';
import type { CommandHandler } from './commands';
import { pauseContainer, resumeContainer } from './container/pause';

export const pauseCommand: CommandHandler = (ctx, rest) => {
  pauseContainer(ctx.root, requireId(parseFlags('pause', rest), 'pause'));
  return 0;
};

export const resumeCommand: CommandHandler = (ctx, rest) => {
  resumeContainer(ctx.root, requireId(parseFlags('resume', rest), 'resume'));
  return 0;
};
