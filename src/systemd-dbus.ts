// The D-Bus side of --systemd-cgroup, run as its own short process by
// src/linux/systemd.ts (the CLI is synchronous; D-Bus clients are not):
//   <engine> systemd-dbus.js '<request JSON>'   → exit 0, or a message on stderr and exit 1
// It asks systemd's manager (org.freedesktop.systemd1) on the system bus, through
// the dbus-next library, to start a transient scope, set unit properties or stop
// a unit, and waits for the job to finish as runc does (JobRemoved, result "done").
import type { ClientInterface, MessageBus, Variant as VariantType } from 'dbus-next';
import type { SystemdProperty, SystemdRequest } from './linux/systemd';

const DEST = 'org.freedesktop.systemd1';
const PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
// Only what we call: no introspection round trip (systemd's own XML is ~40 KB).
const XML = `<node><interface name="${MANAGER}">
<method name="Subscribe"/>
<method name="StartTransientUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="a(sv)" direction="in"/><arg type="a(sa(sv))" direction="in"/><arg type="o" direction="out"/></method>
<method name="StopUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="o" direction="out"/></method>
<method name="SetUnitProperties"><arg type="s" direction="in"/><arg type="b" direction="in"/><arg type="a(sv)" direction="in"/></method>
<signal name="JobRemoved"><arg type="u"/><arg type="o"/><arg type="s"/><arg type="s"/></signal>
</interface></node>`;
const TIMEOUT_MS = 30000; // runc waits 30 s for the scope's job too

interface Manager extends ClientInterface {
  Subscribe(): Promise<void>;
  StartTransientUnit(name: string, mode: string, props: [string, VariantType][], aux: unknown[]): Promise<string>;
  StopUnit(name: string, mode: string): Promise<string>;
  SetUnitProperties(name: string, runtime: boolean, props: [string, VariantType][]): Promise<void>;
}

function variants(props: SystemdProperty[]): [string, VariantType][] {
  const { Variant } = require('dbus-next') as typeof import('dbus-next');
  // 64-bit numbers travel as decimal strings in the request JSON
  return props.map(([name, sig, value]) => [name, new Variant(sig, sig === 't' ? BigInt(value as string) : value)]);
}

/** Run one job-returning call and wait for its JobRemoved; results other than "done" are errors. */
async function runJob(mgr: Manager, what: string, call: () => Promise<string>): Promise<void> {
  const finished = new Map<string, string>();
  let wake: () => void = () => undefined;
  // listening before the call: the job may end before its reply reaches us
  mgr.on('JobRemoved', (_id: number, job: string, _unit: string, result: string) => {
    finished.set(job, result);
    wake();
  });
  await mgr.Subscribe();
  const job = await call();
  while (!finished.has(job)) await new Promise<void>((r) => (wake = r));
  const result = finished.get(job);
  if (result !== 'done') throw new Error(`${what}: systemd job ${job} ended "${result}" (see journalctl)`);
}

async function handle(bus: MessageBus, req: SystemdRequest): Promise<void> {
  const obj = await bus.getProxyObject(DEST, PATH, XML);
  const mgr = obj.getInterface(MANAGER) as Manager;
  switch (req.op) {
    case 'start':
      await runJob(mgr, `StartTransientUnit ${req.unit}`, () => mgr.StartTransientUnit(req.unit, 'replace', variants(req.properties), []));
      return;
    case 'set':
      await mgr.SetUnitProperties(req.unit, true, variants(req.properties));
      return;
    case 'stop':
      try {
        await runJob(mgr, `StopUnit ${req.unit}`, () => mgr.StopUnit(req.unit, 'replace'));
      } catch (e) {
        // an emptied scope is stopped and collected by systemd itself
        if ((e as { type?: string }).type !== 'org.freedesktop.systemd1.NoSuchUnit') throw e;
      }
  }
}

async function main(): Promise<number> {
  const req = JSON.parse(process.argv[2] ?? '{}') as SystemdRequest;
  const { systemBus } = require('dbus-next') as typeof import('dbus-next');
  const bus = systemBus();
  const failed = new Promise<never>((_, reject) => {
    bus.on('error', (e: Error) => reject(new Error(`system bus: ${e.message}`, { cause: e })));
    setTimeout(() => reject(new Error(`no answer from systemd within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS).unref();
  });
  try {
    await Promise.race([handle(bus, req), failed]);
    return 0;
  } catch (e) {
    const err = e as Error & { type?: string; text?: string };
    // a D-Bus error carries its name (org.freedesktop.systemd1.UnitExists, ...) in `type`
    process.stderr.write(`${err.type ? `${err.type}: ` : ''}${err.text ?? err.message}\n`);
    return 1;
  } finally {
    bus.disconnect();
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
