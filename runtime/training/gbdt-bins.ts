/**
 * Feature binning for histogram gradient boosting: each tree column becomes small integer bins.
 * Bin 0 holds missing values (NaN); numeric values fill bins 1.. by quantile edges (one bin per
 * distinct value when there are few); a categorical code c goes to bin c + 1.
 */
import type { TreeColumn } from '../model/trees';

export interface BinnedColumns {
  /** Column-major bins: bins[c * n + r]. */
  bins: Uint8Array;
  n: number;
  /** Per column: bins used (including the missing bin 0). */
  binCounts: number[];
  /** Per numeric column: upper edge of bin b (b >= 1) at edges[b - 1]; empty for categorical. */
  edges: Float64Array[];
  categorical: boolean[];
}

/** Upper edges splitting the sorted distinct values into at most maxValueBins bins. */
export function numericEdges(values: Float32Array, maxValueBins: number): Float64Array {
  const sorted = Float64Array.from(values.filter((v) => !Number.isNaN(v))).sort();
  const distinct: number[] = [];
  const counts: number[] = [];
  for (const v of sorted) {
    if (distinct.length && distinct[distinct.length - 1] === v) counts[counts.length - 1]++;
    else {
      distinct.push(v);
      counts.push(1);
    }
  }
  if (distinct.length <= maxValueBins) return Float64Array.from(distinct.map((v, i) => (i + 1 < distinct.length ? (v + distinct[i + 1]) / 2 : Infinity)));
  const edges: number[] = [];
  const perBin = sorted.length / maxValueBins;
  let seen = 0;
  for (let i = 0; i < distinct.length - 1; i++) {
    seen += counts[i];
    if (seen >= perBin * (edges.length + 1)) edges.push((distinct[i] + distinct[i + 1]) / 2);
  }
  edges.push(Infinity);
  return Float64Array.from(edges);
}

/** The bin of value x over `edges` (1-based; 0 for NaN). */
export function binOf(edges: Float64Array, x: number): number {
  if (Number.isNaN(x)) return 0;
  let lo = 0;
  let hi = edges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo + 1;
}

/** Bins a column-major view (view[c * n + r]); edges are fitted on the rows given. */
export function binColumns(columns: TreeColumn[], view: Float32Array, n: number, maxBins: number): BinnedColumns {
  const bins = new Uint8Array(columns.length * n);
  const edges: Float64Array[] = [];
  const binCounts: number[] = [];
  columns.forEach((c, ci) => {
    const values = view.subarray(ci * n, (ci + 1) * n);
    const out = bins.subarray(ci * n, (ci + 1) * n);
    if (c.kind === 'categorical') {
      // Codes beyond the bin budget share the last bin.
      const top = Math.min(c.width, maxBins - 1);
      for (let r = 0; r < n; r++) out[r] = Number.isNaN(values[r]) ? 0 : Math.min(values[r], top - 1) + 1;
      edges.push(new Float64Array(0));
      binCounts.push(top + 1);
      return;
    }
    const e = numericEdges(values, maxBins - 1);
    for (let r = 0; r < n; r++) out[r] = binOf(e, values[r]);
    edges.push(e);
    binCounts.push(e.length + 1);
  });
  return { bins, n, binCounts, edges, categorical: columns.map((c) => c.kind === 'categorical') };
}
