import { binColumns, binOf, numericEdges } from '../../runtime/training/gbdt-bins';
import { growTree, type GrowRules } from '../../runtime/training/gbdt-tree';
import { boost, meanLoss, type BoostParams } from '../../runtime/training/gbdt';
import { createTreeForward, leafOf, treeColumnsOf, treeView, type TreeColumn, type TreeNodes } from '../../runtime/model/trees';
import { fitPreprocessing, transformRows } from '../../runtime/model/preprocessing';
import { seededRandom } from '../../runtime/common/random';

const rules: GrowRules = { numLeaves: 2, maxDepth: 0, learningRate: 1, lambdaL2: 0, minDataInLeaf: 1, minSumHessian: 0, catSmooth: 0 };
const numeric: TreeColumn[] = [{ name: 'x', kind: 'numeric', at: 0 }];

function grow(values: number[], grad: number[], columns: TreeColumn[] = numeric, over: Partial<GrowRules> = {}): TreeNodes {
  const view = Float32Array.from(values);
  const binned = binColumns(columns, view, values.length, 255);
  const rows = Uint32Array.from(values.keys());
  return growTree(binned, rows, [0], Float64Array.from(grad), new Float64Array(values.length).fill(1), { ...rules, ...over });
}

function predictOne(tree: TreeNodes, x: number): number {
  const sets = tree.categories.map((c) => (c ? new Set(c) : null));
  return tree.leaf_values[leafOf(tree, Float32Array.of(x), 1, 0, sets)];
}

describe('binning', () => {
  it('gives one bin per distinct value when there are few, and bin 0 to NaN', () => {
    const edges = numericEdges(Float32Array.of(3, 1, 2, 2, NaN), 10);
    expect(Array.from(edges)).toEqual([1.5, 2.5, Infinity]);
    expect([NaN, 0, 1, 2, 2.6, 99].map((x) => binOf(edges, x))).toEqual([0, 1, 1, 2, 3, 3]);
  });

  it('cuts many values into at most the bins allowed, by quantile', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i);
    const edges = numericEdges(values, 10);
    expect(edges.length).toBeLessThanOrEqual(10);
    expect(edges[0]).toBeCloseTo(99.5);
  });
});

describe('growing one tree', () => {
  it('splits x at 2.5 with Newton leaf values -G/H (hand-checked)', () => {
    const tree = grow([1, 2, 3, 4], [-1, -1, 1, 1]);
    expect(tree.feature).toEqual([0]);
    expect(tree.threshold[0]).toBe(2.5);
    expect(tree.leaf_values).toEqual([1, -1]);
    // gain = G_L^2/H_L + G_R^2/H_R - G^2/H = 4/2 + 4/2 - 0
    expect(tree.gain[0]).toBe(4);
    expect(predictOne(tree, 0)).toBe(1);
    expect(predictOne(tree, 10)).toBe(-1);
  });

  it('grows leaf-wise up to num_leaves, shrinks by the learning rate and applies L2', () => {
    const tree = grow([1, 2, 3, 4, 5, 6], [-3, -3, 2, 2, -1, -1], numeric, { numLeaves: 3, learningRate: 0.5, lambdaL2: 1 });
    expect(tree.leaf_values).toHaveLength(3);
    // Gains with lambda 1: x <= 2.5 first (36/3 + 4/5 - 16/7), then the right side at 4.5 (16/3 + 4/3 - 4/5).
    expect(tree.threshold).toEqual([2.5, 4.5]);
    expect(tree.gain[0]).toBeCloseTo(12 + 0.8 - 16 / 7);
    expect(tree.gain[1]).toBeCloseTo(16 / 3 + 4 / 3 - 0.8);
    expect(predictOne(tree, 1)).toBeCloseTo((6 / 3) * 0.5);
    expect(predictOne(tree, 3.5)).toBeCloseTo((-4 / 3) * 0.5);
    expect(predictOne(tree, 6)).toBeCloseTo((2 / 3) * 0.5);
  });

  it('respects min_data_in_leaf and max_depth', () => {
    expect(grow([1, 2, 3, 4], [-1, -1, 1, 1], numeric, { minDataInLeaf: 3 }).feature).toEqual([]);
    expect(grow([1, 2, 3, 4, 5, 6], [-3, -3, 1, 1, 2, 2], numeric, { numLeaves: 8, maxDepth: 1 }).leaf_values).toHaveLength(2);
  });

  it('learns where missing values go (default_left) and sends NaN there', () => {
    const tree = grow([NaN, NaN, 1, 2, 3, 4], [-1, -1, -1, -1, 1, 1]);
    expect(tree.threshold[0]).toBe(2.5);
    expect(tree.default_left[0]).toBe(true);
    expect(predictOne(tree, NaN)).toBe(predictOne(tree, 1));
    const right = grow([NaN, NaN, 1, 2, 3, 4], [1, 1, -1, -1, 1, 1]);
    expect(right.default_left[0]).toBe(false);
    expect(predictOne(right, NaN)).toBe(predictOne(right, 4));
  });

  it('splits categories as a set, ordered by gradient, and sends unseen codes right', () => {
    const cat: TreeColumn[] = [{ name: 'c', kind: 'categorical', at: 0, width: 4 }];
    // Codes 0 and 2 push up, code 1 down: the split isolates {1} (not contiguous codes 0..k).
    const tree = grow([0, 1, 2, 0, 1, 2], [1, -2, 1, 1, -2, 1], cat);
    expect(tree.categories[0]).toEqual([1]);
    expect(predictOne(tree, 1)).toBe(2);
    expect(predictOne(tree, 0)).toBe(-1);
    expect(predictOne(tree, 3)).toBe(predictOne(tree, 0));
    expect(predictOne(tree, NaN)).toBe(predictOne(tree, 0));
  });
});

