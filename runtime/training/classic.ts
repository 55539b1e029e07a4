/**
 * Fitting the models that need no tf: gradient-boosted trees (gbdt.ts) over the tree view of the shared
 * preprocessing, and linear models (linear.ts) over its columns. Both come back as a RunModel, the
 * shape package-run.ts writes for every model type.
 */
import * as tf from '../model/tf';
import type { TrainedModelType, TrainingParams } from '../../config/schema';
import type { Activation, ModelMetadata } from '../model/package';
import { createTreeForward, treeColumnsOf, treeView, type TreeEnsemble } from '../model/trees';
import type { EpochRecord } from './checkpoint';
import { validationMetrics } from './fit';
import { boost, splitGainByColumn } from './gbdt';
import { fitLinear, linearPredict, type LinearModel } from './linear';
import { outputActivation } from './model';
import type { Matrices, PreparedData } from './prepare';

/** A fitted model of any type, as packaging needs it. */
export interface RunModel {
  modelType: TrainedModelType;
  /** What the package stores: the Dense model (net, linear) or the trees. */
  files: { model: tf.LayersModel } | { trees: TreeEnsemble };
  /** Outputs for preprocessed rows (row-major n x input_dim). */
  predict(x: Float32Array, n: number): Promise<Float32Array>;
  history: EpochRecord[];
  /** The validation record of the kept epoch or round. */
  validation: EpochRecord;
  bestEpoch: number;
  epochs: number;
  layers: ModelMetadata['layers'];
  /** Trees: total split gain per feature. */
  splitGain?: Record<string, number>;
  dispose(): void;
}

async function rowsOf(m: Matrices): Promise<{ x: Float32Array; n: number; labels: Float64Array }> {
  return { x: (await m.x.data()) as Float32Array, n: m.labels.length, labels: m.labels };
}

function validationRecord(prepared: PreparedData, epoch: number, preds: Float32Array): EpochRecord {
  const { task } = prepared.data;
  return { epoch, ...validationMetrics(task, prepared.validation.labels, preds, prepared.outputUnits, task === 'regression' ? { mean: 0, std: 1 } : undefined) };
}

function splitGainByFeature(ensemble: TreeEnsemble): Record<string, number> {
  const gains: Record<string, number> = {};
  splitGainByColumn(ensemble).forEach((g, c) => {
    const feature = ensemble.columns[c].name.replace(/__missing$/, '');
    gains[feature] = (gains[feature] ?? 0) + g;
  });
  return gains;
}

async function fitTrees(prepared: PreparedData, params: TrainingParams, seed: number): Promise<RunModel> {
  const dim = prepared.preprocessing.outputDim;
  const columns = treeColumnsOf(prepared.preprocessing);
  const view = async (m: Matrices) => {
    const rows = await rowsOf(m);
    return { view: treeView(columns, rows.x, rows.n, dim), n: rows.n, labels: rows.labels };
  };
  const task = prepared.data.task;
  const result = boost({ task, outputs: prepared.outputUnits, columns, fit: await view(prepared.fit), validation: await view(prepared.validation), params: params.gradient_boosting, seed });
  const forward = createTreeForward(result.ensemble, dim);
  const val = await rowsOf(prepared.validation);
  return {
    modelType: 'gradient_boosting',
    files: { trees: result.ensemble },
    predict: async (x, n) => forward(x, n),
    history: result.history.map(({ round, ...r }) => ({ epoch: round, ...r })),
    validation: validationRecord(prepared, result.bestRound, forward(val.x, val.n)),
    bestEpoch: result.bestRound,
    epochs: result.history.length,
    layers: [{ units: prepared.outputUnits, activation: outputActivation(task) }],
    splitGain: splitGainByFeature(result.ensemble),
    dispose: () => undefined,
  };
}

/** A one-layer tf model holding the linear weights, so the package is a plain Dense package. */
function denseModelOf(model: LinearModel, dim: number, activation: Activation): tf.LayersModel {
  const k = model.bias.length;
  const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [dim], units: k, activation })] });
  tf.tidy(() => dense.setWeights([tf.tensor2d(model.kernel, [dim, k]), tf.tensor1d(model.bias)]));
  return dense;
}

async function fitLinearModel(prepared: PreparedData, params: TrainingParams, seed: number, modelType: TrainedModelType): Promise<RunModel> {
  const dim = prepared.preprocessing.outputDim;
  const task = prepared.data.task;
  const scale = prepared.scale ?? { mean: 0, std: 1 };
  const standardise = async (m: Matrices) => {
    const rows = await rowsOf(m);
    return task === 'regression' ? { ...rows, labels: rows.labels.map((v) => (v - scale.mean) / scale.std) } : rows;
  };
  const result = fitLinear(task, prepared.outputUnits, dim, await standardise(prepared.fit), await standardise(prepared.validation), params.linear, seed);
  // Regression: fold the target scaling into the weights, so the model predicts in the target's units.
  const model: LinearModel = task === 'regression' ? { ...result.model, kernel: result.model.kernel.map((w) => w * scale.std), bias: result.model.bias.map((b) => b * scale.std + scale.mean) } : result.model;
  const val = await rowsOf(prepared.validation);
  const activation = outputActivation(task);
  const dense = denseModelOf(model, dim, activation);
  return {
    modelType,
    files: { model: dense },
    predict: async (x, n) => linearPredict(model, x, n, dim),
    history: result.history,
    validation: validationRecord(prepared, result.bestEpoch, linearPredict(model, val.x, val.n, dim)),
    bestEpoch: result.bestEpoch,
    epochs: result.history.length,
    layers: [{ units: prepared.outputUnits, activation }],
    dispose: () => dense.dispose(),
  };
}

/** Fits a gradient_boosting, logistic_regression or linear model on the prepared splits. */
export function fitClassic(modelType: Exclude<TrainedModelType, 'neural_network'>, prepared: PreparedData, params: TrainingParams, seed: number): Promise<RunModel> {
  return modelType === 'gradient_boosting' ? fitTrees(prepared, params, seed) : fitLinearModel(prepared, params, seed, modelType);
}
