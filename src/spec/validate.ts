// Validation of config.json and exec process files: the precompiled JSON schema
// (schema/config.schema.json) first, then the rules a schema can't express.
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
  });
  if (spec.process && (spec.process.args === undefined || spec.process.args.length === 0)) {
    problems.push('/process/args must name the program to run');
  }
  return problems;
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

/** Container IDs name a directory under the state root and appear in cgroup
 * paths: refuse anything that could walk out of it or confuse a parser. */
export function validateContainerId(id: string | undefined): string {
  if (id === undefined || id === '') throw new Error('container id cannot be empty');
  if (id.length > 1024) throw new Error(`invalid container id: longer than 1024 characters`);
  if (id === '.' || id === '..' || !/^[A-Za-z0-9][A-Za-z0-9_+.-]*$/.test(id)) {
    throw new Error(`invalid container id ${JSON.stringify(id)}: use letters, digits and _ + - . (not starting with . or -)`);
  }
  return id;
}
