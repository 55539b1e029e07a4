/**
 * Data profiles: what the training data (and the model's predictions on the test split) looked like, per
 * feature, kept in the model package as baseline.json so the monitor can compare live traffic with it.
 *
 *   numeric:      quantile bin edges (right-closed: a value v falls in the first bin whose edge >= v, the
 *                 last bin takes v > the last edge), the count in each bin, min/max/mean/std, missing count
 *   categorical:  counts of the most frequent values (at most MAX_PROFILE_CATEGORIES), the rest in `other`,
 *                 missing count
 *
 * Pure: no store, no tf. A profile is built in one pass over a column (plus a sort for the edges).
 */
import { isMissing } from '../model/preprocessing';

/** Quantile bins of a numeric profile (deciles), fewer when values tie. */
export const PROFILE_BINS = 10;
/** Categories listed by name in a categorical profile; the rest are counted in `other`. */
export const MAX_PROFILE_CATEGORIES = 50;

export interface NumericProfile {
  kind: 'numeric';
  /** Values seen, missing included. */
  count: number;
  missing: number;
  /** Interior bin edges, ascending, distinct: edges.length + 1 bins. */
  edges: number[];
  /** Present values per bin. */
  counts: number[];
  min: number;
  max: number;
  mean: number;
  std: number;
}

export interface CategoricalProfile {
  kind: 'categorical';
  count: number;
  missing: number;
  /** Count per listed value (trimmed strings), most frequent first. */
  frequencies: Record<string, number>;
  /** Present values outside `frequencies`. */
  other: number;
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

/** A raw value as a number; NaN when missing or not numeric. */
export function numericValue(value: unknown): number {
  if (isMissing(value)) return NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value.trim());
  return NaN;
}

/** A raw value as a category (trimmed string); undefined when missing. */
export function categoryValue(value: unknown): string | undefined {
  if (isMissing(value)) return undefined;
  return typeof value === 'string' ? value.trim() : String(value);
}

/** Interior quantile edges of sorted values: the distinct values at ranks n*i/bins, i = 1..bins-1, below the maximum. */
export function quantileEdges(sorted: ArrayLike<number>, bins = PROFILE_BINS): number[] {
  const n = sorted.length;
  if (n === 0) return [];
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = sorted[Math.min(n - 1, Math.ceil((n * i) / bins) - 1)];
    if (edge < sorted[n - 1] && edges[edges.length - 1] !== edge) edges.push(edge);
  }
  return edges;
}

/** The bin of `v` given ascending interior edges (binary search; right-closed bins). */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Counts per bin of the present values. */
export function binCounts(edges: readonly number[], values: Iterable<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) if (Number.isFinite(v)) counts[binOf(edges, v)]++;
  return counts;
}

/** The numeric profile of raw values (missing or non-numeric ones count as missing). */
export function profileNumeric(values: Iterable<unknown>): NumericProfile {
  const present: number[] = [];
  let count = 0;
  for (const raw of values) {
    count++;
    const v = numericValue(raw);
    if (Number.isFinite(v)) present.push(v);
  }
  const sorted = Float64Array.from(present).sort();
  const edges = quantileEdges(sorted);
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = n ? sum / n : 0;
  let sq = 0;
  for (const v of sorted) sq += (v - mean) ** 2;
  return {
    kind: 'numeric',
    count,
    missing: count - n,
    edges,
    counts: binCounts(edges, sorted),
    min: n ? sorted[0] : 0,
    max: n ? sorted[n - 1] : 0,
    mean,
    std: n ? Math.sqrt(sq / n) : 0,
  };
}

/** The categorical profile of raw values: the most frequent MAX_PROFILE_CATEGORIES by name (ties by name), the rest in other. */
export function profileCategorical(values: Iterable<unknown>, maxCategories = MAX_PROFILE_CATEGORIES): CategoricalProfile {
  const counts = new Map<string, number>();
  let count = 0;
  let missing = 0;
  for (const raw of values) {
    count++;
    const c = categoryValue(raw);
    if (c === undefined) missing++;
    else counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept = ranked.slice(0, maxCategories);
  const other = ranked.slice(maxCategories).reduce((s, [, n]) => s + n, 0);
  return { kind: 'categorical', count, missing, frequencies: Object.fromEntries(kept), other };
}

export function profileOf(kind: FeatureProfile['kind'], values: Iterable<unknown>): FeatureProfile {
  return kind === 'numeric' ? profileNumeric(values) : profileCategorical(values);
}
