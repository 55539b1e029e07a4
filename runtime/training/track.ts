/**
 * What a training run records in experiment tracking (runtime/tracking): the resolved parameters, the epoch log,
 * system figures, final metrics, artifacts and lineage. train() measures the system figures and calls trackRun
 * once the package is written; the CLI's train, the pipeline and tuning trials ask for it with `tracking`.
 */
import type { PipelineConfig, TrainingParams } from '../../config/schema';
import type { Logger } from '../common/logger';
import type { ObjectStore } from '../storage/object-store';
import { RUN_RECORD_FORMAT, RunTracker, type ParamValue, type RunRecord, type RunSource } from '../tracking';
import { PLATFORM_ENV } from '../contract/env';
import { exportRunToMlflow } from '../tracking/mlflow';
import { round } from './telemetry';
import { codeVersion } from './version';

/** Where and how train() tracks a run: the store holding the registry (ctx.store), and what the run came from. */
export interface TrackingTarget {
  store: ObjectStore;
  source: RunSource;
  env?: string;
  cloud?: string;
  tags?: Record<string, string>;
  /**
   * A write that fails is logged as a warning and the run goes on (the platform containers: the store may refuse
   * them, and a trained model must not be lost to its tracking record). @default false: a failed write fails the run
   */
  bestEffort?: boolean;
}

/** Process figures over a run: CPU seconds, wall seconds and the process's peak RSS. */
export class RunClock {
  readonly startedAt = new Date();
  private readonly cpu = process.cpuUsage();
  private readonly wall = process.hrtime.bigint();

  figures(epochs: Record<string, number>[]): Record<string, number> {
    const cpu = process.cpuUsage(this.cpu);
    const peak = (key: string) => epochs.reduce((m, e) => (typeof e[key] === 'number' ? Math.max(m, e[key]) : m), -1);
    const gpu = { gpu_util_percent_max: peak('gpu_util_percent'), gpu_mem_mb_max: peak('gpu_mem_mb') };
    return {
      wall_s: round(Number(process.hrtime.bigint() - this.wall) / 1e9, 3),
      cpu_user_s: round(cpu.user / 1e6, 3),
      cpu_system_s: round(cpu.system / 1e6, 3),
      peak_rss_mb: round(process.resourceUsage().maxRSS / 1024, 1),
      ...Object.fromEntries(Object.entries(gpu).filter(([, v]) => v >= 0)),
    };
  }
}

/** `{ a: { b: 1 } }` -> `{ 'a.b': 1 }`; arrays of scalars stay values. */
function flatten(prefix: string, value: unknown, out: Record<string, ParamValue>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
  } else if (value !== undefined) {
    out[prefix] = value as ParamValue;
  }
}

/** training_params blocks that only one model type reads (the net's keys sit at the top level). */
const MODEL_TYPE_BLOCKS: Record<string, readonly string[]> = {
  neural_network: [],
  gradient_boosting: ['gradient_boosting'],
  logistic_regression: ['linear'],
  linear: ['linear'],
  auto: ['auto', 'gradient_boosting', 'linear'],
};
const ALL_BLOCKS = new Set(Object.values(MODEL_TYPE_BLOCKS).flat());

/**
 * The parameters a run trained with: model_type, every training_params key after defaults and overrides
 * (nested blocks as `block.key`; other model types' blocks left out: they did not shape this run), the
 * pipeline's `model` section where it has one (`model.<key>`), the seed and the splits.
 */
export function resolvedParams(pipeline: PipelineConfig, params: TrainingParams): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = { model_type: pipeline.model_type };
  const own = new Set(MODEL_TYPE_BLOCKS[pipeline.model_type] ?? []);
  flatten('', Object.fromEntries(Object.entries(params).filter(([k]) => !ALL_BLOCKS.has(k) || own.has(k))), out);
  const model = (pipeline as unknown as Record<string, unknown>).model;
  if (model !== undefined) flatten('model', model, out);
  out.seed = pipeline.seed;
  out.train_split = pipeline.train_split;
  return out;
}

export interface TrackInput {
  target: TrackingTarget;
  pipeline: PipelineConfig;
  params: TrainingParams;
  runId: string;
  clock: RunClock;
  epochs: Record<string, number>[];
  metrics: Record<string, number>;
  validation: Record<string, number>;
  backend: string;
  artifacts: Record<string, string>;
  lineage: { data_uri: string; data_hash: string; config_hash: string; parent_run: string | null };
}

export function runRecordOf(input: TrackInput): RunRecord {
  const { target } = input;
  return {
    format_version: RUN_RECORD_FORMAT,
    run_id: input.runId,
    experiment: input.pipeline.project,
    source: target.source,
    status: 'finished',
    started_at: input.clock.startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    params: resolvedParams(input.pipeline, input.params),
    metrics: input.metrics,
    validation: input.validation,
    epochs: input.epochs,
    system: { ...input.clock.figures(input.epochs), backend: input.backend },
    tags: { source: target.source, ...(target.tags ?? {}) },
    artifacts: input.artifacts,
    lineage: { ...input.lineage, code_version: codeVersion(), env: target.env ?? null, cloud: target.cloud ?? null },
  };
}

/** Writes the run's record beside the registry; returns its key (null when a best-effort write failed, logged). */
export async function trackRun(input: TrackInput, logger?: Logger): Promise<string | null> {
  try {
    const record = runRecordOf(input);
    const key = await new RunTracker(input.target.store, input.pipeline.project).write(record);
    await exportWhereAsked(input.pipeline, record, logger);
    return key;
  } catch (err) {
    if (!input.target.bestEffort) throw err;
    logger?.warn({ err, store: input.target.store.root }, `run ${input.runId} not tracked: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Copies the run to the MLflow tracking server pipeline.json `tracking.mlflow` names. The run is already
 * tracked in the store, so a server that fails is a warning, not a failed run.
 */
async function exportWhereAsked(pipeline: PipelineConfig, record: RunRecord, logger?: Logger): Promise<void> {
  const mlflow = pipeline.tracking?.mlflow;
  if (!mlflow) return;
  const target = { trackingUri: mlflow.tracking_uri, experiment: mlflow.experiment ?? pipeline.project, token: process.env[PLATFORM_ENV.mlflowToken] };
  try {
    const mlflowRun = await exportRunToMlflow(record, target);
    logger?.info({ mlflow_run: mlflowRun, experiment: target.experiment }, `run ${record.run_id} exported to MLflow at ${mlflow.tracking_uri}`);
  } catch (err) {
    logger?.warn({ err }, `run ${record.run_id} not exported to MLflow (tracking.mlflow.tracking_uri ${mlflow.tracking_uri}): ${(err as Error).message}`);
  }
}
