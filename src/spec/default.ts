// The config.json that `toyrun import` starts from: runc's default
// (src/spec/runc-default.ts, what `toyrun spec` writes), made runnable as is for an
// imported image: no terminal unless asked, no ambient capabilities (runc's
// default lists them without inheritable ones, so they could only warn), the
// spec version toyrun implements, and a cgroup namespace.
import { runcDefaultSpec } from './runc-default';
import type { Spec } from './types';

export function defaultSpec(args: string[] = ['sh'], terminal = false): Spec {
  const spec = runcDefaultSpec(false);
  const p = spec.process as NonNullable<Spec['process']>;
  p.terminal = terminal;
  p.args = args;
  if (p.capabilities) delete p.capabilities.ambient;
  spec.ociVersion = '1.3.0';
  spec.hostname = 'toyrun';
  spec.mounts = [...(spec.mounts ?? []), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }];
  spec.linux?.namespaces?.push({ type: 'cgroup' });
  return spec;
}
