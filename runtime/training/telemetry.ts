/**
 * Per-epoch metric lines on stdout, two per epoch:
 *   `mlstack-epoch {"epoch":3,"loss":0.41,...}`   the whole record (also written to epochs.jsonl)
 *   `metrics epoch=3 train:loss=0.41 validation:loss=0.43 validation:auc=0.81 ...`   what SageMaker scrapes
 * SAGEMAKER_METRIC_DEFINITIONS (runtime/contract/metrics.ts: the regexes the AWS stack gives training jobs
 * and the tuning objective) match the second form; the contract is the one source of truth for both sides.
 */
import { execFile } from 'node:child_process';
import { SAGEMAKER_REPORTED_FIELDS, TUNABLE_METRICS } from '../contract/metrics';

// The metric names and regexes live in the contract (infra gives them to SageMaker); re-exported for the runtime's importers.
export { SAGEMAKER_METRIC_DEFINITIONS, TUNABLE_METRICS, type TunableMetric } from '../contract/metrics';

export const EPOCH_LINE_TAG = 'mlstack-epoch';
export const METRIC_LINE_TAG = 'metrics';

function formatPairs(pairs: [string, number | undefined][]): string {
  return pairs
    .filter((p): p is [string, number] => typeof p[1] === 'number' && Number.isFinite(p[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The SageMaker-scraped line for an epoch record: `metrics epoch=3 train:loss=.. validation:auc=..` (non-finite values left out). */
export function metricLine(record: Record<string, number>): string {
  return `${METRIC_LINE_TAG} ${formatPairs([['epoch', record.epoch], ...Object.entries(SAGEMAKER_REPORTED_FIELDS).map(([name, field]): [string, number | undefined] => [name, record[field]])])}`;
}

/**
 * The last lines of a run: the best epoch's validation metrics again (the package holds the best
 * epoch's weights, and SageMaker's final objective value is the last one printed) and the test metrics.
 */
export function finalMetricLines(bestEpoch: Record<string, number>, test: Record<string, number>): string[] {
  return [
    `${METRIC_LINE_TAG} best_epoch=${bestEpoch.epoch ?? 0} ${formatPairs(TUNABLE_METRICS.map((m): [string, number | undefined] => [`validation:${m}`, bestEpoch[`val_${m}`]]))}`.trimEnd(),
    `${METRIC_LINE_TAG} ${formatPairs(Object.entries(test).map(([k, v]): [string, number] => [`test:${k}`, v]))}`,
  ];
}

export interface GpuSample {
  gpu_util_percent: number;
  gpu_mem_mb: number;
}

/** Runs a command and resolves its stdout, or null when it is missing or fails. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<string | null>;

const runCommand: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5000 }, (err, stdout) => resolve(err ? null : stdout));
  });

/** Parses `nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits` (averages util, sums memory). */
export function parseNvidiaSmi(output: string): GpuSample | null {
  const rows = output
    .trim()
    .split('\n')
    .map((l) => l.split(',').map((v) => Number(v.trim())))
    .filter((r) => r.length >= 2 && r.every(Number.isFinite));
  if (rows.length === 0) return null;
  return {
    gpu_util_percent: rows.reduce((s, r) => s + r[0], 0) / rows.length,
    gpu_mem_mb: rows.reduce((s, r) => s + r[1], 0),
  };
}

/** Samples process CPU %, RSS and (when nvidia-smi answers) GPU utilisation and memory. */
export class SystemSampler {
  private lastCpu = process.cpuUsage();
  private lastTime = process.hrtime.bigint();
  private gpuMissing = false;

  constructor(private readonly run: CommandRunner = runCommand) {}

  async sample(): Promise<Record<string, number>> {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Number(now - this.lastTime) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastTime = now;
    const out: Record<string, number> = {
      cpu_percent: round(wallUs > 0 ? ((cpu.user + cpu.system) / wallUs) * 100 : 0, 1),
      rss_mb: round(process.memoryUsage().rss / 2 ** 20, 1),
    };
    if (!this.gpuMissing) {
      const text = await this.run('nvidia-smi', ['--query-gpu=utilization.gpu,memory.used', '--format=csv,noheader,nounits']);
      const gpu = text === null ? null : parseNvidiaSmi(text);
      if (gpu) Object.assign(out, gpu);
      else this.gpuMissing = true;
    }
    return out;
  }
}

export function round(value: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function epochLine(record: Record<string, number>): string {
  return `${EPOCH_LINE_TAG} ${JSON.stringify(record)}`;
}
