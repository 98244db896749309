// Loading koffi. Its package entry point first works out glibc vs musl by
// parsing the ELF headers of the running engine binary, which costs ~10 ms of
// every toyrun process (and a `create` is two processes). On glibc x86-64 we
// load the prebuilt native module directly — the same object the entry point
// returns, minus deprecated aliases — and fall back to the entry point anywhere else.
//
// Found from the install root (src/paths.ts), never from __filename: Bun's bundler
// bakes the *source* path into __filename, which would tie a copied install to the
// checkout it was built in. And dlopen'ed by that path as given: a runtime process
// started from the sealed tree (src/linux/seal.ts) reaches it as
// /proc/self/fd/N/node_modules/…, which require() would resolve to the path the
// file has inside the detached mount, a path that means nothing on the host.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Koffi from 'koffi';
import { installRoot } from '../paths';

export type KoffiModule = typeof Koffi;

/** node_modules of the install tree; from source (the tests run src/ itself,
 * where __filename is true), the checkout's. */
function nodeModules(): string {
  const modules = join(installRoot(), 'node_modules');
  return existsSync(join(modules, 'koffi')) ? modules : join(__dirname, '..', '..', 'node_modules');
}

function loadKoffi(): KoffiModule {
  const modules = nodeModules();
  if (process.platform === 'linux' && process.arch === 'x64' && existsSync('/lib64/ld-linux-x86-64.so.2')) {
    try {
      const version = (JSON.parse(readFileSync(join(modules, 'koffi', 'package.json'), 'utf8')) as { version: string }).version;
      const mod = { exports: {} as KoffiModule & { version: string } };
      process.dlopen(mod, join(modules, '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node'));
      if (mod.exports.version === version) return mod.exports;
    } catch {
      // not laid out as expected: use the package entry point
    }
  }
  return createRequire(join(modules, 'koffi-loader.js'))('koffi') as KoffiModule;
}

let loaded: KoffiModule | undefined;
/** koffi, loaded on first use: commands that make no syscall never pay for it. */
export function getKoffi(): KoffiModule {
  loaded ??= loadKoffi();
  return loaded;
}
