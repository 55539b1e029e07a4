// Entry for the workflows: `node bin/run-ts.js runtime/promotion/ci-main.ts <command> ...` (see ci.ts).
import { runCi } from './ci';

void runCi(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then((code) => {
  process.exitCode = code;
});
