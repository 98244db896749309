// linux.personality (runtime-spec 1.2+): the execution domain of the container's
// processes, through personality(2). It survives execve and is inherited, so it is
// set last thing before the exec. Only the two domains the spec lists are valid,
// and it defines no flags yet: any flag is refused rather than ignored.
import * as libc from './libc';
import type { Spec } from '../spec/types';

export const PERSONALITY_DOMAINS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

export function personalityProblems(spec: Spec): string[] {
  const p = spec.linux?.personality;
  if (!p) return [];
  const out: string[] = [];
  if (!(p.domain in PERSONALITY_DOMAINS)) out.push(`/linux/personality/domain must be one of ${Object.keys(PERSONALITY_DOMAINS).join(', ')}`);
  if (p.flags && p.flags.length > 0) out.push(`/linux/personality/flags: no flags are defined by the runtime spec (got ${p.flags.join(', ')})`);
  return out;
}

export function applyPersonality(p: { domain: string } | undefined): void {
  if (p) libc.personality(PERSONALITY_DOMAINS[p.domain] as number);
}
