/** Training progress: a cli-progress bar on a TTY, plain metric lines otherwise. */
import { SingleBar, Presets } from 'cli-progress';
import { epochLine, metricLine } from './telemetry';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface ProgressReporter {
  start(totalEpochs: number, startEpoch: number): void;
  /** Called after each epoch with its metrics. */
  epoch(record: Record<string, number>): void;
  stop(): void;
}

/** Resolves 'auto' from the stream: a bar only when a person is watching a terminal. */
export function resolveProgressMode(mode: ProgressMode, stream: { isTTY?: boolean }): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY ? 'bar' : 'lines';
}

/** `out` receives metric lines; the bar draws on `barStream` (stderr, so stdout stays parseable). */
export function createProgress(mode: ProgressMode, out: NodeJS.WritableStream = process.stdout, barStream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const resolved = resolveProgressMode(mode, barStream);
  if (resolved === 'none') return { start() {}, epoch() {}, stop() {} };
  if (resolved === 'lines') {
    return {
      start() {},
      epoch(record) {
        out.write(`${epochLine(record)}\n${metricLine(record)}\n`);
      },
      stop() {},
    };
  }
  const bar = new SingleBar(
    { format: 'training |{bar}| epoch {value}/{total} | loss {loss} | {metric} | {eta_formatted} left', hideCursor: true, stream: barStream },
    Presets.shades_classic,
  );
  return {
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
