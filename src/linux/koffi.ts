// Loading koffi. Its package entry point first works out glibc vs musl by
// parsing the ELF headers of the running engine binary, which costs ~10 ms of
// every toyrun process (and a `create` is two processes). On glibc x86-64 we
// load the prebuilt native module directly — the same object the entry point
// returns, minus deprecated aliases — and fall back to the entry point anywhere else.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Koffi from 'koffi';

export type KoffiModule = typeof Koffi;

function loadKoffi(): KoffiModule {
  const req = createRequire(__filename);
  if (process.platform === 'linux' && process.arch === 'x64' && existsSync('/lib64/ld-linux-x86-64.so.2')) {
    try {
      const pkgDir = dirname(req.resolve('koffi/package.json'));
      const version = (req(join(pkgDir, 'package.json')) as { version: string }).version;
      const native = join(pkgDir, '..', '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node');
      const mod = req(native) as KoffiModule & { version: string };
      if (mod.version === version) return mod;
    } catch {
      // not laid out as expected: use the package entry point
    }
  }
  return req('koffi') as KoffiModule;
}

let loaded: KoffiModule | undefined;
/** koffi, loaded on first use: commands that make no syscall never pay for it. */
export function getKoffi(): KoffiModule {
  loaded ??= loadKoffi();
  return loaded;
}
