// `toyrun state ID`, `list [--format F] [--quiet]`, `ps [--format F] ID [PS-ARGS]`:
// the command lines of the read-only operations (src/container/query.ts).
import { parseFlags, psIdIndex, requireId } from './cli';
import type { CommandHandler } from './commands';
import { listText, psText, stateText } from './container/query';

export const stateCommand: CommandHandler = (ctx, rest) => {
  ctx.out(stateText(ctx.root, requireId(parseFlags('state', rest), 'state')));
  return 0;
};

export const listCommand: CommandHandler = (ctx, rest) => {
  const a = parseFlags('list', rest);
  ctx.out(listText(ctx.root, a.format ?? 'table', a.quiet === true));
  return 0;
};

export const psCommand: CommandHandler = (ctx, rest) => {
  // runc: `ps [--format F] ID [ps options]`; what follows the id is ps(1)'s (go-runc Top passes "-ef")
  const at = psIdIndex(rest);
  const a = parseFlags('ps', rest.slice(0, at + 1));
  const psArgs = rest.slice(at + 1).filter((x, i) => !(i === 0 && x === '--'));
  ctx.out(psText(ctx.root, requireId(a, 'ps'), a.format ?? 'table', [...(a['--'] ?? []).map(String), ...psArgs]));
  return 0;
};
