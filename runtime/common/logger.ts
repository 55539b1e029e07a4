import pino, { type Logger } from 'pino';
import { ENV } from '../contract/env';

export type { Logger };

/** Where a process runs: the `mlstack` CLI on someone's terminal, or a stage's container in a cloud. */
export type LogSurface = 'cli' | 'container';

/**
 * The level each surface logs at unless MLSTACK_LOG_LEVEL says otherwise. The CLI prints its results for a
 * person, so only warnings and errors join them; a container's logs are the job's only record, so they
 * keep the run's milestones too.
 */
export const DEFAULT_LOG_LEVEL: Readonly<Record<LogSurface, string>> = { cli: 'warn', container: 'info' };

/** MLSTACK_LOG_LEVEL when set (and not empty), else the surface's default. */
export function logLevelFor(surface: LogSurface, env: NodeJS.ProcessEnv = process.env): string {
  return env[ENV.logLevel] || DEFAULT_LOG_LEVEL[surface];
}

/**
 * Structured JSON logs on stderr, so stdout stays free for command output
 * (`--json` summaries, predictions), at logLevelFor(surface, env).
 */
export function createLogger(name: string, surface: LogSurface = 'cli', env: NodeJS.ProcessEnv = process.env): Logger {
  return pino(
    { name, level: logLevelFor(surface, env), base: { svc: name, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything: the default for library calls made from tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
