// `toyrun trace show --svg|--html FILE`: the trace as a timeline. One lane per
// process; its stages as coloured bars; every step a tick whose tooltip is the
// call; the start FIFO release, execve and failures as landmarks. Idle stretches
// (an init waiting for `start`) are squeezed so the busy parts stay readable.
import type { TraceRecord } from './record';
import { processLabel, stageGroups, stepText } from './show';
import { STAGE_NOTES } from './explain';

const LABEL_W = 200, PLOT_W = 1100, LANE_H = 104, TOP = 70, PAD = 16;
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#e15759', '#86bcb6', '#8cd17d', '#d4a6c8'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function colour(stage: string): string {
  let h = 0;
  for (const c of stage) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length] as string;
}

interface Gap { from: number; to: number }

/** time → x, with gaps longer than `cap` squeezed to `cap`. */
function scale(times: number[]): { x: (t: number) => number; gaps: Gap[] } {
  const ts = [...new Set(times)].sort((a, b) => a - b);
  const first = ts[0] ?? 0, total = (ts[ts.length - 1] ?? 0) - first || 1;
  const cap = Math.max(total / 40, 1);
  const gaps: Gap[] = [];
  for (let i = 1; i < ts.length; i++) {
    const a = ts[i - 1] as number, b = ts[i] as number;
    if (b - a > cap * 1.5) gaps.push({ from: a, to: b });
  }
  const virt = (t: number): number => {
    let v = t - first;
    for (const g of gaps) {
      if (t >= g.to) v -= g.to - g.from - cap;
      else if (t > g.from) v -= ((t - g.from) / (g.to - g.from)) * (g.to - g.from - cap);
    }
    return v;
  };
  const span = virt(ts[ts.length - 1] ?? first) || 1;
  return { x: (t) => LABEL_W + (virt(t) / span) * PLOT_W, gaps };
}

function isFifoRelease(r: TraceRecord): boolean {
  return r.kind === 'call' && r.role === 'cli' && r.call === 'openat' && r.result === 'ok' && /exec\.fifo", O_WRONLY/.test(r.args ?? '');
}

