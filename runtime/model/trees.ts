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

/** All trees in flat typed arrays: node children are global node indices, or ~global leaf index. */
interface CompiledTrees {
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  defaultLeft: Uint8Array;
  sets: (Set<number> | null)[];
  left: Int32Array;
  right: Int32Array;
  leafValues: Float64Array;
}

function compile(trees: TreeNodes[]): CompiledTrees {
  const nodes = trees.reduce((a, t) => a + t.feature.length, 0);
  const c: CompiledTrees = { roots: new Int32Array(trees.length), feature: new Int32Array(nodes), threshold: new Float64Array(nodes), defaultLeft: new Uint8Array(nodes), sets: [], left: new Int32Array(nodes), right: new Int32Array(nodes), leafValues: Float64Array.from(trees.flatMap((t) => t.leaf_values)) };
  let nodeAt = 0;
  let leafAt = 0;
  const child = (v: number) => (v >= 0 ? v + nodeAt : ~(~v + leafAt));
  trees.forEach((t, i) => {
    c.roots[i] = t.feature.length === 0 ? ~leafAt : nodeAt;
    t.feature.forEach((f, j) => {
      c.feature[nodeAt + j] = f;
      c.threshold[nodeAt + j] = t.threshold[j];
      c.defaultLeft[nodeAt + j] = t.default_left[j] ? 1 : 0;
      c.sets.push(t.categories[j] ? new Set(t.categories[j]) : null);
      c.left[nodeAt + j] = child(t.left[j]);
      c.right[nodeAt + j] = child(t.right[j]);
    });
    nodeAt += t.feature.length;
    leafAt += t.leaf_values.length;
  });
  return c;
}

/** One row's tree columns, read from its preprocessed values (row-major at `base`). */
function readColumns(columns: TreeColumn[], rows: Float32Array, base: number, out: Float64Array): void {
  for (let ci = 0; ci < columns.length; ci++) {
    const c = columns[ci];
    if (c.kind === 'numeric') {
      out[ci] = rows[base + c.at];
      continue;
    }
    let code = NaN;
    for (let j = 0; j < c.width; j++) if (rows[base + c.at + j] === 1) code = j;
    out[ci] = code;
  }
}

function walk(c: CompiledTrees, root: number, x: Float64Array): number {
  let node = root;
  while (node >= 0) {
    const v = x[c.feature[node]];
    const set = c.sets[node];
    const goLeft = set ? set.has(v) : v !== v ? c.defaultLeft[node] === 1 : v <= c.threshold[node];
    node = goLeft ? c.left[node] : c.right[node];
  }
  return c.leafValues[~node];
}

/** A forward pass over preprocessed rows (row-major n x dim): returns n x outputs probabilities (or values). */
export function createTreeForward(ensemble: TreeEnsemble, dim: number): (rows: Float32Array, n: number) => Float32Array {
  const compiled = compile(ensemble.trees);
  const k = ensemble.outputs;
  const x = new Float64Array(ensemble.columns.length);
  return (rows, n) => {
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      readColumns(ensemble.columns, rows, r * dim, x);
      const sums = ensemble.base_score.slice();
      for (let t = 0; t < compiled.roots.length; t++) sums[t % k] += walk(compiled, compiled.roots[t], x);
      for (let o = 0; o < k; o++) out[r * k + o] = sums[o];
    }
    applyLink(ensemble.link, out, n, k);
    return out;
  };
}
