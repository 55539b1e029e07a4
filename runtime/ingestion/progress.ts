/**
 * What an ingestion run shows while it runs: a cli-progress line on a terminal (rows fetched, pages, rows/s),
 * nothing otherwise. The run only calls an IngestionProgress; this module is where the bar is drawn, the
 * same way training's bar is (runtime/training/progress.ts).
 */
import { SingleBar } from 'cli-progress';

export interface IngestionProgress {
  /** Before the first record (a resumed run's committed parts are replayed after it). */
  start(): void;
  /** After each page (and each replayed part): rows fetched so far in the run, and pages read. */
  update(rows: number, pages: number): void;
  /** Once the fetch ends, whether it finished or failed; the bar's line is left as it was last drawn. */
  stop(): void;
}

/** Reports nothing: a pipe, `--json`, containers and library calls. */
export const silentIngestionProgress: IngestionProgress = { start() {}, update() {}, stop() {} };

/** `auto`: a bar when the bar stream is a TTY (a person is watching), else nothing. */
export type IngestionProgressMode = 'auto' | 'bar' | 'none';

/** Rows per second since `startedAt`, as a whole number ('-' until time has passed). */
export function rowsPerSecond(rows: number, startedAt: number, now: number): string {
  const seconds = (now - startedAt) / 1000;
  return seconds > 0 ? String(Math.round(rows / seconds)) : '-';
}

/**
 * The bar draws on `stream` (stderr, so stdout keeps the command's result). The source's size is rarely
 * known up front, so the line counts up instead of filling: `ingesting | 120000 rows | 24 pages | 56000 rows/s | 2s`.
 * `now` is injectable so a test can check the rate without waiting.
 */
export function createIngestionProgress(mode: IngestionProgressMode, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): IngestionProgress {
  const bar = mode === 'bar' || (mode === 'auto' && stream.isTTY) ? ingestionBar(stream) : undefined;
  if (!bar) return silentIngestionProgress;
  let startedAt = now();
  let running = false;
  return {
    start() {
      startedAt = now();
      running = true;
      bar.start(0, 0, { pages: 0, rate: '-' });
    },
    update(rows, pages) {
      if (running) bar.update(rows, { pages, rate: rowsPerSecond(rows, startedAt, now()) });
    },
    stop() {
      if (!running) return;
      running = false;
      bar.stop();
    },
  };
}

function ingestionBar(stream: NodeJS.WriteStream): SingleBar {
  return new SingleBar({ format: 'ingesting | {value} rows | {pages} pages | {rate} rows/s | {duration_formatted}', hideCursor: true, stream });
}
