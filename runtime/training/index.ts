/**
 * The training pipeline: processed CSV -> splits -> preprocessing (fitted on the train split)
 * -> dense network with per-epoch checkpoints and early stopping -> test-split evaluation
 * -> model package + HTML report. train() composes the three steps (prepare.ts, fit.ts,
 * package-run.ts); what a run shows goes through a ProgressReporter (progress.ts), never from the steps.
 */
import * as tf from '../model/tf';
import { searchParameters, trainingParamsSchema, type ModelType, type ProjectConfig, type TrainedModelType, type TrainingParams } from '../../config/schema';
import { silentLogger, type Logger } from '../common/logger';
import type { FeatureImportance, TaskKind } from '../model/package';
import type { ObjectStore } from '../storage/object-store';
import { selectBackend } from './backend';
import { fitClassic, type RunModel } from './classic';
import { fitModel, monitorOf, predict, type FittedModel } from './fit';
import { layerSummary } from './model';
import { packageRun } from './package-run';
import { disposePrepared, prepareData, type PreparedData } from './prepare';
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
  modelType: TrainedModelType;
  /** model_type "auto": every candidate's validation metrics, the packaged one selected. */
  candidates?: CandidateRecord[];
  /** Permutation importance on the test split (and split gain for trees), most important first. */
  importance: FeatureImportance[];
}

/** Overrides as the model type reads them: a tree or linear model's keys (learning_rate included) go into its block. */
function nestOverrides(base: TrainingParams, overrides: Record<string, unknown>, modelType: ModelType): Record<string, unknown> {
  if (modelType === 'neural_network' || modelType === 'auto') return overrides;
  const block = modelType === 'gradient_boosting' ? 'gradient_boosting' : 'linear';
  const keys = new Set(Object.keys(searchParameters(modelType)));
  keys.delete('validation_split');
  const nested = Object.fromEntries(Object.entries(overrides).filter(([k]) => keys.has(k)));
  const flat = Object.fromEntries(Object.entries(overrides).filter(([k]) => !keys.has(k)));
  return Object.keys(nested).length === 0 ? flat : { ...flat, [block]: { ...base[block], ...(overrides[block] as object | undefined), ...nested } };
}

