// What the host must be able to give a process: one check for `create`
// (process of config.json) and `exec` (the exec'd process), so the two cannot
// drift. Problems are refusals; warnings are logged and the process runs.
import { unavailableCapabilities, unraisableAmbient, unsupportedCapabilities } from '../linux/capabilities';
import { lsmProblems } from '../linux/lsm';
import { affinityProblems, schedulerProblems } from '../linux/sched';
import type { Process } from '../spec/types';

/** `at` is the JSON path of the process object ("/process" in config.json, "" for exec's). */
export function processHostProblems(p: Process | undefined, at: string): string[] {
  const problems: string[] = [];
  const missing = unsupportedCapabilities(p?.capabilities);
  if (missing.length > 0) problems.push(`${at}/capabilities: not supported by this kernel: ${missing.join(', ')}`);
  const unheld = unavailableCapabilities(p?.capabilities);
  if (unheld.length > 0) problems.push(`${at}/capabilities: not in toyrun's own bounding set, cannot be granted: ${unheld.join(', ')}`);
  problems.push(...lsmProblems(p, at));
  problems.push(...schedulerProblems(p?.scheduler, `${at}/scheduler`), ...affinityProblems(p?.execCPUAffinity, `${at}/execCPUAffinity`));
  return problems;
}

/** The runtime-spec: capabilities that cannot be granted are warned about, and
 * the process runs without them. An ambient capability needs to be permitted
 * and inheritable too (capabilities(7)); `runc spec`'s default lists ambient
 * without inheritable, and runc runs it with a warning. */
export function processHostWarnings(p: Process | undefined, at: string): string[] {
  const ambient = unraisableAmbient(p?.capabilities);
  return ambient.length === 0
    ? []
    : [`${at}/capabilities/ambient: not permitted and inheritable, cannot be raised (ignored): ${ambient.join(', ')}`];
}