describe('the tree view of the shared preprocessing', () => {
  it('reads numeric columns as they are and one-hot blocks as category codes (unknown last)', () => {
    const rows = [{ n: 1, c: 'a' }, { n: 2, c: 'b' }, { n: 3, c: 'zzz' }];
    const state = fitPreprocessing(rows.slice(0, 2), { features: ['n', 'c'], categorical: ['c'] });
    const columns = treeColumnsOf(state);
    expect(columns.map((c) => c.kind)).toEqual(['numeric', 'categorical']);
    const view = treeView(columns, transformRows(state, rows), 3, state.outputDim);
    expect(Array.from(view.subarray(3))).toEqual([0, 1, 2]);
    expect(view[0]).toBeLessThan(view[1]);
  });
});

const params: BoostParams = { num_trees: 30, learning_rate: 0.3, num_leaves: 8, max_depth: 0, max_bins: 64, min_data_in_leaf: 5, lambda_l2: 1, bagging_fraction: 1, feature_fraction: 1, early_stopping_rounds: 100 };

function synthetic(n: number, seed: number) {
  const random = seededRandom(seed);
  const columns: TreeColumn[] = [
    { name: 'a', kind: 'numeric', at: 0 },
    { name: 'b', kind: 'numeric', at: 1 },
  ];
  const view = new Float32Array(2 * n);
  const labels = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    view[r] = random() < 0.1 ? NaN : random() * 4 - 2;
    view[n + r] = random();
    const a = Number.isNaN(view[r]) ? 1.5 : view[r];
    labels[r] = random() < 1 / (1 + Math.exp(-3 * a)) ? 1 : 0;
  }
  return { columns, data: { view, n, labels } };
}

describe('boosting', () => {
  it('lowers the training loss every round (no sampling) and predicts what it trained', () => {
    const { columns, data } = synthetic(600, 3);
    const result = boost({ task: 'binary', outputs: 1, columns, fit: data, validation: data, params, seed: 1 });
    const losses = result.history.map((h) => h.loss);
    losses.slice(1).forEach((loss, i) => expect(loss).toBeLessThanOrEqual(losses[i] + 1e-9));
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.9);
    const rowMajor = new Float32Array(2 * data.n);
    for (let r = 0; r < data.n; r++) [rowMajor[2 * r], rowMajor[2 * r + 1]] = [data.view[r], data.view[data.n + r]];
    const p = createTreeForward(result.ensemble, 2)(rowMajor, data.n);
    const raw = Float32Array.from(p, (q) => Math.log(q / (1 - q)));
    expect(meanLoss('binary', raw, data.labels, 1)).toBeCloseTo(result.history[result.bestRound - 1].loss, 4);
  });

  it('stops early on the validation loss and keeps the best round', () => {
    const { columns, data } = synthetic(300, 4);
    const other = synthetic(300, 5).data;
    const result = boost({ task: 'binary', outputs: 1, columns, fit: data, validation: other, params: { ...params, num_trees: 200, learning_rate: 1, num_leaves: 32, min_data_in_leaf: 1, lambda_l2: 0, early_stopping_rounds: 3 }, seed: 1 });
    expect(result.history.length).toBeLessThan(200);
    expect(result.history.length - result.bestRound).toBe(3);
    expect(result.ensemble.trees).toHaveLength(result.bestRound);
  });

  it('fits regression and multiclass, one tree per class each round, with seeded sampling', () => {
    const { columns, data } = synthetic(300, 6);
    const target = { ...data, labels: data.view.subarray(data.n).map((b) => b * 10) as unknown as Float64Array };
    const reg = boost({ task: 'regression', outputs: 1, columns, fit: { ...data, labels: Float64Array.from(target.labels) }, validation: { ...data, labels: Float64Array.from(target.labels) }, params: { ...params, bagging_fraction: 0.7, feature_fraction: 0.5 }, seed: 2 });
    expect(reg.history[reg.history.length - 1].loss).toBeLessThan(reg.history[0].loss / 4);
    const three = { ...data, labels: Float64Array.from(data.view.subarray(data.n), (b) => Math.min(2, Math.floor(b * 3))) };
    const multi = boost({ task: 'multiclass', outputs: 3, columns, fit: three, validation: three, params, seed: 2 });
    expect(multi.ensemble.trees.length % 3).toBe(0);
    const again = boost({ task: 'multiclass', outputs: 3, columns, fit: three, validation: three, params, seed: 2 });
    expect(JSON.stringify(again.ensemble)).toBe(JSON.stringify(multi.ensemble));
  });
});
