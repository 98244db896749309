// `toyrun trace show FILE`: the trace as a story. Steps are grouped by process and
// stage (each group a numbered chapter, in the order they began), each chapter says
// in one sentence why the kernel is asked that, and where the code is.
import type { TraceRecord } from './record';
import { roleSource, STAGE_NOTES } from './explain';

export interface StageGroup {
  pid: number;
  role: string;
  stage: string;
  start: number;
  end: number;
  steps: TraceRecord[];
}

/** Each process's records cut into runs of one stage, ordered by when each run began. */
export function stageGroups(recs: TraceRecord[]): StageGroup[] {
  const groups: StageGroup[] = [];
  const open = new Map<number, StageGroup>();
  for (const r of recs) {
    if (r.kind === 'start' || r.kind === 'end') continue;
    let g = open.get(r.pid);
    if (!g || g.stage !== r.stage) {
      g = { pid: r.pid, role: r.role, stage: r.stage, start: r.t, end: r.t, steps: [] };
      open.set(r.pid, g);
      groups.push(g);
    }
    if (r.kind !== 'stage') g.steps.push(r);
    g.end = Math.max(g.end, r.t + (r.dur ?? 0) / 1000);
  }
  return groups.sort((a, b) => a.start - b.start);
}

export function processLabel(r: { role: string; pid: number; cmd?: string }): string {
  return r.role === 'cli' ? `toyrun ${r.cmd ?? ''} (pid ${r.pid})`.replace('  ', ' ') : `${r.role} (pid ${r.pid})`;
}

export function stepText(r: TraceRecord): string {
  if (r.kind === 'error') return `✗ failed: ${r.msg ?? ''}`;
  const result = r.result === 'ok' ? (r.ret !== undefined ? `= ${r.ret}` : 'ok') : r.result === 'pending' ? '(no return: the program replaces the runtime)' : `✗ ${r.result ?? ''}`;
  return `${r.call ?? ''}(${r.args ?? ''}) ${result}`;
}

function ms(t: number): string {
  return `+${t.toFixed(1)} ms`.padStart(11);
}

/** Runs of more than 3 steps with the same call, result and cause, told once. */
function collapse(steps: TraceRecord[]): (TraceRecord | { more: number; call: string })[] {
  const out: (TraceRecord | { more: number; call: string })[] = [];
  for (let i = 0; i < steps.length;) {
    const s = steps[i] as TraceRecord;
    let j = i + 1;
    while (j < steps.length && steps[j]?.call === s.call && steps[j]?.result === s.result && steps[j]?.cause === s.cause && steps[j]?.kind === s.kind) j++;
    const n = j - i;
    if (n > 3) out.push(...steps.slice(i, i + 2), { more: n - 2, call: s.call ?? '' });
    else out.push(...steps.slice(i, j));
    i = j;
  }
  return out;
}

export function narrative(recs: TraceRecord[]): string {
  if (recs.length === 0) return 'empty trace\n';
  const t0 = (recs[0] as TraceRecord).t;
  const procs = new Map<number, TraceRecord>();
  for (const r of recs) if (!procs.has(r.pid)) procs.set(r.pid, r);
  const cmds = [...new Set(recs.filter((r) => r.role === 'cli').map((r) => r.cmd))].join(', ');
  const calls = recs.filter((r) => r.kind === 'call').length;
  const last = recs[recs.length - 1] as TraceRecord;
  const lines: string[] = [
    `What toyrun asked the kernel: ${cmds || 'a command'} — ${calls} steps by ${procs.size} processes in ${(last.t - t0).toFixed(1)} ms`,
    `processes: ${[...procs.values()].map(processLabel).join(', ')}`,
    '',
  ];
  stageGroups(recs).forEach((g, i) => {
    const note = STAGE_NOTES[g.stage];
    lines.push(`${i + 1}. ${g.stage || '(before the first stage)'} — ${processLabel({ role: g.role, pid: g.pid, cmd: procs.get(g.pid)?.cmd })}, ${ms(g.start - t0).trim()}, ${(g.end - g.start).toFixed(1)} ms`);
    if (g.steps.length === 0) {
      lines.push('   (nothing asked of the kernel here: the config does not ask for it)', '');
      return;
    }
    if (note) {
      lines.push(`   Why: ${note.why}`);
      lines.push(`   Code: ${note.src.startsWith('src/') ? note.src : `${roleSource(g.role)} ${note.src}`}`);
    }
    for (const s of collapse(g.steps)) {
      if ('more' in s) {
        lines.push(`   ${' '.repeat(11)}  … and ${s.more} more ${s.call} like it`);
        continue;
      }
      const why = [s.cause ? `← ${s.cause}` : '', s.at ? `[${s.at}]` : ''].filter(Boolean).join(' ');
      lines.push(`   ${ms(s.t - t0)}  ${stepText(s)}${why ? `   ${why}` : ''}`);
      if (s.kind === 'error' && s.failed) lines.push(`   ${' '.repeat(11)}  the failing step: ${stepText(s.failed)}${s.failed.cause ? ` ← ${s.failed.cause}` : ''}`);
    }
    lines.push('');
  });
  for (const e of recs.filter((r) => r.kind === 'end')) {
    lines.push(`toyrun ${e.cmd ?? ''} exited with ${e.code ?? '?'}${e.failed ? `: the step that failed was ${stepText(e.failed)} in ${processLabel(e.failed)}, stage "${e.failed.stage}"${e.failed.cause ? `, caused by ${e.failed.cause}` : ''}` : ''}`);
  }
  return lines.join('\n') + '\n';
}
