import type { TraceRecord } from './record';
export function timelineSvg(recs: TraceRecord[]): string {
  return String(recs.length);
}
export function timelineHtml(recs: TraceRecord[]): string {
  return String(recs.length);
}
