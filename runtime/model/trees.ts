/**
 * A gradient-boosted tree ensemble as a model package stores it (model/trees.json) and its forward pass.
 *
 * Trees read the shared preprocessing's output (the same matrix the dense net reads), through a narrow
 * view: a numeric or boolean column is read as is (the preprocessing's scaling is monotone, so a split on
 * it is a split on the raw value), and a one-hot categorical block collapses back into one column holding
 * the category's code. So trees split on 14 columns for adult, not ~100, and a categorical split sends a
 * set of codes left (no one-hot explosion). A NaN numeric value takes the split's learned default side;
 * a code not in a split's left set (the unknown bucket included) goes right.
 */
import type { PreprocessingState } from './preprocessing';

export const TREES_FORMAT = 'mlstack-trees';

/** How one tree column is read from a preprocessed row: a column as is, or a one-hot block as its code. */
export type TreeColumn = { name: string; kind: 'numeric'; at: number } | { name: string; kind: 'categorical'; at: number; width: number };

/**
 * One tree, flat. Node i splits on column feature[i]; left[i] / right[i] are a node index when >= 0
 * and leaf ~index when < 0. Numeric: x <= threshold goes left, NaN goes left when default_left.
 * Categorical: codes listed in categories[i] go left, others right.
 */
export interface TreeNodes {
  feature: number[];
  threshold: number[];
  default_left: boolean[];
  categories: (number[] | null)[];
  left: number[];
  right: number[];
  gain: number[];
  leaf_values: number[];
}

export type TreeLink = 'sigmoid' | 'softmax' | 'identity';

export interface TreeEnsemble {
  format: typeof TREES_FORMAT;
  columns: TreeColumn[];
  /** Outputs per row: 1 for binary and regression, the class count for multiclass. */
  outputs: number;
  link: TreeLink;
  base_score: number[];
  /** Tree t adds to output t % outputs. */
  trees: TreeNodes[];
}

/** The tree view of a preprocessing state: one column per feature (boolean and numeric missing indicators kept). */
export function treeColumnsOf(state: PreprocessingState): TreeColumn[] {
  return state.features.flatMap((f): TreeColumn[] => {
    if (f.kind === 'categorical') return [{ name: f.name, kind: 'categorical', at: f.offset, width: f.categories.length + 1 }];
    const value: TreeColumn = { name: f.name, kind: 'numeric', at: f.offset };
    return f.missing_indicator ? [value, { name: `${f.name}__missing`, kind: 'numeric', at: f.offset + 1 }] : [value];
  });
}

/** Rows (row-major n x dim, the preprocessing's output) as tree columns, column-major: out[c * n + r]. */
export function treeView(columns: TreeColumn[], rows: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(columns.length * n);
  columns.forEach((c, ci) => {
    const base = ci * n;
    for (let r = 0; r < n; r++) {
      const at = r * dim + c.at;
      if (c.kind === 'numeric') {
        out[base + r] = rows[at];
        continue;
      }
      let code = NaN;
      for (let j = 0; j < c.width; j++) if (rows[at + j] === 1) code = j;
      out[base + r] = code;
    }
  });
  return out;
}

/** The leaf a row (column-major view, row r of n) lands in. */
export function leafOf(tree: TreeNodes, view: Float32Array, n: number, r: number, leftSets: (Set<number> | null)[]): number {
  let node = 0;
  if (tree.feature.length === 0) return 0;
  for (;;) {
    const x = view[tree.feature[node] * n + r];
    const set = leftSets[node];
    const goLeft = set ? set.has(x) : Number.isNaN(x) ? tree.default_left[node] : x <= tree.threshold[node];
    const next = goLeft ? tree.left[node] : tree.right[node];
    if (next < 0) return ~next;
    node = next;
  }
}

export function applyLink(link: TreeLink, raw: Float32Array, n: number, outputs: number): void {
  if (link === 'identity') return;
  for (let r = 0; r < n; r++) {
    const base = r * outputs;
    if (link === 'sigmoid') {
      raw[base] = 1 / (1 + Math.exp(-raw[base]));
      continue;
    }
    let max = -Infinity;
    for (let k = 0; k < outputs; k++) max = Math.max(max, raw[base + k]);
    let sum = 0;
    for (let k = 0; k < outputs; k++) sum += raw[base + k] = Math.exp(raw[base + k] - max);
    for (let k = 0; k < outputs; k++) raw[base + k] /= sum;
  }
}

/** A forward pass over preprocessed rows (row-major n x dim): returns n x outputs probabilities (or values). */
export function createTreeForward(ensemble: TreeEnsemble, dim: number): (rows: Float32Array, n: number) => Float32Array {
  const leftSets = ensemble.trees.map((t) => t.categories.map((c) => (c ? new Set(c) : null)));
  const k = ensemble.outputs;
  return (rows, n) => {
    const view = treeView(ensemble.columns, rows, n, dim);
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < k; o++) out[r * k + o] = ensemble.base_score[o];
      ensemble.trees.forEach((tree, t) => {
        out[r * k + (t % k)] += tree.leaf_values[leafOf(tree, view, n, r, leftSets[t])];
      });
    }
    applyLink(ensemble.link, out, n, k);
    return out;
  };
}
