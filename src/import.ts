// `toyrun import [--image NAME] ARCHIVE DIR`: flags → importImage (src/image/import.ts).
import { resolve } from 'node:path';
import { flagLists, type CommandContext } from './commands';
import { parseCommand, UsageError } from './cli';
import { importImage } from './image/import';

export function importCommand(_ctx: CommandContext, rest: string[]): number {
  const f = flagLists('import');
  const a = parseCommand(rest, f.strings, f.booleans, f.alias);
  const [archive, dir] = a._.map(String);
  if (!archive || !dir || a._.length > 2) throw new UsageError('usage: toyrun import [--image NAME] ARCHIVE DIR');
  importImage(resolve(archive), resolve(dir), a.image);
  return 0;
}
