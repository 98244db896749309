// Validation of config.json and exec process files: the precompiled JSON schema
// (schema/config.schema.json) first, then the rules a schema can't express.
import { posix } from 'node:path';
import type { AjvError, Validator } from './generated/validators';

/** The generated validators are ~250 KB of code: load them only when validating. */
function validators(): typeof import('./generated/validators') {
  return require('./generated/validators') as typeof import('./generated/validators');
}
import type { Spec, Process } from './types';

export class ValidationError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.join('; ')}`);
  }
}

/** One line per ajv error: JSON pointer of the value, then what was expected. */
export function describeAjvError(e: AjvError): string {
  const at = e.instancePath === '' ? '/' : e.instancePath;
  const p = e.params;
  switch (e.keyword) {
    case 'enum':
      return `${at} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'required':
      return `${at === '/' ? '' : at}/${String(p.missingProperty)} is required`;
    case 'type':
      return `${at} must be ${String(p.type)}`;
    case 'pattern':
      return `${at} must match ${String(p.pattern)}`;
    case 'additionalProperties':
      return `${at === '/' ? '' : at}/${String(p.additionalProperty)} is not a known property`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

function run(validator: Validator, data: unknown, file: string): void {
  if (validator(data)) return;
  const problems = [...new Set((validator.errors ?? []).map(describeAjvError))];
  throw new ValidationError(file, problems);
}

const NAMESPACE_FLAGS = new Set(['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time']);

/** Semantic rules beyond the schema (the spec's MUSTs that are not shapes). */
function semanticProblems(spec: Spec): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  (spec.linux?.namespaces ?? []).forEach((ns, i) => {
    if (!NAMESPACE_FLAGS.has(ns.type)) return;
    if (seen.has(ns.type)) problems.push(`/linux/namespaces/${i}/type "${ns.type}" appears more than once`);
    seen.add(ns.type);
  });
  if (spec.hostname !== undefined && spec.hostname !== '' && !seen.has('uts')) {
    problems.push('/hostname can only be set with a new uts namespace (add {"type":"uts"} to /linux/namespaces)');
  }
  (spec.process?.rlimits ?? []).forEach((r, i) => {
    if (r.soft > r.hard) problems.push(`/process/rlimits/${i} soft limit ${r.soft} must not exceed hard limit ${r.hard}`);
  });
  const rlimitTypes = new Set<string>();
  (spec.process?.rlimits ?? []).forEach((r, i) => {
    if (rlimitTypes.has(r.type)) problems.push(`/process/rlimits/${i}/type ${r.type} appears more than once`);
    rlimitTypes.add(r.type);
  });
  (spec.mounts ?? []).forEach((m, i) => {
    if (!m.destination.startsWith('/')) problems.push(`/mounts/${i}/destination must be an absolute path`);
    // Only a procfs may be /proc: the runtime writes through it (the AppArmor
    // profile, sysctls), and an image's volume there would take those writes
    // (CVE-2019-16884; runc's rule and words).
    else if (posix.resolve(m.destination) === '/proc' && m.type !== 'proc') {
      problems.push(`/mounts/${i}: "${m.destination}" cannot be mounted because it is not of type proc`);
    }
  });
  if (spec.process && (spec.process.args === undefined || spec.process.args.length === 0)) {
    problems.push('/process/args must name the program to run');
  }
  problems.push(...nulProblems(spec, ''));
  return problems;
}

/** Every string ends up as a C string (a path, an env entry, a hostname): a NUL
 * would silently cut it short there, so refuse it here, by JSON pointer. */
function nulProblems(v: unknown, at: string): string[] {
  if (typeof v === 'string') return v.includes('\0') ? [`${at || '/'} must not contain a NUL byte`] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => nulProblems(x, `${at}/${i}`));
  if (v !== null && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, x]) => (k.includes('\0') ? [`${at}/${k} (key) must not contain a NUL byte`] : nulProblems(x, `${at}/${k}`)));
  }
  return [];
}

export function validateSpec(data: unknown, file = 'config.json'): Spec {
  run(validators().validateConfig, data, file);
  const spec = data as Spec;
  const problems = semanticProblems(spec);
  if (problems.length > 0) throw new ValidationError(file, problems);
  return spec;
}

export function validateProcessSpec(data: unknown, file: string): Process {
  run(validators().validateProcess, data, file);
  const proc = data as Process;
  if (!proc.args || proc.args.length === 0) throw new ValidationError(file, ['/args must name the program to run']);
  return proc;
}

// validateContainerId lives in ./id (the CLI's core loads it; this module pulls in the validators)
export { validateContainerId } from './id';
