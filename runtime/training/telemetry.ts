/**
 * Per-epoch metric lines: `mlstack-epoch {"epoch":3,"loss":0.41,...}` on stdout (SageMaker
 * scrapes the job's log with the regexes below) and as JSON lines in the store.
 */
import { execFile } from 'node:child_process';

export const EPOCH_LINE_TAG = 'mlstack-epoch';

const NUMBER = '(-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)';

function definition(name: string, field: string): { Name: string; Regex: string } {
  return { Name: name, Regex: `${EPOCH_LINE_TAG} .*"${field}":${NUMBER}` };
}

/** MetricDefinitions for a SageMaker training job (AlgorithmSpecification.MetricDefinitions). */
export const SAGEMAKER_METRIC_DEFINITIONS: { Name: string; Regex: string }[] = [
  definition('train:loss', 'loss'),
  definition('validation:loss', 'val_loss'),
  definition('validation:auc', 'val_auc'),
  definition('validation:accuracy', 'val_accuracy'),
  definition('validation:rmse', 'val_rmse'),
  definition('system:cpu_percent', 'cpu_percent'),
  definition('system:rss_mb', 'rss_mb'),
  definition('system:gpu_util_percent', 'gpu_util_percent'),
  definition('system:gpu_mem_mb', 'gpu_mem_mb'),
  { Name: 'test:auc', Regex: `mlstack-test .*"auc":${NUMBER}` },
  { Name: 'test:rmse', Regex: `mlstack-test .*"rmse":${NUMBER}` },
];

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
