// Entry point of bin/toyrun, the compiled executable (Bun's `build --compile
// --bytecode`: the engine and toyrun's code, precompiled, in one file).
//
// The same file is every process toyrun runs: the CLI, and, started by the CLI
// from the sealed install tree (src/linux/seal.ts), the container's init, the exec
// helper and the systemd D-Bus helper — as runc is also `runc init`. The role is
// the first argument; it is taken out of argv before the role's module loads, so
// that module sees the argv it would as a script of its own. Each role's module is
// imported only in its branch: nothing of the CLI is even loaded in an init.
import { dirname, join } from 'node:path';
import { ROLES, type Role } from './paths';

// Where the install tree is: bin/toyrun's directory's parent. A process started
// from the sealed tree is execve'd as /proc/self/fd/N/bin/toyrun, and argv0 is
// that path; the engine's own execPath would be its path inside the detached
// mount ("/bin/toyrun"), which is nothing on the host.
const exe = process.argv0.startsWith('/proc/self/fd/') ? process.argv0 : process.execPath;
(globalThis as { toyrunBundleDir?: string }).toyrunBundleDir = join(dirname(dirname(exe)), 'dist');

const role = process.argv[2] as Role | undefined;
if (role !== undefined && (ROLES as readonly string[]).includes(role)) process.argv.splice(2, 1);
// Loaded with import(): bin/toyrun is built with code splitting, so a role loads
// only its own chunks (the CLI's core is ~70 KB; the schema validators, tar and
// the D-Bus client come in only with the commands that use them).
const loaded = role === 'init' ? import('./init/init')
  : role === 'exec-init' ? import('./init/exec-init')
  : role === 'systemd-dbus' ? import('./systemd-dbus')
  : import('./toyrun');
loaded.catch((e: unknown) => {
  process.stderr.write(`toyrun: loading ${role ?? 'the CLI'}: ${String(e)}\n`);
  process.exit(1);
});
