/**
 * Training's first step: processed CSV -> labelled rows -> train / validation / test splits ->
 * preprocessing fitted on the train split -> the three matrices the fit loop and evaluation use.
 */
import * as tf from '../model/tf';
import type { PipelineConfig, TrainingParams } from '../../config/schema';
import type { Logger } from '../common/logger';
import type { TaskKind } from '../model/package';
import { fitPreprocessing, transformRows, type PreprocessingState } from '../model/preprocessing';
import type { ObjectStore } from '../storage/object-store';
import { loadCsvRows, stableHash, type Row } from './data';
import { labelRows, makeSplits, type LabelledData, type Splits } from './dataset';
import { ConfigInvalidError, InvalidInputError } from '../common/errors';

export interface Matrices {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  labels: Float64Array;
}

/** Regression targets are standardised for training; the scaling is folded into the output layer afterwards. */
export interface TargetScale {
  mean: number;
  std: number;
}

export interface PreparedData {
  data: LabelledData;
  splits: Splits;
  preprocessing: PreprocessingState;
  /** Output units: the class count for multiclass, else 1. */
  outputUnits: number;
  scale: TargetScale | undefined;
  dataHash: string;
  /** Hash of everything in the config that shapes the model: a checkpoint only resumes a run with the same one. */
  configHash: string;
  fit: Matrices;
  validation: Matrices;
  test: Matrices;
}

export interface PrepareInput {
  pipeline: PipelineConfig;
  params: TrainingParams;
  dataStore: ObjectStore;
  dataKeys: string[];
  runId: string;
  logger: Logger;
}

function matrices(state: PreprocessingState, rows: Row[], indices: number[], y: Float64Array, task: TaskKind, classes: number, scale?: TargetScale): Matrices {
  const picked = indices.map((i) => rows[i]);
  const x = tf.tensor2d(transformRows(state, picked), [indices.length, state.outputDim]);
  const labels = Float64Array.from(indices, (i) => y[i]);
  let yt: tf.Tensor2D;
  if (task === 'multiclass') {
    yt = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes), 'float32') as tf.Tensor2D);
  } else {
    const values = scale ? labels.map((v) => (v - scale.mean) / scale.std) : labels;
    yt = tf.tensor2d(Float32Array.from(values), [indices.length, 1]);
  }
  return { x, y: yt, labels };
}

/** Mean and standard deviation of the regression target over the fit rows (undefined for classification). */
export function targetScale(data: LabelledData, fit: number[]): TargetScale | undefined {
  if (data.task !== 'regression') return undefined;
  const values = fit.map((i) => data.y[i]);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) || 1;
  return { mean, std };
}

function configHashOf(pipeline: PipelineConfig, data: LabelledData, params: TrainingParams): string {
  return stableHash({
    features: pipeline.features,
    categorical_features: pipeline.categorical_features ?? null,
    target: pipeline.target,
    task: data.task,
    positive_class: data.positiveClass,
    train_split: pipeline.train_split,
    seed: pipeline.seed,
    training_params: params,
  });
}

/** Loads and labels the data, splits it, fits preprocessing on the train split and builds the matrices. */
export async function prepareData(input: PrepareInput): Promise<PreparedData> {
  const { pipeline, params, logger } = input;
  const loaded = await loadCsvRows(input.dataStore, input.dataKeys);
  const data = labelRows(loaded.rows, pipeline);
  if (data.droppedMissingTarget) logger.warn({ dropped: data.droppedMissingTarget }, `dropped ${data.droppedMissingTarget} rows without a target`);
  const splits = makeSplits(data, pipeline.train_split, params.validation_split, pipeline.seed);
  if (splits.fit.length === 0 || splits.validation.length === 0 || splits.test.length === 0) {
    throw new InvalidInputError(`too few rows (${data.rows.length}) for train_split ${pipeline.train_split} and validation_split ${params.validation_split}: every split needs at least one row`);
  }
  if (params.batch_size > splits.fit.length) {
    // tf would silently train full-batch: one step per epoch, not the run the config describes.
    throw new ConfigInvalidError(
      `training_params.batch_size is ${params.batch_size} (with any override), but the fit split has only ${splits.fit.length} rows ` +
        `(${data.rows.length} rows, train_split ${pipeline.train_split}, validation_split ${params.validation_split}): set batch_size to at most ${splits.fit.length}, or train on more data`,
    );
  }
  const preprocessing = fitPreprocessing(
    splits.train.map((i) => data.rows[i]),
    { features: pipeline.features, categorical: pipeline.categorical_features },
  );
  const outputUnits = data.task === 'multiclass' ? data.classes.length : 1;
  const scale = targetScale(data, splits.fit);
  const configHash = configHashOf(pipeline, data, params);
  logger.info(
    { run: input.runId, rows: data.rows.length, fit: splits.fit.length, validation: splits.validation.length, test: splits.test.length, inputDim: preprocessing.outputDim, task: data.task },
    'training data ready',
  );
  const build = (indices: number[]) => matrices(preprocessing, data.rows, indices, data.y, data.task, outputUnits, scale);
  return { data, splits, preprocessing, outputUnits, scale, dataHash: loaded.dataHash, configHash, fit: build(splits.fit), validation: build(splits.validation), test: build(splits.test) };
}

/** Frees the prepared matrices' tensors. */
export function disposePrepared(prepared: PreparedData): void {
  tf.dispose([prepared.fit.x, prepared.fit.y, prepared.validation.x, prepared.validation.y, prepared.test.x, prepared.test.y]);
}
