// Commands beyond the core lifecycle register here (exec, pause, update, ...),
// each implemented in its own module; cli.ts dispatches to them.
import type { LogFormat } from './log';
import { execCommand } from './exec';

export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  systemdCgroup: boolean;
}

export interface CommandContext extends GlobalOptions {
  out(s: string): void;
}

export type CommandHandler = (ctx: CommandContext, rest: string[]) => number | Promise<number>;

export const commandTable: Record<string, CommandHandler> = {
  exec: execCommand,
};
