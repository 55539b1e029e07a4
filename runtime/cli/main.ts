import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands';
import { UsageError } from './errors';
import { ENV } from '../contract/env';

export { UsageError };

export function buildProgram(): Command {
  const program = new Command('mlstack')
    .description('ML stack: ingest, train, evaluate, register, serve and invoke models locally or on AWS, GCP and Azure')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

/** A user error: printed without a stack trace, exit code 2. Its modules load here, so building the program (--help) does not load the config schemas. */
function isUserError(err: unknown): err is Error {
  if (err instanceof UsageError) return true;
  const { ConfigError } = require('../../config/load') as typeof import('../../config/load');
  const { IngestionConfigError } = require('../ingestion/fields') as typeof import('../ingestion/fields');
  return err instanceof ConfigError || err instanceof IngestionConfigError;
}

/** Runs the CLI and resolves to the process exit code (never calls process.exit itself). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode;
    }
    if (isUserError(err)) {
      process.stderr.write(`mlstack: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`mlstack: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env[ENV.debug]) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}
