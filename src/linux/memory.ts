// An init blocked on exec.fifo may wait for hours. Most of its RSS is pages of
// the engine binary and libraries: clean, file-backed, shared with the page
// cache. Dropping our mappings of them (MADV_DONTNEED) returns them to the
// page cache; touching them again after `start` refaults identical contents.
// Only mappings with no anonymous (copy-on-write) pages qualify: DONTNEED on a
// written private page would discard the write (relocated GOTs, .data).
import { readFileSync } from 'node:fs';
import * as libc from './libc';

const MADV_DONTNEED = 4;

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  anonymousKiB: number;
}

export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: BigInt('0x' + head[1]), end: BigInt('0x' + head[2]), perms: head[3] as string, path: head[4] ?? '', anonymousKiB: 0 };
      out.push(cur);
    } else if (cur && line.startsWith('Anonymous:')) {
      cur.anonymousKiB = Number(line.split(/\s+/)[1]);
    }
  }
  return out;
}

/** Drop clean, read-only, file-backed mappings from this process's page tables. */
export function dropCleanFileMappings(): void {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return; // a container without /proc: only an optimisation is lost
  }
  for (const m of parseSmaps(smaps)) {
    if (!m.path.startsWith('/') || m.perms[1] !== '-' || m.perms[3] !== 'p' || m.anonymousKiB !== 0) continue;
    try {
      libc.rawSyscall(28 /* madvise */, 'uint64_t', m.start, 'size_t', m.end - m.start, 'int', MADV_DONTNEED);
    } catch {
      // a mapping that changed under us: leave it
    }
  }
}
