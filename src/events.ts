// `toyrun events ID [--stats] [--interval D]`: the command line of the events
// operation (src/container/events.ts).
import { parseCommand, requireId } from './cli';
import { flagLists, type CommandHandler } from './commands';
import { statsOnce, streamEvents } from './container/events';

/** Go durations as runc takes them: "5s", "100ms", "1m30s", "1.5s". */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0, matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (units[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length || total <= 0) throw new Error(`invalid --interval ${JSON.stringify(s)}: a duration such as 5s or 500ms`);
  return total;
}

export const eventsCommand: CommandHandler = (ctx, rest) => {
  const f = flagLists('events');
  const a = parseCommand(rest, f.strings, f.booleans, f.alias);
  const id = requireId(a, 'events');
  if (a.stats === true) {
    ctx.out(statsOnce(ctx.root, id));
    return 0;
  }
  streamEvents(ctx.root, id, parseDuration(a.interval ?? '5s'));
  return 0;
};
