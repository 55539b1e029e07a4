/**
 * Permutation importance on the test split, for every model type: how much the test score drops when one
 * feature's preprocessed columns are shuffled across rows (seeded, `repeats` times). The score is AUC for
 * binary tasks, minus the log loss for multiclass and minus the RMSE for regression.
 */
import { seededRandom } from '../common/random';
import type { FeatureImportance, TaskKind } from '../model/package';
import type { PreprocessingState } from '../model/preprocessing';
import { shuffledIndices } from './data';
import { binaryMetrics, multiclassMetrics, regressionMetrics } from './metrics';

export interface ImportanceInput {
  predict(x: Float32Array, n: number): Promise<Float32Array>;
  x: Float32Array;
  labels: Float64Array;
  task: TaskKind;
  outputs: number;
  preprocessing: PreprocessingState;
  repeats: number;
  seed: number;
  splitGain?: Record<string, number>;
}

function scoreOf(task: TaskKind, labels: Float64Array, preds: Float32Array, k: number): number {
  if (task === 'binary') return binaryMetrics(labels, preds).auc;
  if (task === 'multiclass') return -multiclassMetrics(labels, preds, k).log_loss;
  return -regressionMetrics(labels, preds).rmse;
}

/** Each feature's preprocessed columns: [start, end). */
function featureBlocks(state: PreprocessingState): { name: string; start: number; end: number }[] {
  const sorted = [...state.features].sort((a, b) => a.offset - b.offset);
  return sorted.map((f, i) => ({ name: f.name, start: f.offset, end: sorted[i + 1]?.offset ?? state.outputDim }));
}

function permuted(x: Float32Array, dim: number, n: number, block: { start: number; end: number }, order: Uint32Array): Float32Array {
  const out = Float32Array.from(x);
  for (let r = 0; r < n; r++) for (let c = block.start; c < block.end; c++) out[r * dim + c] = x[order[r] * dim + c];
  return out;
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** Importance per feature, most important first. */
export async function featureImportance(input: ImportanceInput): Promise<FeatureImportance[]> {
  const dim = input.preprocessing.outputDim;
  const n = input.labels.length;
  const random = seededRandom(input.seed);
  const baseline = scoreOf(input.task, input.labels, await input.predict(input.x, n), input.outputs);
  const result: FeatureImportance[] = [];
  for (const block of featureBlocks(input.preprocessing)) {
    const drops: number[] = [];
    for (let i = 0; i < input.repeats; i++) {
      const preds = await input.predict(permuted(input.x, dim, n, block, shuffledIndices(n, random)), n);
      drops.push(baseline - scoreOf(input.task, input.labels, preds, input.outputs));
    }
    const mean = drops.reduce((a, b) => a + b, 0) / drops.length;
    const std = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / drops.length);
    const gain = input.splitGain?.[block.name];
    result.push({ feature: block.name, permutation: round6(mean), permutation_std: round6(std), ...(gain === undefined ? {} : { split_gain: round6(gain) }) });
  }
  return result.sort((a, b) => b.permutation - a.permutation);
}
