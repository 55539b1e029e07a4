/**
 * Training's last step: the fitted model evaluated on the held-out test split, timed and sized,
 * and written as a model package with its metadata, lineage, metrics and HTML report.
 */
import * as tf from '@tensorflow/tfjs';
import type { PipelineConfig, TrainingParams } from '../../config/schema';
import { trainingBaseline, writeBaseline } from '../monitoring/baseline';
import { serializeModel, writeModelPackage, type ModelMetadata, type TaskKind } from '../model/package';
import type { ObjectStore } from '../storage/object-store';
import type { EpochRecord } from './checkpoint';
import { mapValues, predict, type FittedModel } from './fit';
import { binaryMetrics, multiclassMetrics, percentile, regressionMetrics, rocCurve, type RocPoint } from './metrics';
import { layerSummary } from './model';
import type { PreparedData } from './prepare';
import { renderReport } from './report';
import { round } from './telemetry';
import { codeVersion } from './version';

export interface PackageInput {
  pipeline: PipelineConfig;
  params: TrainingParams;
  prepared: PreparedData;
  fitted: FittedModel;
  runId: string;
  backend: string;
  /** The package goes here, under packagePrefix. */
  store: ObjectStore;
  packagePrefix: string;
  /** Where the training data came from, for the lineage. */
  dataStore: ObjectStore;
  dataKeys: string[];
  parentRun: string | null;
}

export interface PackagedRun {
  /** Test split metrics, predict_latency_p99_ms and model_size_bytes. */
  metrics: Record<string, number>;
  /** The best epoch's record (the package holds its weights). */
  validation: EpochRecord;
  dataUri: string;
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

function commonPrefix(keys: string[]): string {
  let prefix = keys[0] ?? '';
  for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

/** The data trained on: the CSV object's URI, or the folder holding the CSV objects. */
function dataUriOf(store: ObjectStore, keys: string[]): string {
  return keys.length === 1 ? store.uri(keys[0]) : store.uri(commonPrefix(keys) || keys[0]);
}

function metadataOf(input: PackageInput, codeVersionText: string): ModelMetadata {
  const { pipeline, prepared } = input;
  return {
    format_version: 1,
    project: pipeline.project,
    task: prepared.data.task,
    features: pipeline.features,
    target: pipeline.target,
    classes: prepared.data.classes,
    positive_class: prepared.data.positiveClass,
    threshold: 0.5,
    input_dim: prepared.preprocessing.outputDim,
    layers: layerSummary(input.params, prepared.data.task, prepared.outputUnits),
    created_at: new Date().toISOString(),
    run_id: input.runId,
    data_hash: prepared.dataHash,
    config_hash: prepared.configHash,
    code_version: codeVersionText,
    backend: input.backend,
  };
}

/** Evaluates the fitted model on the test split and writes the package (model, preprocessing, metadata, metrics, report). */
export async function packageRun(input: PackageInput): Promise<PackagedRun> {
  const { prepared, fitted, pipeline } = input;
  const { model, state } = fitted;
  const testPreds = await predict(model, prepared.test.x);
  const { metrics, roc, confusion } = evaluateTest(prepared.data.task, prepared.test.labels, testPreds, prepared.outputUnits, prepared.data.classes);
  metrics.predict_latency_p99_ms = round(await latencyP99(model, prepared.preprocessing.outputDim), 4);
  const serialized = await serializeModel(model);
  metrics.model_size_bytes = serialized.weights.byteLength + Buffer.byteLength(JSON.stringify(serialized.modelJson));
  const validation = state.history.find((h) => h.epoch === state.bestEpoch) ?? state.history[state.history.length - 1] ?? { epoch: 0 };
  const lineage = {
    run_id: input.runId,
    data_hash: prepared.dataHash,
    config_hash: prepared.configHash,
    code_version: codeVersion(),
    backend: input.backend,
    data_uri: dataUriOf(input.dataStore, input.dataKeys),
    parent_run: input.parentRun,
  };
  const metadata = metadataOf(input, lineage.code_version);
  const reportHtml = renderReport({
    title: `${pipeline.project}: training run ${input.runId}`,
    runId: input.runId,
    task: prepared.data.task,
    metrics,
    history: state.history,
    roc,
    confusion,
    lineage: { ...lineage, best_epoch: state.bestEpoch, epochs: state.epoch },
  });
  const baseline = trainingBaseline({ rows: prepared.data.rows, indices: prepared.splits.fit, preprocessing: prepared.preprocessing, task: prepared.data.task, predictions: testPreds, classes: prepared.data.classes });
  await writeBaseline(input.store, input.packagePrefix, baseline); // before the package: its manifest lists baseline.json
  await writeModelPackage(input.store, input.packagePrefix, {
    model,
    preprocessing: prepared.preprocessing,
    metadata,
    metrics: { ...metrics, validation, best_epoch: state.bestEpoch, epochs: state.epoch, history: state.history, confusion: confusion?.matrix ?? null },
    reportHtml,
  });
  return { metrics, validation, dataUri: lineage.data_uri };
}
