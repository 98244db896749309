import type { TraceRecord } from './record';
export function narrative(recs: TraceRecord[]): string {
  return recs.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
