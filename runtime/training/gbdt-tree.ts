/**
 * Grows one regression tree on gradient statistics, leaf-wise: the leaf whose best split gains most is
 * split next, until num_leaves, max_depth or no gain stops it. The smaller child's histogram is summed
 * from its rows, the larger one's is its parent's minus the smaller's.
 */
import type { TreeNodes } from '../model/trees';
import type { BinnedColumns } from './gbdt-bins';
import { bestSplit, buildHistogram, histogramOffsets, subtractHistogram, type NodeTotals, type Split, type SplitRules } from './gbdt-split';

export interface GrowRules extends SplitRules {
  numLeaves: number;
  /** 0: no depth limit. */
  maxDepth: number;
  learningRate: number;
}

interface Leaf {
  start: number;
  end: number;
  depth: number;
  hist: Float64Array;
  totals: NodeTotals;
  split: Split | null;
  /** The node whose child pointer names this leaf (-1: the root leaf), and which side. */
  parent: number;
  side: 'left' | 'right';
}

interface GrowContext {
  binned: BinnedColumns;
  offsets: number[];
  size: number;
  columns: number[];
  grad: Float64Array;
  hess: Float64Array;
  rules: GrowRules;
}

function totalsOf(hist: Float64Array, offsets: number[], column: number, bins: number): NodeTotals {
  const t = { g: 0, h: 0, count: 0 };
  for (let b = 0; b < bins; b++) {
    const at = (offsets[column] + b) * 3;
    t.g += hist[at];
    t.h += hist[at + 1];
    t.count += hist[at + 2];
  }
  return t;
}

function makeLeaf(ctx: GrowContext, hist: Float64Array, start: number, end: number, depth: number, parent: number, side: Leaf['side']): Leaf {
  const c0 = ctx.columns[0];
  const totals = totalsOf(hist, ctx.offsets, c0, ctx.binned.binCounts[c0]);
  const canSplit = ctx.rules.maxDepth === 0 || depth < ctx.rules.maxDepth;
  const split = canSplit ? bestSplit(hist, ctx.binned, ctx.offsets, ctx.columns, totals, ctx.rules) : null;
  return { start, end, depth, hist, totals, split, parent, side };
}

/** Moves rows[start, end) that go left to the front; returns where the right rows begin. */
function partition(binned: BinnedColumns, rows: Uint32Array, leaf: Leaf, split: Split): number {
  const bins = binned.bins.subarray(split.column * binned.n, (split.column + 1) * binned.n);
  const leftSet = split.leftBins ? new Set(split.leftBins) : null;
  const goesLeft = (b: number) => (leftSet ? leftSet.has(b) : b === 0 ? split.defaultLeft : b <= split.bin);
  const right: number[] = [];
  let write = leaf.start;
  for (let i = leaf.start; i < leaf.end; i++) {
    const r = rows[i];
    if (goesLeft(bins[r])) rows[write++] = r;
    else right.push(r);
  }
  rows.set(right, write);
  return write;
}

function addNode(tree: TreeNodes, binned: BinnedColumns, split: Split): number {
  const edges = binned.edges[split.column];
  tree.feature.push(split.column);
  tree.threshold.push(split.leftBins ? 0 : edges[split.bin - 1]);
  tree.default_left.push(split.defaultLeft);
  tree.categories.push(split.leftBins ? split.leftBins.map((b) => b - 1) : null);
  tree.gain.push(split.gain);
  tree.left.push(0);
  tree.right.push(0);
  return tree.feature.length - 1;
}

function pointTo(tree: TreeNodes, parent: number, side: Leaf['side'], target: number): void {
  if (parent < 0) return;
  (side === 'left' ? tree.left : tree.right)[parent] = target;
}

/** Splits leaves[index] in place; the right child is appended. */
function splitLeaf(ctx: GrowContext, tree: TreeNodes, leaves: Leaf[], index: number, rows: Uint32Array): void {
  const leaf = leaves[index];
  const split = leaf.split as Split;
  const node = addNode(tree, ctx.binned, split);
  pointTo(tree, leaf.parent, leaf.side, node);
  const middle = partition(ctx.binned, rows, leaf, split);
  const leftSmaller = middle - leaf.start <= leaf.end - middle;
  const [sStart, sEnd] = leftSmaller ? [leaf.start, middle] : [middle, leaf.end];
  const small = buildHistogram(ctx.binned, ctx.offsets, ctx.size, ctx.columns, rows, sStart, sEnd, ctx.grad, ctx.hess);
  const large = subtractHistogram(leaf.hist, small);
  const [lh, rh] = leftSmaller ? [small, large] : [large, small];
  const rightIndex = leaves.length;
  tree.left[node] = ~index;
  tree.right[node] = ~rightIndex;
  leaves[index] = makeLeaf(ctx, lh, leaf.start, middle, leaf.depth + 1, node, 'left');
  leaves.push(makeLeaf(ctx, rh, middle, leaf.end, leaf.depth + 1, node, 'right'));
}

/** Grows a tree over rows (indices into the binned columns) on columns; leaf values are shrunk by the learning rate. */
export function growTree(binned: BinnedColumns, rows: Uint32Array, columns: number[], grad: Float64Array, hess: Float64Array, rules: GrowRules): TreeNodes {
  const { offsets, size } = histogramOffsets(binned);
  const ctx: GrowContext = { binned, offsets, size, columns, grad, hess, rules };
  const tree: TreeNodes = { feature: [], threshold: [], default_left: [], categories: [], left: [], right: [], gain: [], leaf_values: [] };
  const leaves = [makeLeaf(ctx, buildHistogram(binned, offsets, size, columns, rows, 0, rows.length, grad, hess), 0, rows.length, 0, -1, 'left')];
  while (leaves.length < rules.numLeaves) {
    let best = -1;
    leaves.forEach((leaf, i) => {
      if (leaf.split && (best < 0 || leaf.split.gain > (leaves[best].split as Split).gain)) best = i;
    });
    if (best < 0) break;
    splitLeaf(ctx, tree, leaves, best, rows);
  }
  tree.leaf_values = leaves.map((l) => (-l.totals.g / (l.totals.h + rules.lambdaL2)) * rules.learningRate);
  return tree;
}
