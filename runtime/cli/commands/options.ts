import type { RunContext } from '../../context';
import type { StoreCloud } from '../../storage/open';
import { UsageError } from '../errors';

/** `--project`, on every command that looks up runs, packages or versions. */
export const PROJECT_OPTION = ['--project <name>', "project whose runs, packages and versions to use (default: pipeline.json's project)"] as const;

/** The options from which a command resolves its context (runtime/context). */
export interface ContextOptions {
  env: string;
  cloud: string;
  configDir: string;
  workdir: string;
  project?: string;
}

/** The project, environment, cloud, store and layout a command works on; loads runtime/context only when the command runs. */
export function commandContext(opts: ContextOptions): Promise<RunContext> {
  const { resolveContext } = require('../../context') as typeof import('../../context');
  return resolveContext({ configDir: opts.configDir, env: opts.env, cloud: opts.cloud, workdir: opts.workdir, project: opts.project });
}

/** Validates a --cloud value (runtime/context's check); `local` is accepted where the command can run without a cloud. */
export function parseCloud(value: string, allowLocal: boolean): StoreCloud {
  const { parseStoreCloud, STORE_CLOUDS } = require('../../context') as typeof import('../../context');
  return parseStoreCloud(value, '--cloud', allowLocal ? STORE_CLOUDS : STORE_CLOUDS.filter((c) => c !== 'local'));
}

/** The range a whole-number option accepts, and a hint for the message. */
export interface WholeNumberRange {
  /** @default 0 */
  min?: number;
  max?: number;
  /** Said after the value, e.g. "0 picks a free port". */
  hint?: string;
}

/**
 * Parses a whole-number option (digits only: not "1e3", "0x10", "" or "2.5"), naming the flag when the value
 * is not one: `--epochs must be a whole number of at least 1, got "abc"`, a UsageError (exit 2).
 */
export function parseWholeNumber(flag: string, value: string, { min = 0, max, hint }: WholeNumberRange = {}): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isSafeInteger(n) && n >= min && (max === undefined || n <= max)) return n;
  const range = max !== undefined ? ` from ${min} to ${max}` : min > 0 ? ` of at least ${min}` : '';
  throw new UsageError(`${flag} must be a whole number${range}, got "${value}"${hint ? ` (${hint})` : ''}`);
}

/**
 * commander's argParser for a whole-number option: every numeric option of every command goes through it,
 * so a bad value fails while the arguments are parsed, before the command loads its implementation.
 */
export function wholeNumber(flag: string, range: WholeNumberRange = {}): (value: string) => number {
  return (value) => parseWholeNumber(flag, value, range);
}

/** `--port`: a TCP port, 0 picking a free one. */
export const parsePort = wholeNumber('--port', { max: 65535, hint: '0 picks a free port' });

/** Resolves on the first SIGINT (Ctrl-C) or SIGTERM: how a command that keeps serving waits to be stopped. */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
