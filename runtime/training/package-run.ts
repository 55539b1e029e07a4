/**
 * Training's last step: the fitted model evaluated on the held-out test split, timed and sized,
 * and written as a model package with its metadata, lineage, metrics and HTML report.
 */
import type { PipelineConfig, TrainingParams } from '../../config/schema';
import { trainingBaseline, writeBaseline } from '../monitoring/baseline';
import { serializeModel, writeModelPackage, type FeatureImportance, type ModelMetadata, type TaskKind } from '../model/package';
import type { ObjectStore } from '../storage/object-store';
import type { EpochRecord } from './checkpoint';
import type { RunModel } from './classic';
import { mapValues } from './fit';
import { featureImportance } from './importance';
import { binaryMetrics, multiclassMetrics, percentile, regressionMetrics, rocCurve, type RocPoint } from './metrics';
import type { PreparedData } from './prepare';
import { calibrationBins, classBalance, prCurve, thresholdTable } from './curves';
import { renderReport, type ReportInput } from './report';
import { resolvedParams } from './track';
import { round } from './telemetry';
import { codeVersion } from './version';

export interface PackageInput {
  pipeline: PipelineConfig;
  params: TrainingParams;
  prepared: PreparedData;
  fitted: RunModel;
  runId: string;
  backend: string;
  /** The package goes here, under packagePrefix. */
  store: ObjectStore;
  packagePrefix: string;
  /** Where the training data came from, for the lineage. */
  dataStore: ObjectStore;
  dataKeys: string[];
  parentRun: string | null;
  /** model_type "auto": every candidate trained, recorded in metrics.json. */
  candidates?: { model_type: string; validation: Record<string, number>; selected: boolean }[];
}

export interface PackagedRun {
  /** Test split metrics, predict_latency_p99_ms and model_size_bytes. */
  metrics: Record<string, number>;
  /** The best epoch's record (the package holds its weights). */
  validation: EpochRecord;
  dataUri: string;
  importance: FeatureImportance[];
}

/** Permutation repeats per feature on the test split. */
const IMPORTANCE_REPEATS = 3;

async function latencyP99(model: RunModel, inputDim: number, samples = 100): Promise<number> {
  const x = new Float32Array(inputDim);
  const times: number[] = [];
  for (let i = 0; i < samples + 10; i++) {
    const start = process.hrtime.bigint();
    await model.predict(x, 1);
    if (i >= 10) times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return percentile(times, 0.99);
}

async function modelSizeBytes(files: RunModel['files']): Promise<number> {
  if ('trees' in files) return Buffer.byteLength(JSON.stringify(files.trees));
  const serialized = await serializeModel(files.model);
  return serialized.weights.byteLength + Buffer.byteLength(JSON.stringify(serialized.modelJson));
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

function metadataOf(input: PackageInput, lineage: { code_version: string; data_uri: string }): ModelMetadata {
  const { pipeline, prepared } = input;
  return {
    format_version: 1,
    model_type: input.fitted.modelType,
    project: pipeline.project,
    task: prepared.data.task,
    features: pipeline.features,
    target: pipeline.target,
    classes: prepared.data.classes,
    positive_class: prepared.data.positiveClass,
    threshold: 0.5,
    input_dim: prepared.preprocessing.outputDim,
    layers: input.fitted.layers,
    created_at: new Date().toISOString(),
    run_id: input.runId,
    data_hash: prepared.dataHash,
    config_hash: prepared.configHash,
    code_version: lineage.code_version,
    data_uri: lineage.data_uri,
    backend: input.backend,
  };
}

/** The report's hyperparameters and, for classification, class balance; for binary also PR, calibration and thresholds. */
function reportExtras(input: PackageInput, testPreds: Float32Array): Pick<ReportInput, 'params' | 'balance' | 'pr' | 'calibration' | 'thresholds'> {
  const { data, splits, test } = input.prepared;
  const params = resolvedParams(input.pipeline, input.params);
  if (data.task === 'regression') return { params };
  const balance = { train: classBalance(splits.train.map((i) => data.y[i]), data.classes), test: classBalance(test.labels, data.classes) };
  if (data.task !== 'binary') return { params, balance };
  return { params, balance, pr: prCurve(test.labels, testPreds), calibration: calibrationBins(test.labels, testPreds), thresholds: thresholdTable(test.labels, testPreds) };
}

/** Evaluates the fitted model on the test split and writes the package (model, preprocessing, metadata, metrics, importance, report). */
export async function packageRun(input: PackageInput): Promise<PackagedRun> {
  const { prepared, fitted, pipeline } = input;
  const testX = (await prepared.test.x.data()) as Float32Array;
  const testPreds = await fitted.predict(testX, prepared.test.labels.length);
  const { metrics, roc, confusion } = evaluateTest(prepared.data.task, prepared.test.labels, testPreds, prepared.outputUnits, prepared.data.classes);
  metrics.predict_latency_p99_ms = round(await latencyP99(fitted, prepared.preprocessing.outputDim), 4);
  metrics.model_size_bytes = await modelSizeBytes(fitted.files);
  const importance = await featureImportance({ predict: fitted.predict, x: testX, labels: prepared.test.labels, task: prepared.data.task, outputs: prepared.outputUnits, preprocessing: prepared.preprocessing, repeats: IMPORTANCE_REPEATS, seed: pipeline.seed, splitGain: fitted.splitGain });
  const validation = fitted.validation;
  const lineage = {
    run_id: input.runId,
    data_hash: prepared.dataHash,
    config_hash: prepared.configHash,
    code_version: codeVersion(),
    backend: input.backend,
    data_uri: dataUriOf(input.dataStore, input.dataKeys),
    parent_run: input.parentRun,
  };
  const metadata = metadataOf(input, lineage);
  const reportHtml = renderReport({
    title: `${pipeline.project}: training run ${input.runId}`,
    runId: input.runId,
    task: prepared.data.task,
    metrics,
    history: fitted.history,
    roc,
    confusion,
    importance,
    lineage: { ...lineage, model_type: fitted.modelType, best_epoch: fitted.bestEpoch, epochs: fitted.epochs },
    ...reportExtras(input, testPreds),
  });
  const baseline = trainingBaseline({ rows: prepared.data.rows, indices: prepared.splits.fit, preprocessing: prepared.preprocessing, task: prepared.data.task, predictions: testPreds, classes: prepared.data.classes });
  await writeBaseline(input.store, input.packagePrefix, baseline); // before the package: its manifest lists baseline.json
  await writeModelPackage(input.store, input.packagePrefix, {
    ...fitted.files,
    preprocessing: prepared.preprocessing,
    metadata,
    metrics: { ...metrics, validation, best_epoch: fitted.bestEpoch, epochs: fitted.epochs, history: fitted.history, confusion: confusion?.matrix ?? null, feature_importance: importance, ...(input.candidates ? { candidates: input.candidates } : {}) },
    reportHtml,
  });
  return { metrics, validation, dataUri: lineage.data_uri, importance };
}
