import pino, { type Logger } from 'pino';
import { ENV } from '../contract/env';

export type { Logger };

/**
 * Structured JSON logs on stderr, so stdout stays free for command output
 * (`--json` summaries, predictions). MLSTACK_LOG_LEVEL overrides the level.
 */
export function createLogger(name: string, level: string = process.env[ENV.logLevel] ?? 'info'): Logger {
  return pino({ name, level, base: { svc: name, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: the default for library calls made from tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
