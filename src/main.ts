// Entry point of bin/toyrun, the compiled executable (Bun's `build --compile
// --bytecode`: the engine and toyrun's code, precompiled, in one file).
//
// The same file is every process toyrun runs: the CLI, and, started by the CLI
// from the sealed install tree (src/linux/seal.ts), the container's init, the exec
// helper and the systemd D-Bus helper — as runc is also `runc init`. The role is
// the first argument; it is taken out of argv before the role's module loads, so
// that module sees the argv it would as a script of its own. Each role's module is
// required only in its branch: the bundler wraps it so that nothing of the CLI
// runs in an init.
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
if (role === 'init') require('./init/init');
else if (role === 'exec-init') require('./init/exec-init');
else if (role === 'systemd-dbus') require('./systemd-dbus');
else require('./toyrun');
