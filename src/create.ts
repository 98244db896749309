// `toyrun create [flags] ID`: the command line of the create operation
// (src/container/create.ts): flags → CreateOptions → createContainer.
import { intFlag, parseFlags, requireId } from './cli';
import { imagePort, type CommandHandler } from './commands';
import { createContainer } from './container/create';

export const createCommand: CommandHandler = (ctx, rest) => {
  const a = parseFlags('create', rest);
  createContainer({
    root: ctx.root, id: requireId(a, 'create'), bundle: a.bundle, pidFile: a['pid-file'],
    preserveFds: intFlag(a['preserve-fds'], 'preserve-fds'), noPivot: a['no-pivot'] === true,
    consoleSocket: a['console-socket'], systemdCgroup: ctx.systemdCgroup, noNewKeyring: a['no-new-keyring'] === true,
    image: imagePort,
  });
  return 0;
};
