/** The network from config: a plain Sequential of Dense (+ Dropout) layers, seeded. */
import * as tf from '../model/tf';
import type { TrainingParams } from '../../config/schema';
import type { Activation, TaskKind } from '../model/package';

export interface ModelShape {
  task: TaskKind;
  inputDim: number;
  /** 1 for binary and regression, the class count for multiclass. */
  outputUnits: number;
}

export function hiddenLayersOf(params: Pick<TrainingParams, 'hidden_layers' | 'hidden_size'>): number[] {
  return params.hidden_layers ?? [params.hidden_size as number];
}

export function outputActivation(task: TaskKind): Activation {
  return task === 'binary' ? 'sigmoid' : task === 'multiclass' ? 'softmax' : 'linear';
}

export function lossOf(task: TaskKind): string {
  return task === 'binary' ? 'binaryCrossentropy' : task === 'multiclass' ? 'categoricalCrossentropy' : 'meanSquaredError';
}

/** L2 weight decay is applied by the training loop (runEpoch), so the saved topology stays plain. */
export function buildModel(shape: ModelShape, params: TrainingParams, seed: number): tf.Sequential {
  const model = tf.sequential();
  let layerSeed = seed;
  hiddenLayersOf(params).forEach((units, i) => {
    model.add(
      tf.layers.dense({
        ...(i === 0 ? { inputShape: [shape.inputDim] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: layerSeed++ }),
      }),
    );
    // Seeded per batch by reseedDropout: a fixed seed would draw the same mask on every batch.
    if (params.dropout > 0) model.add(tf.layers.dropout({ rate: params.dropout, seed }));
  });
  model.add(
    tf.layers.dense({
      units: shape.outputUnits,
      activation: outputActivation(shape.task),
      kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed++ }),
    }),
  );
  model.compile({ optimizer: tf.train.adam(params.learning_rate), loss: lossOf(shape.task) });
  return model;
}

/**
 * Gives every Dropout layer a seed derived from `seed` (a different one per layer): the training loop calls it
 * before each batch with a seed of (run seed, epoch, batch), so masks differ between batches yet a run with the
 * same data, config and seed draws the same masks, and its weights come out identical.
 */
export function reseedDropout(model: tf.LayersModel, seed: number): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed?: number }).seed = seed * 31 + i;
  });
}

/** Dense layer summary for metadata. */
export function layerSummary(params: TrainingParams, task: TaskKind, outputUnits: number): { units: number; activation: Activation }[] {
  return [...hiddenLayersOf(params).map((units) => ({ units, activation: 'relu' as Activation })), { units: outputUnits, activation: outputActivation(task) }];
}

/**
 * Regression trains on a standardised target; this rewrites the last Dense layer so the
 * model predicts in the target's own units: y = std * (w·h + b) + mean.
 */
export function foldTargetScaling(model: tf.LayersModel, mean: number, std: number): void {
  const last = model.layers[model.layers.length - 1];
  const [kernel, bias] = last.getWeights();
  tf.tidy(() => last.setWeights([tf.mul(kernel, std), tf.add(tf.mul(bias, std), mean)]));
}
