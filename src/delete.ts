// `toyrun delete [--force] ID`: the command line of the delete operation (src/container/delete.ts).
import { parseFlags, requireId } from './cli';
import { imagePort, type CommandHandler } from './commands';
import { deleteContainer } from './container/delete';

export const deleteCommand: CommandHandler = (ctx, rest) => {
  const a = parseFlags('delete', rest);
  deleteContainer(ctx.root, requireId(a, 'delete'), a.force === true, imagePort);
  return 0;
};
