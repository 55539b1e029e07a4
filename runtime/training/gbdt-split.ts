/**
 * Histograms of gradient statistics per column and bin, and the best split they allow.
 * A histogram holds (sum gradient, sum hessian, count) for each (column, bin): hist[(offset[c] + b) * 3 + s].
 */
import type { BinnedColumns } from './gbdt-bins';

export interface SplitRules {
  lambdaL2: number;
  minDataInLeaf: number;
  minSumHessian: number;
  /** Added to the hessian when ordering categories by gradient ratio, so rare categories do not jump the order. */
  catSmooth: number;
}

export interface Split {
  column: number;
  gain: number;
  /** Numeric: bins <= bin go left. */
  bin: number;
  defaultLeft: boolean;
  /** Categorical: the bins that go left. */
  leftBins: number[] | null;
  leftCount: number;
}

export function histogramOffsets(binned: BinnedColumns): { offsets: number[]; size: number } {
  const offsets: number[] = [];
  let size = 0;
  for (const count of binned.binCounts) {
    offsets.push(size);
    size += count;
  }
  return { offsets, size: size * 3 };
}

/** Sums the gradients of rows[start, end) into a fresh histogram, over the columns given. */
export function buildHistogram(binned: BinnedColumns, offsets: number[], size: number, columns: number[], rows: Uint32Array, start: number, end: number, grad: Float64Array, hess: Float64Array): Float64Array {
  const hist = new Float64Array(size);
  const n = binned.n;
  for (const c of columns) {
    const bins = binned.bins.subarray(c * n, (c + 1) * n);
    const base = offsets[c];
    for (let i = start; i < end; i++) {
      const r = rows[i];
      const at = (base + bins[r]) * 3;
      hist[at] += grad[r];
      hist[at + 1] += hess[r];
      hist[at + 2]++;
    }
  }
  return hist;
}

export function subtractHistogram(parent: Float64Array, child: Float64Array): Float64Array {
  const out = new Float64Array(parent.length);
  for (let i = 0; i < parent.length; i++) out[i] = parent[i] - child[i];
  return out;
}

export interface NodeTotals {
  g: number;
  h: number;
  count: number;
}

export function score(g: number, h: number, lambda: number): number {
  return (g * g) / (h + lambda);
}

function allowed(rules: SplitRules, lg: number, lh: number, lc: number, t: NodeTotals): boolean {
  return lc >= rules.minDataInLeaf && t.count - lc >= rules.minDataInLeaf && lh >= rules.minSumHessian && t.h - lh >= rules.minSumHessian;
}

function numericSplit(hist: Float64Array, base: number, bins: number, column: number, t: NodeTotals, rules: SplitRules): Split | null {
  const parent = score(t.g, t.h, rules.lambdaL2);
  const [mg, mh, mc] = [hist[base * 3], hist[base * 3 + 1], hist[base * 3 + 2]];
  let best: Split | null = null;
  let lg = 0, lh = 0, lc = 0;
  for (let b = 1; b < bins - 1; b++) {
    lg += hist[(base + b) * 3];
    lh += hist[(base + b) * 3 + 1];
    lc += hist[(base + b) * 3 + 2];
    for (const missingLeft of mc > 0 ? [false, true] : [false]) {
      const [g, h, c] = missingLeft ? [lg + mg, lh + mh, lc + mc] : [lg, lh, lc];
      if (!allowed(rules, g, h, c, t)) continue;
      const gain = score(g, h, rules.lambdaL2) + score(t.g - g, t.h - h, rules.lambdaL2) - parent;
      if (!best || gain > best.gain) best = { column, gain, bin: b, defaultLeft: missingLeft, leftBins: null, leftCount: c };
    }
  }
  return best;
}

function categoricalSplit(hist: Float64Array, base: number, bins: number, column: number, t: NodeTotals, rules: SplitRules): Split | null {
  const parent = score(t.g, t.h, rules.lambdaL2);
  const present: number[] = [];
  for (let b = 1; b < bins; b++) if (hist[(base + b) * 3 + 2] > 0) present.push(b);
  const ratio = (b: number) => hist[(base + b) * 3] / (hist[(base + b) * 3 + 1] + rules.catSmooth);
  present.sort((a, b) => ratio(a) - ratio(b));
  let best: Split | null = null;
  let lg = 0, lh = 0, lc = 0;
  for (let i = 0; i < present.length - 1; i++) {
    const b = present[i];
    lg += hist[(base + b) * 3];
    lh += hist[(base + b) * 3 + 1];
    lc += hist[(base + b) * 3 + 2];
    if (!allowed(rules, lg, lh, lc, t)) continue;
    const gain = score(lg, lh, rules.lambdaL2) + score(t.g - lg, t.h - lh, rules.lambdaL2) - parent;
    if (!best || gain > best.gain) best = { column, gain, bin: 0, defaultLeft: false, leftBins: present.slice(0, i + 1), leftCount: lc };
  }
  return best;
}

/** The best split of a node over `columns`, or null when none has positive gain within the rules. */
export function bestSplit(hist: Float64Array, binned: BinnedColumns, offsets: number[], columns: number[], t: NodeTotals, rules: SplitRules): Split | null {
  let best: Split | null = null;
  for (const c of columns) {
    const find = binned.categorical[c] ? categoricalSplit : numericSplit;
    const split = find(hist, offsets[c], binned.binCounts[c], c, t, rules);
    if (split && split.gain > 1e-12 && (!best || split.gain > best.gain)) best = split;
  }
  return best;
}
