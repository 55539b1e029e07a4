/**
 * What a training run shows while it runs: a cli-progress bar on a TTY, one JSON line per epoch otherwise,
 * and SageMaker's metric lines only where the SageMaker contract is active (its training container).
 * The training core only calls a ProgressReporter; this module is where its lines are written.
 */
import { SingleBar, Presets } from 'cli-progress';
import { epochLine, finalMetricLines, metricLine } from './telemetry';

/**
 * - `bar`: a cli-progress bar on the bar stream (a person at a terminal);
 * - `lines`: `mlstack-epoch {json}` per epoch on `out` (a pipe, or a container's log);
 * - `sagemaker`: `lines` plus the `metrics ...` lines SageMaker's metric definitions scrape, per epoch and at the end;
 * - `none`: nothing (`--json`, tuning trials, tests);
 * - `auto`: `bar` when the bar stream is a TTY, else `lines`.
 */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'sagemaker' | 'none';

export interface ProgressReporter {
  start(totalEpochs: number, startEpoch: number): void;
  /** Called after each epoch with its metrics. */
  epoch(record: Record<string, number>): void;
  stop(): void;
  /**
   * Called once the package is written: the best epoch's record and the test metrics. Only the SageMaker
   * contract prints here (its final objective); elsewhere the caller reports the result once, itself.
   */
  finished(bestEpoch: Record<string, number>, test: Record<string, number>): void;
}

/** Resolves 'auto' from the stream: a bar only when a person is watching a terminal. */
export function resolveProgressMode(mode: ProgressMode, stream: { isTTY?: boolean }): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY ? 'bar' : 'lines';
}

const silent: ProgressReporter = { start() {}, epoch() {}, stop() {}, finished() {} };

/** `out` receives metric lines; the bar draws on `barStream` (stderr, so stdout stays parseable). */
export function createProgress(mode: ProgressMode, out: NodeJS.WritableStream = process.stdout, barStream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const resolved = resolveProgressMode(mode, barStream);
  if (resolved === 'none') return silent;
  if (resolved === 'lines') return { ...silent, epoch: (record) => out.write(`${epochLine(record)}\n`) };
  if (resolved === 'sagemaker') return sageMakerLines(out);
  return progressBar(barStream);
}

/** The SageMaker training container's stdout: the epoch record and its scrape line, then the best-epoch and test lines. */
function sageMakerLines(out: NodeJS.WritableStream): ProgressReporter {
  return {
    ...silent,
    epoch(record) {
      out.write(`${epochLine(record)}\n${metricLine(record)}\n`);
    },
    finished(bestEpoch, test) {
      out.write(`${finalMetricLines(bestEpoch, test).join('\n')}\n`);
    },
  };
}

function progressBar(barStream: NodeJS.WriteStream): ProgressReporter {
  const bar = new SingleBar(
    { format: 'training |{bar}| epoch {value}/{total} | loss {loss} | {metric} | {eta_formatted} left', hideCursor: true, stream: barStream },
    Presets.shades_classic,
  );
  return {
    ...silent,
    start(total, startEpoch) {
      bar.start(total, startEpoch, { loss: '-', metric: '' });
    },
    epoch(record) {
      const val = Object.entries(record).find(([k]) => k.startsWith('val_') && k !== 'val_loss');
      bar.update(record.epoch, { loss: record.loss?.toFixed(4) ?? '-', metric: val ? `${val[0]} ${val[1].toFixed(4)}` : '' });
    },
    stop() {
      bar.stop();
    },
  };
}
