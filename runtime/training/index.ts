/**
 * The training pipeline: processed CSV -> splits -> preprocessing (fitted on the train split)
 * -> dense network with per-epoch checkpoints and early stopping -> test-split evaluation
 * -> model package + HTML report.
 */
import * as tf from '@tensorflow/tfjs';
import { trainingParamsSchema, type ProjectConfig, type TrainingParams } from '../../config/schema';
import { silentLogger, type Logger } from '../common/logger';
import { writeModelPackage, serializeModel, type ModelMetadata, type TaskKind } from '../model/package';
import type { ObjectStore } from '../storage/object-store';
import { selectBackend } from './backend';
import { restoreLatestCheckpoint, saveCheckpoint, type EpochRecord, type LoopState } from './checkpoint';
import { loadCsvRows, seededRandom, shuffledIndices, stableHash, type Row } from './data';
import { labelRows, makeSplits } from './dataset';
import { binaryMetrics, multiclassMetrics, percentile, regressionMetrics, rocCurve, type RocPoint } from './metrics';
import { buildModel, foldTargetScaling, layerSummary } from './model';
import { fitPreprocessing, transformRows, type PreprocessingState } from '../model/preprocessing';
import { createProgress, type ProgressMode } from './progress';
import { renderReport } from './report';
import { finalMetricLines, round, SystemSampler } from './telemetry';
import { codeVersion } from './version';

export { SAGEMAKER_METRIC_DEFINITIONS } from './telemetry';

export interface TrainOptions {
  project: ProjectConfig;
  /** Where the model package goes (and data and checkpoints unless given separately). */
  store: ObjectStore;
  /** Processed CSV keys in the data store. */
  dataKeys: string[];
  runId: string;
  /** The package goes to `<modelsPrefix><runId>/` unless packagePrefix is given. */
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
  /** Where epoch metric lines go in 'lines' mode (default stdout). */
  metricsOut?: NodeJS.WritableStream;
  parentRun?: string | null;
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
}

export class TrainingAbortedError extends Error {
  constructor(readonly epoch: number) {
    super(`training aborted after epoch ${epoch} (resume with the same run id)`);
    this.name = 'AbortError';
  }
}

