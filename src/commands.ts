// Commands beyond the core lifecycle register here (exec, pause, update, ...),
// each implemented in its own module; cli.ts dispatches to them.
import type { LogFormat } from './log';

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

export const commandTable: Record<string, CommandHandler> = {};

// resources (cgroups): pause/resume, update, events
import { eventsCommand, pauseCommand, resumeCommand, updateCommand } from './resource-commands';
commandTable.pause = pauseCommand;
commandTable.resume = resumeCommand;
commandTable.update = updateCommand;
commandTable.events = eventsCommand;
