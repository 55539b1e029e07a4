/**
 * The training pipeline: processed CSV -> splits -> preprocessing (fitted on the train split)
 * -> dense network with per-epoch checkpoints and early stopping -> test-split evaluation
 * -> model package + HTML report. train() composes the three steps (prepare.ts, fit.ts,
 * package-run.ts); what a run shows goes through a ProgressReporter (progress.ts), never from the steps.
 */
import * as tf from '../model/tf';
import { trainingParamsSchema, type ProjectConfig, type TrainingParams } from '../../config/schema';
import { silentLogger, type Logger } from '../common/logger';
import type { TaskKind } from '../model/package';
import type { ObjectStore } from '../storage/object-store';
import { selectBackend } from './backend';
import { fitModel } from './fit';
import { packageRun } from './package-run';
import { disposePrepared, prepareData } from './prepare';
import { createProgress, type ProgressMode, type ProgressReporter } from './progress';
import { RunClock, trackRun, type TrackingTarget } from './track';
import { runPackagePrefix } from '../contract/layout';
import { ConfigInvalidError } from '../common/errors';

export { SAGEMAKER_METRIC_DEFINITIONS } from './telemetry';
export { monitorOf, plateauEpochs, runEpoch, TrainingAbortedError } from './fit';
export type { Matrices } from './prepare';
export type { TrackingTarget } from './track';

export interface TrainOptions {
  project: ProjectConfig;
  /** Where the model package goes (and data and checkpoints unless given separately). */
  store: ObjectStore;
  /** Processed CSV keys in the data store. */
  dataKeys: string[];
  runId: string;
  /** The package goes to `<modelsPrefix>runs/<runId>/` (runPackagePrefix) unless packagePrefix is given. */
  modelsPrefix: string;
  checkpointsPrefix: string;
  logger?: Logger;
  progress?: ProgressMode;
  overrides?: Partial<TrainingParams>;
  signal?: AbortSignal;
  /** Store holding dataKeys (default: store). */
  dataStore?: ObjectStore;
  /** Store holding checkpoints (default: store), e.g. /opt/ml/checkpoints in SageMaker. */
  checkpointStore?: ObjectStore;
  /** Exact package prefix, e.g. '' for SageMaker's /opt/ml/model. */
  packagePrefix?: string;
  /** Fail unless a GPU backend loads (cloud training with require_gpu). */
  requireGpu?: boolean;
  /** Where epoch metric lines go in 'lines' and 'sagemaker' modes (default stdout). */
  metricsOut?: NodeJS.WritableStream;
  /** Receives the run's progress and summary instead of the progress/metricsOut printer. */
  reporter?: ProgressReporter;
  parentRun?: string | null;
  /** Record the run in experiment tracking (`tracking/<project>/runs/<run>.json` in this store). */
  tracking?: TrackingTarget;
}

export interface TrainResult {
  runId: string;
  packagePrefix: string;
  /** Test split: auc, accuracy, log_loss, precision, recall, f1 (classification); rmse, mae, r2 (regression); predict_latency_p99_ms, model_size_bytes. */
  metrics: Record<string, number>;
  dataHash: string;
  configHash: string;
  /** The data trained on: the CSV object's URI, or the folder holding the CSV objects. */
  dataUri: string;
  backend: string;
  reportKey: string;
  /** Epochs completed (early stopping may end before training_params.epochs). */
  epochs: number;
  resumedFromEpoch: number | null;
  task: TaskKind;
  /** Validation metrics of the best epoch (what tuning compares). */
  validation: Record<string, number>;
  bestEpoch: number;
  /** The run's tracking record key, when tracked. */
  trackingKey: string | null;
}

/** Merges overrides into the config's training params and validates the result. */
export function resolveTrainingParams(base: TrainingParams, overrides: Partial<TrainingParams> = {}): TrainingParams {
  const merged = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  if (overrides.hidden_size !== undefined && overrides.hidden_layers === undefined) delete (merged as Partial<TrainingParams>).hidden_layers;
  const parsed = trainingParamsSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigInvalidError(`invalid training parameters (pipeline.json training_params with overrides): ${problems}`);
  }
  return parsed.data;
}

/** URIs of what a run wrote, for its tracking record. */
function runArtifacts(store: ObjectStore, packagePrefix: string): Record<string, string> {
  return { package: packagePrefix ? store.uri(packagePrefix) : store.root, report: store.uri(`${packagePrefix}report.html`), epoch_log: store.uri(`${packagePrefix}epochs.jsonl`) };
}

/** Trains on `dataKeys`, resuming from this run's checkpoints, and writes the model package to packagePrefix. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const logger = opts.logger ?? silentLogger;
  const pipeline = opts.project.pipeline;
  const dataStore = opts.dataStore ?? opts.store;
  const packagePrefix = opts.packagePrefix ?? runPackagePrefix({ models: opts.modelsPrefix }, opts.runId);
  const reporter = opts.reporter ?? createProgress(opts.progress ?? 'auto', opts.metricsOut);
  const params = resolveTrainingParams(pipeline.training_params, opts.overrides);
  const clock = new RunClock();
  const backend = await selectBackend({ logger, requireGpu: opts.requireGpu });
  const prepared = await prepareData({ pipeline, params, dataStore, dataKeys: opts.dataKeys, runId: opts.runId, logger });
  const fitted = await fitModel({
    prepared,
    params,
    seed: pipeline.seed,
    runId: opts.runId,
    store: opts.store,
    epochLogKey: `${packagePrefix}epochs.jsonl`,
    checkpointStore: opts.checkpointStore ?? opts.store,
    checkpointsPrefix: opts.checkpointsPrefix,
    signal: opts.signal,
    reporter,
    logger,
  });
  const run = await packageRun({ pipeline, params, prepared, fitted, runId: opts.runId, backend: backend.name, store: opts.store, packagePrefix, dataStore, dataKeys: opts.dataKeys, parentRun: opts.parentRun ?? null });
  reporter.finished(run.validation, run.metrics);
  disposePrepared(prepared);
  tf.dispose(fitted.bestWeights);
  fitted.model.dispose();
  logger.info({ run: opts.runId, package: runArtifacts(opts.store, packagePrefix).package, metrics: run.metrics }, 'training finished');
  const { state } = fitted;
  const validation = Object.fromEntries(Object.entries(run.validation).filter(([k]) => k.startsWith('val_')));
  const trackingKey = opts.tracking
    ? await trackRun({
        target: opts.tracking, pipeline, params, runId: opts.runId, clock, epochs: state.history, metrics: run.metrics, validation, backend: backend.name,
        artifacts: runArtifacts(opts.store, packagePrefix),
        lineage: { data_uri: run.dataUri, data_hash: prepared.dataHash, config_hash: prepared.configHash, parent_run: opts.parentRun ?? null },
      })
    : null;
  return {
    runId: opts.runId,
    packagePrefix,
    metrics: run.metrics,
    dataHash: prepared.dataHash,
    configHash: prepared.configHash,
    dataUri: run.dataUri,
    backend: backend.name,
    reportKey: `${packagePrefix}report.html`,
    epochs: state.epoch,
    resumedFromEpoch: fitted.resumedFromEpoch,
    task: prepared.data.task,
    validation,
    bestEpoch: state.bestEpoch,
    trackingKey,
  };
}