/** Merges overrides into the config's training params and validates the result. */
export function resolveTrainingParams(base: TrainingParams, overrides: Partial<TrainingParams> | Record<string, unknown> = {}, modelType: ModelType = 'neural_network'): TrainingParams {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const merged = { ...base, ...nestOverrides(base, given, modelType) };
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

/** The dense net's fit as a RunModel (the package holds its best epoch's weights). */
function netRunModel(fitted: FittedModel, params: TrainingParams, prepared: PreparedData): RunModel {
  const { state } = fitted;
  return {
    modelType: 'neural_network',
    files: { model: fitted.model },
    predict: (x, n) => predictRows(fitted.model, x, n, prepared.preprocessing.outputDim),
    history: state.history,
    validation: state.history.find((h) => h.epoch === state.bestEpoch) ?? state.history[state.history.length - 1] ?? { epoch: 0 },
    bestEpoch: state.bestEpoch,
    epochs: state.epoch,
    layers: layerSummary(params, prepared.data.task, prepared.outputUnits),
    dispose: () => {
      tf.dispose(fitted.bestWeights);
      fitted.model.dispose();
    },
  };
}

async function predictRows(model: tf.LayersModel, x: Float32Array, n: number, dim: number): Promise<Float32Array> {
  const input = tf.tensor2d(x, [n, dim]);
  try {
    return await predict(model, input);
  } finally {
    input.dispose();
  }
}

interface FitStep {
  opts: TrainOptions;
  params: TrainingParams;
  prepared: PreparedData;
  packagePrefix: string;
  reporter: ProgressReporter;
  logger: Logger;
}

/** Fits one model type: the net with its checkpointed loop, the others in one pass (no checkpoints). */
async function fitOne(step: FitStep, modelType: TrainedModelType): Promise<{ model: RunModel; resumedFromEpoch: number | null }> {
  const { opts, params, prepared } = step;
  const pipeline = opts.project.pipeline;
  if (modelType !== 'neural_network') return { model: await fitClassic(modelType, prepared, params, pipeline.seed), resumedFromEpoch: null };
  const fitted = await fitModel({
    prepared,
    params,
    seed: pipeline.seed,
    runId: opts.runId,
    store: opts.store,
    epochLogKey: `${step.packagePrefix}epochs.jsonl`,
    checkpointStore: opts.checkpointStore ?? opts.store,
    checkpointsPrefix: opts.checkpointsPrefix,
    signal: opts.signal,
    reporter: step.reporter,
    logger: step.logger,
  });
  return { model: netRunModel(fitted, params, prepared), resumedFromEpoch: fitted.resumedFromEpoch };
}

/** A candidate's validation record, as "auto" records it. */
export interface CandidateRecord {
  model_type: TrainedModelType;
  validation: Record<string, number>;
  selected: boolean;
}

/**
 * Fits the configured model type; "auto" fits each candidate on the same split and keeps the best by the
 * validation metric early stopping watches (AUC for binary, loss otherwise), recording every candidate.
 */
async function fitRunModel(step: FitStep): Promise<{ model: RunModel; resumedFromEpoch: number | null; candidates?: CandidateRecord[] }> {
  const modelType = step.opts.project.pipeline.model_type;
  if (modelType !== 'auto') return fitOne(step, modelType);
  const monitor = monitorOf(step.prepared.data.task);
  const score = (m: RunModel) => (monitor.mode === 'max' ? 1 : -1) * (m.validation[monitor.key] ?? -Infinity);
  let best: { model: RunModel; resumedFromEpoch: number | null } | null = null;
  const fitted: RunModel[] = [];
  for (const candidate of step.params.auto.candidates) {
    const run = await fitOne(step, candidate);
    fitted.push(run.model);
    step.logger.info({ run: step.opts.runId, candidate, validation: run.model.validation }, 'auto: candidate trained');
    if (!best || score(run.model) > score(best.model)) {
      best?.model.dispose();
      best = run;
    } else run.model.dispose();
  }
  const chosen = best as { model: RunModel; resumedFromEpoch: number | null };
  const candidates = fitted.map((m) => ({ model_type: m.modelType, validation: m.validation, selected: m === chosen.model }));
  return { ...chosen, candidates };
}

/** Trains on `dataKeys`, resuming from this run's checkpoints, and writes the model package to packagePrefix. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const logger = opts.logger ?? silentLogger;
  const pipeline = opts.project.pipeline;
  const dataStore = opts.dataStore ?? opts.store;
  const packagePrefix = opts.packagePrefix ?? runPackagePrefix({ models: opts.modelsPrefix }, opts.runId);
  const reporter = opts.reporter ?? createProgress(opts.progress ?? 'auto', opts.metricsOut);
  const params = resolveTrainingParams(pipeline.training_params, opts.overrides, pipeline.model_type);
  const clock = new RunClock();
  const backend = await selectBackend({ logger, requireGpu: opts.requireGpu });
  const prepared = await prepareData({ pipeline, params, dataStore, dataKeys: opts.dataKeys, runId: opts.runId, logger });
  const { model, resumedFromEpoch, candidates } = await fitRunModel({ opts, params, prepared, packagePrefix, reporter, logger });
  const run = await packageRun({ pipeline, params, prepared, fitted: model, runId: opts.runId, backend: backend.name, store: opts.store, packagePrefix, dataStore, dataKeys: opts.dataKeys, parentRun: opts.parentRun ?? null, candidates });
  reporter.finished(run.validation, run.metrics);
  disposePrepared(prepared);
  model.dispose();
  logger.info({ run: opts.runId, package: runArtifacts(opts.store, packagePrefix).package, metrics: run.metrics }, 'training finished');
  const validation = Object.fromEntries(Object.entries(run.validation).filter(([k]) => k.startsWith('val_')));
  const trackingKey = opts.tracking
    ? await trackRun({
        target: opts.tracking, pipeline, params, runId: opts.runId, clock, epochs: model.history, metrics: run.metrics, validation, backend: backend.name,
        artifacts: runArtifacts(opts.store, packagePrefix),
        lineage: { data_uri: run.dataUri, data_hash: prepared.dataHash, config_hash: prepared.configHash, parent_run: opts.parentRun ?? null },
      }, logger)
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
    epochs: model.epochs,
    resumedFromEpoch,
    task: prepared.data.task,
    validation,
    bestEpoch: model.bestEpoch,
    trackingKey,
    modelType: model.modelType,
    importance: run.importance,
    ...(candidates ? { candidates } : {}),
  };
}
