// Entry point of the toyrun CLI (bin/toyrun loads its bundle).
import { main } from './cli';
import { logError } from './log';
import { endTrace } from './trace/record';

main(process.argv.slice(2)).then(
  (code) => {
    endTrace(code);
    process.exit(code);
  },
  (e: unknown) => {
    logError(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
