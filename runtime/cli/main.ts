import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerCommands } from './commands';
import { UsageError } from './errors';
import { reportError } from '../common/errors';

export { UsageError };

/** package.json's version, read as a file (not require()d: `--help` loads only the command definitions). */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('mlstack')
    .description('ML stack: ingest, train, evaluate, register, serve and invoke models locally or on AWS, GCP and Azure')
    .version(packageVersion(), '-V, --version', 'print the mlstack version')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

/**
 * Runs the CLI and resolves to the process exit code (never calls process.exit itself; bin/mlstack.js runs it
 * through runMain). The code is the error catalogue's (runtime/common/errors.ts exitCodeFor): 0 for --help and
 * --version, 2 for a usage or config error (commander's included, and a bare `mlstack`, which prints the help on
 * stderr), 1 for any other failure.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError('mlstack', err);
  }
}