/** Merges overrides into the config's training params and validates the result. */
export function resolveTrainingParams(base: TrainingParams, overrides: Partial<TrainingParams> = {}): TrainingParams {
  const merged = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  if (overrides.hidden_size !== undefined && overrides.hidden_layers === undefined) delete (merged as Partial<TrainingParams>).hidden_layers;
  const parsed = trainingParamsSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid training parameters (pipeline.json training_params with overrides): ${problems}`);
  }
  return parsed.data;
}

export interface Matrices {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  labels: Float64Array;
}

function matrices(state: PreprocessingState, rows: Row[], indices: number[], y: Float64Array, task: TaskKind, classes: number, scale?: { mean: number; std: number }): Matrices {
  const picked = indices.map((i) => rows[i]);
  const x = tf.tensor2d(transformRows(state, picked), [indices.length, state.outputDim]);
  const labels = Float64Array.from(indices, (i) => y[i]);
  let yt: tf.Tensor2D;
  if (task === 'multiclass') {
    yt = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes).toFloat() as tf.Tensor2D);
  } else {
    const values = scale ? labels.map((v) => (v - scale.mean) / scale.std) : labels;
    yt = tf.tensor2d(Float32Array.from(values), [indices.length, 1]);
  }
  return { x, y: yt, labels };
}

async function predict(model: tf.LayersModel, x: tf.Tensor2D): Promise<Float32Array> {
  const out = model.predict(x, { batchSize: 4096 }) as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

/** Validation metrics for one epoch; `monitor` is what early stopping watches. */
function validationMetrics(task: TaskKind, labels: Float64Array, preds: Float32Array, classes: number, scale?: { mean: number; std: number }): Record<string, number> {
  if (task === 'binary') {
    const m = binaryMetrics(labels, preds);
    return { val_loss: m.log_loss, val_auc: m.auc, val_accuracy: m.accuracy };
  }
  if (task === 'multiclass') {
    const m = multiclassMetrics(labels, preds, classes);
    return { val_loss: m.log_loss, val_accuracy: m.accuracy };
  }
  const s = scale as { mean: number; std: number };
  const m = regressionMetrics(labels, Array.from(preds, (p) => p * s.std + s.mean));
  return { val_loss: (m.rmse / s.std) ** 2, val_rmse: m.rmse };
}

export function monitorOf(task: TaskKind): { key: string; mode: 'max' | 'min' } {
  return task === 'binary' ? { key: 'val_auc', mode: 'max' } : { key: 'val_loss', mode: 'min' };
}

async function latencyP99(model: tf.LayersModel, inputDim: number, samples = 100): Promise<number> {
  const x = tf.zeros([1, inputDim]) as tf.Tensor2D;
  const times: number[] = [];
  for (let i = 0; i < samples + 10; i++) {
    const start = process.hrtime.bigint();
    await predict(model, x);
    if (i >= 10) times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  x.dispose();
  return percentile(times, 0.99);
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const logger = opts.logger ?? silentLogger;
  const pipeline = opts.project.pipeline;
  const dataStore = opts.dataStore ?? opts.store;
  const checkpointStore = opts.checkpointStore ?? opts.store;
  const packagePrefix = opts.packagePrefix ?? `${opts.modelsPrefix}${opts.runId}/`;
  const params = resolveTrainingParams(pipeline.training_params, opts.overrides);
  const backend = await selectBackend({ logger, requireGpu: opts.requireGpu });

  const loaded = await loadCsvRows(dataStore, opts.dataKeys);
  const data = labelRows(loaded.rows, pipeline);
  if (data.droppedMissingTarget) logger.warn({ dropped: data.droppedMissingTarget }, `dropped ${data.droppedMissingTarget} rows without a target`);
  const splits = makeSplits(data, pipeline.train_split, params.validation_split, pipeline.seed);
  if (splits.fit.length === 0 || splits.validation.length === 0 || splits.test.length === 0) {
    throw new Error(`too few rows (${data.rows.length}) for train_split ${pipeline.train_split} and validation_split ${params.validation_split}: every split needs at least one row`);
  }
  const preprocessing = fitPreprocessing(
    splits.train.map((i) => data.rows[i]),
    { features: pipeline.features, categorical: pipeline.categorical_features },
  );
  const outputUnits = data.task === 'multiclass' ? data.classes.length : 1;
  let scale: { mean: number; std: number } | undefined;
  if (data.task === 'regression') {
    const values = splits.fit.map((i) => data.y[i]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) || 1;
    scale = { mean, std };
  }
  const configHash = stableHash({
    features: pipeline.features,
    categorical_features: pipeline.categorical_features ?? null,
    target: pipeline.target,
    task: data.task,
    positive_class: data.positiveClass,
    train_split: pipeline.train_split,
    seed: pipeline.seed,
    training_params: params,
  });
  const identity = { runId: opts.runId, dataHash: loaded.dataHash, configHash };
  logger.info(
    { run: opts.runId, rows: data.rows.length, fit: splits.fit.length, validation: splits.validation.length, test: splits.test.length, inputDim: preprocessing.outputDim, task: data.task },
    'training data ready',
  );

  const fitM = matrices(preprocessing, data.rows, splits.fit, data.y, data.task, outputUnits, scale);
  const valM = matrices(preprocessing, data.rows, splits.validation, data.y, data.task, outputUnits, scale);
  const testM = matrices(preprocessing, data.rows, splits.test, data.y, data.task, outputUnits, scale);
  const model = buildModel({ task: data.task, inputDim: preprocessing.outputDim, outputUnits }, params, pipeline.seed);
  const monitor = monitorOf(data.task);
  const optimizer = model.optimizer;

  let state: LoopState = { epoch: 0, history: [], bestMetric: null, bestEpoch: 0, epochsWithoutImprovement: 0, stopped: false, learningRate: params.learning_rate };
  let bestWeights: tf.Tensor[] = [];
  let resumedFromEpoch: number | null = null;
  const restored = await restoreLatestCheckpoint(checkpointStore, opts.checkpointsPrefix, identity, model, logger);
  if (restored) {
    state = restored.state;
    bestWeights = restored.bestWeights;
    resumedFromEpoch = state.epoch;
    setLearningRate(optimizer, state.learningRate ?? params.learning_rate);
    logger.info({ run: opts.runId, epoch: state.epoch }, `resuming from the checkpoint of epoch ${state.epoch}`);
  }

  const progress = createProgress(opts.progress ?? 'auto', opts.metricsOut);
  const sampler = new SystemSampler();
  const epochLogKey = `${packagePrefix}epochs.jsonl`;
  progress.start(params.epochs, state.epoch);
  try {
    while (!state.stopped && state.epoch < params.epochs) {
      if (opts.signal?.aborted) throw new TrainingAbortedError(state.epoch);
      const epoch = state.epoch + 1;
      const order = shuffledIndices(splits.fit.length, seededRandom(pipeline.seed * 7919 + epoch));
      const loss = await runEpoch(model, optimizer, fitM, order, params, data.task, opts.signal);
      if (opts.signal?.aborted) throw new TrainingAbortedError(state.epoch);
      const val = validationMetrics(data.task, valM.labels, await predict(model, valM.x), outputUnits, scale);
      const current = val[monitor.key];
      const improved = state.bestMetric === null || (monitor.mode === 'max' ? current > state.bestMetric : current < state.bestMetric);
      if (improved) {
        tf.dispose(bestWeights);
        bestWeights = model.getWeights().map((w) => w.clone());
        state.bestMetric = current;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
      } else {
        state.epochsWithoutImprovement++;
        if (state.epochsWithoutImprovement >= params.early_stopping_patience) state.stopped = true;
        else if (state.epochsWithoutImprovement % plateauEpochs(params) === 0) {
          // Reduce on plateau: halve the step size before giving up on this run.
          state.learningRate = Math.max((state.learningRate ?? params.learning_rate) / 2, params.learning_rate / 64);
          setLearningRate(optimizer, state.learningRate);
        }
      }
      const record: EpochRecord = { epoch, loss: round(loss), lr: round(state.learningRate ?? params.learning_rate, 8), ...mapValues(val, (v) => round(v)), ...(await sampler.sample()) };
      state.history.push(record);
      state.epoch = epoch;
      progress.epoch(record);
      await dataStoreWriteLines(opts.store, epochLogKey, state.history);
      await saveCheckpoint(checkpointStore, opts.checkpointsPrefix, identity, model, bestWeights, state);
      if (state.stopped) logger.info({ epoch, bestEpoch: state.bestEpoch }, `early stopping: no ${monitor.key} improvement for ${params.early_stopping_patience} epochs`);
    }
  } finally {
    progress.stop();
  }

  if (bestWeights.length) model.setWeights(bestWeights);
  if (scale) foldTargetScaling(model, scale.mean, scale.std);
  const testPreds = await predict(model, testM.x);
  const { metrics, roc, confusion } = evaluateTest(data.task, testM.labels, testPreds, outputUnits, data.classes);
  metrics.predict_latency_p99_ms = round(await latencyP99(model, preprocessing.outputDim), 4);
  const serialized = await serializeModel(model);
  metrics.model_size_bytes = serialized.weights.byteLength + Buffer.byteLength(JSON.stringify(serialized.modelJson));
  const validation = state.history.find((h) => h.epoch === state.bestEpoch) ?? state.history[state.history.length - 1] ?? { epoch: 0 };
  const lineage = {
    run_id: opts.runId,
    data_hash: loaded.dataHash,
    config_hash: configHash,
    code_version: codeVersion(),
    backend: backend.name,
    data_uri: opts.dataKeys.length === 1 ? dataStore.uri(opts.dataKeys[0]) : dataStore.uri(commonPrefix(opts.dataKeys) || opts.dataKeys[0]),
    parent_run: opts.parentRun ?? null,
  };
  const metadata: ModelMetadata = {
    format_version: 1,
    project: pipeline.project,
    task: data.task,
    features: pipeline.features,
    target: pipeline.target,
    classes: data.classes,
    positive_class: data.positiveClass,
    threshold: 0.5,
    input_dim: preprocessing.outputDim,
    layers: layerSummary(params, data.task, outputUnits),
    created_at: new Date().toISOString(),
    run_id: opts.runId,
    data_hash: loaded.dataHash,
    config_hash: configHash,
    code_version: lineage.code_version,
    backend: backend.name,
  };
  const reportHtml = renderReport({
    title: `${pipeline.project}: training run ${opts.runId}`,
    runId: opts.runId,
    task: data.task,
    metrics,
    history: state.history,
    roc,
    confusion,
    lineage: { ...lineage, best_epoch: state.bestEpoch, epochs: state.epoch },
  });
  await writeModelPackage(opts.store, packagePrefix, {
    model,
    preprocessing,
    metadata,
    metrics: { ...metrics, validation, best_epoch: state.bestEpoch, epochs: state.epoch, history: state.history, confusion: confusion?.matrix ?? null },
    reportHtml,
  });
  if ((opts.progress ?? 'auto') !== 'none') {
    (opts.metricsOut ?? process.stdout).write([`mlstack-test ${JSON.stringify(metrics)}`, ...finalMetricLines(validation, metrics)].join('\n') + '\n');
  }
  tf.dispose([fitM.x, fitM.y, valM.x, valM.y, testM.x, testM.y, ...bestWeights]);
  model.dispose();
  logger.info({ run: opts.runId, package: packagePrefix ? opts.store.uri(packagePrefix) : opts.store.root, metrics }, 'training finished');
  return {
    runId: opts.runId,
    packagePrefix,
    metrics,
    dataHash: loaded.dataHash,
    configHash,
    dataUri: lineage.data_uri,
    backend: backend.name,
    reportKey: `${packagePrefix}report.html`,
    epochs: state.epoch,
    resumedFromEpoch,
    task: data.task,
    validation: Object.fromEntries(Object.entries(validation).filter(([k]) => k.startsWith('val_'))),
    bestEpoch: state.bestEpoch,
  };
}

/** Epochs without improvement before the learning rate is halved: half the early-stopping patience, at least 2. */
export function plateauEpochs(params: TrainingParams): number {
  return Math.max(2, Math.ceil(params.early_stopping_patience / 2));
}

function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

/**
 * One pass over the fit rows in `order`. A hand-written loop over optimizer.minimize: about twice
 * the throughput of model.fit for small dense networks (no per-batch callbacks or log syncs).
 */
export async function runEpoch(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  data: Matrices,
  order: Uint32Array,
  params: TrainingParams,
  task: TaskKind,
  signal?: AbortSignal,
): Promise<number> {
  const n = order.length;
  const kernels = model.layers.filter((l) => l.getClassName() === 'Dense').map((l) => l.trainableWeights[0]);
  const lossFn = task === 'binary' ? tf.metrics.binaryCrossentropy : task === 'multiclass' ? tf.metrics.categoricalCrossentropy : tf.losses.meanSquaredError;
  const indexTensor = tf.tensor1d(Int32Array.from(order), 'int32');
  const xs = tf.gather(data.x, indexTensor);
  const ys = tf.gather(data.y, indexTensor);
  const total = tf.variable(tf.scalar(0), false);
  try {
    for (let start = 0; start < n; start += params.batch_size) {
      if (signal?.aborted) break;
      const size = Math.min(params.batch_size, n - start);
      tf.tidy(() => {
        const xb = xs.slice([start, 0], [size, xs.shape[1]]);
        const yb = ys.slice([start, 0], [size, ys.shape[1]]);
        const loss = optimizer.minimize(() => {
          const pred = model.apply(xb, { training: true }) as tf.Tensor;
          let l = tf.mean(lossFn(yb as tf.Tensor2D, pred as tf.Tensor2D)) as tf.Scalar;
          if (params.l2 > 0) for (const k of kernels) l = l.add(tf.sum(tf.square(k.read())).mul(params.l2));
          return l;
        }, true) as tf.Scalar;
        total.assign(total.add(loss.mul(size)));
      });
    }
    return ((await total.data())[0] as number) / n;
  } finally {
    tf.dispose([indexTensor, xs, ys, total]);
  }
}

function evaluateTest(
  task: TaskKind,
  labels: Float64Array,
  preds: Float32Array,
  k: number,
  classes: string[],
): { metrics: Record<string, number>; roc?: RocPoint[]; confusion?: { labels: string[]; matrix: number[][] } } {
  if (task === 'binary') {
    const { confusion, ...m } = binaryMetrics(labels, preds);
    return { metrics: mapValues(m, (v) => round(v)), roc: rocCurve(labels, preds), confusion: { labels: classes, matrix: confusion } };
  }
  if (task === 'multiclass') {
    const { confusion, ...m } = multiclassMetrics(labels, preds, k);
    return { metrics: mapValues(m, (v) => round(v)), confusion: { labels: classes, matrix: confusion } };
  }
  return { metrics: mapValues({ ...regressionMetrics(labels, preds) }, (v) => round(v)) };
}

function mapValues<T extends object>(obj: T, fn: (v: number) => number): Record<string, number> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v as number)]));
}

function commonPrefix(keys: string[]): string {
  let prefix = keys[0] ?? '';
  for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

async function dataStoreWriteLines(store: ObjectStore, key: string, records: object[]): Promise<void> {
  await store.put(key, records.map((r) => JSON.stringify(r)).join('\n') + '\n', { contentType: 'application/x-ndjson' });
}
