/**
 * Capture of served traffic: a sampled share of requests, each with its rows, its predictions and a request
 * id, buffered in memory and flushed as JSONL parts to the store every flush interval (and at close):
 *
 *   <prefix><yyyy>/<mm>/<dd>/<hh>/part-<epoch ms>-<pid>-<seq>.jsonl    one CaptureLine per line (records.ts)
 *
 * It must never slow or fail a prediction: sampling is one random draw; rows are serialised only for a
 * sampled request; the buffer is bounded (records beyond MAX_BUFFERED are dropped and counted); a failed
 * write is logged and its records dropped; nothing here throws into the caller.
 */
import type { Logger } from '../common/logger';
import type { ObjectStore } from '../storage/object-store';
import type { CaptureLine } from './records';

/** Records held between flushes at most; more are dropped (and counted) rather than grow memory. */
export const MAX_BUFFERED = 10_000;

export interface CaptureOptions {
  store: ObjectStore;
  /** Where the parts go, e.g. `data-capture/<endpoint>/mlstack/`. */
  prefix: string;
  /** Share of requests captured, 0-100. */
  percent: number;
  /** Milliseconds between flushes. */
  flushMs: number;
  logger: Logger;
  /** @default Math.random */
  random?: () => number;
  /** @default MAX_BUFFERED */
  maxBuffered?: number;
}

export interface CaptureStats {
  captured: number;
  written: number;
  dropped: number;
  failedWrites: number;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** The key of a part flushed at `at`. */
export function partKey(prefix: string, at: Date, seq: number): string {
  const hour = `${at.getUTCFullYear()}/${two(at.getUTCMonth() + 1)}/${two(at.getUTCDate())}/${two(at.getUTCHours())}`;
  return `${prefix}${hour}/part-${at.getTime()}-${process.pid}-${seq}.jsonl`;
}

export class CaptureWriter {
  private buffer: string[] = [];
  private seq = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  readonly stats: CaptureStats = { captured: 0, written: 0, dropped: 0, failedWrites: 0 };

  constructor(private readonly opts: CaptureOptions) {
    this.timer = setInterval(() => void this.flush(), opts.flushMs);
    this.timer.unref();
  }

  /** Whether to capture this request (one draw); false always when percent is 0. */
  sample(): boolean {
    return this.opts.percent > 0 && (this.opts.random ?? Math.random)() * 100 < this.opts.percent;
  }

  /** Buffers one sampled request; `rows` is called here, and any error it throws is logged, not raised. */
  record(requestId: string, modelVersion: string, rows: () => Record<string, unknown>[], predictions: unknown[]): void {
    try {
      if (this.buffer.length >= (this.opts.maxBuffered ?? MAX_BUFFERED)) return void this.stats.dropped++;
      const line: CaptureLine = { request_id: requestId, time: new Date().toISOString(), model_version: modelVersion, instances: rows(), predictions };
      this.buffer.push(JSON.stringify(line));
      this.stats.captured++;
    } catch (err) {
      this.stats.dropped++;
      this.opts.logger.warn({ err: (err as Error).message, requestId }, 'capture: could not record a request; the prediction was answered');
    }
  }

  /** Writes what is buffered as one part; one flush at a time; never rejects. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.buffer.length === 0) return Promise.resolve();
    const lines = this.buffer;
    this.buffer = [];
    const key = partKey(this.opts.prefix, new Date(), this.seq++);
    this.flushing = this.opts.store
      .put(key, lines.join('\n') + '\n', { contentType: 'application/x-ndjson' })
      .then(() => void (this.stats.written += lines.length))
      .catch((err: Error) => {
        this.stats.failedWrites++;
        this.stats.dropped += lines.length;
        this.opts.logger.warn({ err: err.message, key: this.opts.store.uri(key), records: lines.length }, 'capture: writing a part failed; its records are dropped');
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the timer and flushes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
