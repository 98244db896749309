// Commands beyond the core lifecycle register here (exec, pause, update, ...),
// each implemented in its own module; cli.ts dispatches to them.
// Modules are required on dispatch, not imported: every toyrun command is a
// fresh process, and evaluating code it will not run is start-up time.
import type { LogFormat } from './log';

export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  systemdCgroup: boolean;
  /** --trace FILE: record every kernel-facing step (src/trace/record.ts). */
  trace?: string;
}

export interface CommandContext extends GlobalOptions {
  out(s: string): void;
}

export type CommandHandler = (ctx: CommandContext, rest: string[]) => number | Promise<number>;

export const commandTable: Record<string, CommandHandler> = {
  trace: (ctx, rest) => (require('./trace/command') as typeof import('./trace/command')).traceCommand(ctx, rest),
  layers: (ctx, rest) => (require('./layers') as typeof import('./layers')).layersCommand(ctx, rest),
  import: (ctx, rest) => (require('./import') as typeof import('./import')).importCommand(ctx, rest),
  exec: (ctx, rest) => (require('./exec') as typeof import('./exec')).execCommand(ctx, rest),
  // resources (cgroups)
  pause: (ctx, rest) => (require('./resource-commands') as typeof import('./resource-commands')).pauseCommand(ctx, rest),
  resume: (ctx, rest) => (require('./resource-commands') as typeof import('./resource-commands')).resumeCommand(ctx, rest),
  update: (ctx, rest) => (require('./resource-commands') as typeof import('./resource-commands')).updateCommand(ctx, rest),
  events: (ctx, rest) => (require('./resource-commands') as typeof import('./resource-commands')).eventsCommand(ctx, rest),
};
