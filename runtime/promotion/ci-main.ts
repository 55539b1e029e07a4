// Entry for the workflows: `node bin/run-ts.js runtime/promotion/ci-main.ts <command> ...` (see ci.ts).
import { runMain } from '../common/errors';
import { runCi } from './ci';

void runMain('ci', () =>
  runCi(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }),
);
