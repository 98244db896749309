// `toyrun trace show [--svg|--html] FILE`: the narrative, or the timeline picture.
import { readFileSync } from 'node:fs';
import { commandSpec, type CommandContext } from '../commands';
import { UsageError } from '../cli';
import type { TraceRecord } from './record';
import { narrative } from './show';
import { timelineHtml, timelineSvg } from './svg';

export function readTrace(file: string): TraceRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`trace show: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const recs: TraceRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    try {
      recs.push(JSON.parse(line) as TraceRecord);
    } catch {
      throw new UsageError(`${file}:${i + 1}: not a trace line (JSON expected)`);
    }
  }
  return recs.sort((a, b) => a.t - b.t);
}

export function traceCommand(ctx: CommandContext, rest: string[]): number {
  const [sub, ...args] = rest;
  if (sub !== 'show') throw new UsageError('usage: toyrun trace show [--svg|--html] FILE');
  const known = new Set((commandSpec('trace')?.flags ?? []).map((f) => `--${f.name}`));
  const unknown = args.filter((a) => a.startsWith('--') && !known.has(a));
  if (unknown.length > 0) throw new UsageError(`trace show: unknown flag ${unknown[0]}`);
  const svg = args.includes('--svg'), html = args.includes('--html');
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length !== 1 || (svg && html)) throw new UsageError('usage: toyrun trace show [--svg|--html] FILE');
  const recs = readTrace(files[0] as string);
  ctx.out(svg ? timelineSvg(recs) : html ? timelineHtml(recs) : narrative(recs));
  return 0;
}
