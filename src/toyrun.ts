// Entry point of the toyrun CLI (bin/toyrun loads its bundle).
import { main } from './cli';
import { logError } from './log';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    logError(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