export function timelineSvg(recs: TraceRecord[]): string {
  const calls = recs.filter((r) => r.kind !== 'start');
  const lanes: TraceRecord[] = [];
  for (const r of recs) if (!lanes.some((l) => l.pid === r.pid)) lanes.push(r);
  const laneOf = new Map(lanes.map((l, i) => [l.pid, i]));
  const times = recs.flatMap((r) => [r.t, r.t + (r.dur ?? 0) / 1000]);
  const { x, gaps } = scale(times);
  const t0 = recs[0]?.t ?? 0;
  const laneY = (pid: number): number => TOP + (laneOf.get(pid) ?? 0) * LANE_H;
  const height = TOP + lanes.length * LANE_H + 80;
  const width = LABEL_W + PLOT_W + PAD * 2;
  const o: string[] = [];
  const cmds = [...new Set(recs.filter((r) => r.role === 'cli').map((r) => r.cmd))].join(', ');
  const totalMs = (recs[recs.length - 1]?.t ?? t0) - t0;
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" id="toyrun-trace" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  o.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  o.push(`<text x="${PAD}" y="24" font-size="17" font-weight="600" fill="#222">How a container is made: toyrun ${esc(cmds)}</text>`);
  o.push(`<text x="${PAD}" y="44" fill="#666">${calls.filter((r) => r.kind === 'call').length} steps asked of the kernel by ${lanes.length} processes in ${totalMs.toFixed(1)} ms · hover a bar or a tick for details · orange: a call that failed (often expected: a probe) · ≈ squeezed idle time</text>`);
  // squeezed gaps
  for (const g of gaps) {
    const a = x(g.from), b = x(g.to);
    o.push(`<g class="gap"><rect x="${a.toFixed(1)}" y="${TOP - 8}" width="${Math.max(b - a, 1).toFixed(1)}" height="${lanes.length * LANE_H}" fill="#f3f3f3"/>` +
      `<text x="${((a + b) / 2).toFixed(1)}" y="${TOP - 12}" text-anchor="middle" fill="#999" font-size="10">≈ ${(g.to - g.from).toFixed(0)} ms</text></g>`);
  }
  // lanes
  lanes.forEach((l) => {
    const y = laneY(l.pid);
    o.push(`<g class="lane" data-role="${esc(l.role)}" data-pid="${l.pid}">`);
    o.push(`<line x1="${LABEL_W}" y1="${y + LANE_H - 6}" x2="${LABEL_W + PLOT_W}" y2="${y + LANE_H - 6}" stroke="#e5e5e5"/>`);
    o.push(`<text class="lane-label" x="${PAD}" y="${y + 18}" font-weight="600" fill="#222">${esc(l.role === 'cli' ? `toyrun ${l.cmd ?? ''}` : l.role)}</text>`);
    o.push(`<text x="${PAD}" y="${y + 34}" fill="#777" font-size="11">pid ${l.pid}${l.role === 'init' ? ' (PID 1 inside)' : ''}</text>`);
    o.push('</g>');
  });
  // stage bars; a bar too narrow for its name gets it below the ticks, on one of two rows
  const callout = new Map<number, number[]>();
  for (const g of stageGroups(recs)) {
    const y = laneY(g.pid) + 4;
    const a = x(g.start), w = Math.max(x(g.end) - a, 2);
    const note = STAGE_NOTES[g.stage];
    const calloutText = (pid: number, bx: number, by: number, name: string): string => {
      // the first of three rows where the name fits after the previous one, else pushed right
      const ends = callout.get(pid) ?? [0, 0, 0];
      callout.set(pid, ends);
      let row = ends.findIndex((end) => bx >= end);
      if (row < 0) row = ends.indexOf(Math.min(...ends));
      const tx = Math.max(bx, ends[row] as number);
      ends[row] = tx + name.length * 5.6 + 6;
      const ty = by + 56 + row * 12;
      return `<polyline points="${bx.toFixed(1)},${by + 22} ${bx.toFixed(1)},${by + 44} ${tx.toFixed(1)},${ty - 9}" fill="none" stroke="${colour(name)}" stroke-width="0.8"/>` +
        `<text x="${tx.toFixed(1)}" y="${ty}" fill="${colour(name)}" font-size="10">${esc(name)}</text>`;
    };
    const tip = `${g.stage} — ${processLabel(g)}, +${(g.start - t0).toFixed(1)} ms, ${(g.end - g.start).toFixed(1)} ms, ${g.steps.length} steps${note ? `\n${note.why}\n${note.src}` : ''}`;
    o.push(`<g class="stage" data-stage="${esc(g.stage)}" data-pid="${g.pid}"><title>${esc(tip)}</title>` +
      `<rect x="${a.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="22" rx="3" fill="${colour(g.stage)}" fill-opacity="0.85"/>` +
      (w > g.stage.length * 6.2 + 6 ? `<text x="${(a + 4).toFixed(1)}" y="${y + 15}" fill="#fff" font-size="11">${esc(g.stage)}</text>` : '') +
      (w <= g.stage.length * 6.2 + 6 && g.steps.length > 0 ? calloutText(g.pid, a, y, g.stage) : '') + '</g>');
  }
  // steps
  for (const r of calls) {
    if (r.kind !== 'call' && r.kind !== 'error') continue;
    const y = laneY(r.pid) + 30;
    const failed = r.kind === 'error' || (r.result !== 'ok' && r.result !== 'pending');
    const tip = `+${(r.t - t0).toFixed(3)} ms  ${stepText(r)}${r.cause ? `\ncaused by ${r.cause}` : ''}${r.at ? `\nin ${r.at}` : ''}\nstage: ${r.stage}`;
    o.push(`<rect class="step${failed ? ' failed' : ''}" x="${(x(r.t) - 1).toFixed(1)}" y="${y}" width="3" height="${failed ? 22 : 16}" fill="${r.kind === 'error' ? '#d62728' : failed ? '#e8871e' : '#555'}" fill-opacity="${failed ? 1 : 0.55}"><title>${esc(tip)}</title></rect>`);
  }
  // landmarks
  let marks = 0;
  const mark = (t: number, label: string, cls: string, colourHex: string): void => {
    const lx = x(t);
    const row = marks++ % 3; // labels of close landmarks on separate rows
    o.push(`<g class="landmark ${cls}"><line x1="${lx.toFixed(1)}" y1="${TOP - 6}" x2="${lx.toFixed(1)}" y2="${TOP + lanes.length * LANE_H}" stroke="${colourHex}" stroke-width="1.5" stroke-dasharray="4 3"/>` +
      `<text x="${(lx + 3).toFixed(1)}" y="${TOP + lanes.length * LANE_H + 14 + row * 13}" fill="${colourHex}" font-size="11" font-weight="600">${esc(label)}</text></g>`);
  };
  for (const r of recs) {
    if (isFifoRelease(r)) mark(r.t, 'start: exec.fifo released', 'fifo-release', '#1f77b4');
    if (r.kind === 'call' && r.call === 'execve') mark(r.t, `execve ${(/^"([^"]*)"/.exec(r.args ?? '') ?? [])[1] ?? ''}${r.result === 'pending' ? '' : ` ✗ ${r.result ?? ''}`}`, 'execve', '#2ca02c');
    if (r.kind === 'error') mark(r.t, `✗ ${r.role}: ${(r.failed?.call ?? '')} ${r.failed?.result ?? ''}`.trim(), 'error', '#d62728');
  }
  // time axis
  const axisY = TOP + lanes.length * LANE_H + 62;
  for (let px = 0; px <= PLOT_W; px += 110) {
    // invert x numerically: find the time at this pixel
    let lo = t0, hi = recs[recs.length - 1]?.t ?? t0;
    for (let i = 0; i < 40; i++) {
      const mid = (lo + hi) / 2;
      if (x(mid) < LABEL_W + px) lo = mid;
      else hi = mid;
    }
    o.push(`<text x="${LABEL_W + px}" y="${axisY}" fill="#999" font-size="10" text-anchor="middle">+${(lo - t0).toFixed(0)} ms</text>`);
  }
  o.push('</svg>');
  return o.join('\n') + '\n';
}

export function timelineHtml(recs: TraceRecord[]): string {
  const groups = stageGroups(recs);
  const seen = new Set<string>();
  const items = groups.filter((g) => !seen.has(g.stage) && seen.add(g.stage)).map((g) => {
    const note = STAGE_NOTES[g.stage];
    return `<li><b style="color:${colour(g.stage)}">${esc(g.stage)}</b> <span class="who">${esc(processLabel(g))}</span>` +
      (note ? `<br>${esc(note.why)} <code>${esc(note.src)}</code>` : '') + '</li>';
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>toyrun trace</title>
<style>
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px; color: #222; background: #fafafa; }
.timeline { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; overflow-x: auto; }
.stage:hover rect { fill-opacity: 1; stroke: #222; }
.step:hover { fill: #000; fill-opacity: 1; }
ol { max-width: 1100px; line-height: 1.45; } li { margin-bottom: 8px; } .who { color: #777; font-size: 90%; }
code { font-size: 85%; color: #555; }
</style></head>
<body>
<div class="timeline">
${timelineSvg(recs)}</div>
<h2>The stages, in the order they began</h2>
<ol>
${items.join('\n')}
</ol>
</body></html>
`;
}
