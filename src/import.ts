import type { CommandContext } from './commands';
export function importCommand(_ctx: CommandContext, _rest: string[]): number {
  throw new Error('import: not yet');
}
