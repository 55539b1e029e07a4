/**
 * Histogram gradient boosting (binary, multiclass, regression) over tree columns: each round fits one
 * tree per output to the loss's gradients and hessians (Newton leaves with L2), on a seeded row sample
 * (bagging_fraction) and column sample (feature_fraction), and stops when the validation loss has not
 * improved for early_stopping_rounds; the ensemble keeps the trees up to the best round.
 */
import { seededRandom } from '../common/random';
import type { TaskKind } from '../model/package';
import { applyLink, leafOf, type TreeColumn, type TreeEnsemble, type TreeLink, type TreeNodes, TREES_FORMAT } from '../model/trees';
import { binColumns } from './gbdt-bins';
import { growTree, type GrowRules } from './gbdt-tree';
import { outputLoss } from './losses';

export interface BoostParams {
  num_trees: number;
  learning_rate: number;
  num_leaves: number;
  max_depth: number;
  max_bins: number;
  min_data_in_leaf: number;
  lambda_l2: number;
  bagging_fraction: number;
  feature_fraction: number;
  early_stopping_rounds: number;
}

/** Column-major tree-column values (view[c * n + r]) with labels (class index, or the target). */
export interface TreeData {
  view: Float32Array;
  n: number;
  labels: Float64Array;
}

export interface BoostInput {
  task: TaskKind;
  /** 1 for binary and regression, the class count for multiclass. */
  outputs: number;
  columns: TreeColumn[];
  fit: TreeData;
  validation: TreeData;
  params: BoostParams;
  seed: number;
}

export interface BoostResult {
  ensemble: TreeEnsemble;
  /** Per round: mean training and validation loss. */
  history: { round: number; loss: number; val_loss: number }[];
  bestRound: number;
}

function linkOf(task: TaskKind): TreeLink {
  return task === 'binary' ? 'sigmoid' : task === 'multiclass' ? 'softmax' : 'identity';
}

function baseScore(task: TaskKind, labels: Float64Array, k: number): number[] {
  if (task === 'regression') return [labels.reduce((a, b) => a + b, 0) / labels.length];
  const counts = new Array(k).fill(0);
  for (const y of labels) counts[task === 'binary' ? 0 : y] += task === 'binary' ? y : 1;
  if (task === 'binary') {
    const p = Math.min(Math.max(counts[0] / labels.length, 1e-6), 1 - 1e-6);
    return [Math.log(p / (1 - p))];
  }
  return counts.map((c) => Math.log(Math.max(c / labels.length, 1e-6)));
}

/** Mean loss of raw scores (n x k): log loss, multiclass log loss or squared error / 2. */
export function meanLoss(task: TaskKind, raw: Float32Array, labels: Float64Array, k: number): number {
  const p = Float32Array.from(raw);
  applyLink(linkOf(task), p, labels.length, k);
  return outputLoss(task, p, labels, k);
}

/** Gradients and hessians of output `o` for every row, from the current raw scores. */
function gradients(task: TaskKind, raw: Float32Array, labels: Float64Array, k: number, o: number, grad: Float64Array, hess: Float64Array): void {
  const p = task === 'multiclass' ? Float32Array.from(raw) : raw;
  if (task === 'multiclass') applyLink('softmax', p, labels.length, k);
  for (let r = 0; r < labels.length; r++) {
    if (task === 'regression') {
      grad[r] = raw[r] - labels[r];
      hess[r] = 1;
    } else if (task === 'binary') {
      const q = 1 / (1 + Math.exp(-raw[r]));
      grad[r] = q - labels[r];
      hess[r] = Math.max(q * (1 - q), 1e-16);
    } else {
      const q = p[r * k + o];
      grad[r] = q - (labels[r] === o ? 1 : 0);
      hess[r] = Math.max(q * (1 - q), 1e-16);
    }
  }
}

/** A seeded sample of `share` of 0..n-1 (all of them when share is 1). */
function sample(n: number, share: number, random: () => number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (share >= 1) return all;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, Math.max(1, Math.round(n * share))).sort((a, b) => a - b);
}

function addTree(tree: TreeNodes, data: TreeData, raw: Float32Array, k: number, o: number): void {
  const sets = tree.categories.map((c) => (c ? new Set(c) : null));
  for (let r = 0; r < data.n; r++) raw[r * k + o] += tree.leaf_values[leafOf(tree, data.view, data.n, r, sets)];
}

function rulesOf(p: BoostParams): GrowRules {
  return { numLeaves: p.num_leaves, maxDepth: p.max_depth, learningRate: p.learning_rate, lambdaL2: p.lambda_l2, minDataInLeaf: p.min_data_in_leaf, minSumHessian: 1e-3, catSmooth: 10 };
}

function initialScores(data: TreeData, base: number[]): Float32Array {
  const raw = new Float32Array(data.n * base.length);
  for (let r = 0; r < data.n; r++) for (let o = 0; o < base.length; o++) raw[r * base.length + o] = base[o];
  return raw;
}

/** Boosts rounds until num_trees or early stopping; returns the ensemble cut at the best validation round. */
export function boost(input: BoostInput): BoostResult {
  const { task, fit, validation, params } = input;
  const k = input.outputs;
  const random = seededRandom(input.seed);
  const binned = binColumns(input.columns, fit.view, fit.n, params.max_bins);
  const base = baseScore(task, fit.labels, k);
  const raw = initialScores(fit, base);
  const valRaw = initialScores(validation, base);
  const grad = new Float64Array(fit.n);
  const hess = new Float64Array(fit.n);
  const trees: TreeNodes[] = [];
  const history: BoostResult['history'] = [];
  let best = { round: 0, loss: meanLoss(task, valRaw, validation.labels, k) };
  for (let round = 1; round <= params.num_trees; round++) {
    const rows = Uint32Array.from(sample(fit.n, params.bagging_fraction, random));
    const columns = sample(input.columns.length, params.feature_fraction, random);
    // All outputs' gradients come from the scores before this round's trees.
    const before = k > 1 ? Float32Array.from(raw) : raw;
    for (let o = 0; o < k; o++) {
      gradients(task, before, fit.labels, k, o, grad, hess);
      const tree = growTree(binned, rows.slice(), columns, grad, hess, rulesOf(params));
      trees.push(tree);
      addTree(tree, fit, raw, k, o);
      addTree(tree, validation, valRaw, k, o);
    }
    const valLoss = meanLoss(task, valRaw, validation.labels, k);
    history.push({ round, loss: meanLoss(task, raw, fit.labels, k), val_loss: valLoss });
    if (valLoss < best.loss - 1e-12) best = { round, loss: valLoss };
    else if (round - best.round >= params.early_stopping_rounds) break;
  }
  const kept = trees.slice(0, Math.max(best.round, 1) * k);
  return { ensemble: { format: TREES_FORMAT, columns: input.columns, outputs: k, link: linkOf(task), base_score: base, trees: kept }, history, bestRound: best.round };
}

/** Total split gain per tree column over the ensemble's trees. */
export function splitGainByColumn(ensemble: TreeEnsemble): number[] {
  const gains = new Array(ensemble.columns.length).fill(0);
  for (const tree of ensemble.trees) tree.feature.forEach((c, i) => (gains[c] += tree.gain[i]));
  return gains;
}
