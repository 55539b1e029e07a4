/**
 * The drift statistics, over two distributions given as counts on the same bins (the baseline's bins).
 * Each is checkable by hand:
 *
 *   shares(c)           c_i / sum(c), each floored at SHARE_FLOOR (an empty bin would make PSI infinite)
 *   psi(e, a)           sum_i (a_i - e_i) * ln(a_i / e_i) over the floored shares     ([.5,.5] vs [.25,.75]: 0.2747)
 *   jsDistance(p, q)    sqrt of the Jensen-Shannon divergence, log base 2, in [0, 1]  ([1,0] vs [0,1]: 1)
 *   ksStatistic(p, q)   max_i |P_i - Q_i| over the cumulative shares, in [0, 1]       ([.5,.5] vs [.25,.75]: 0.25)
 *
 * KS over binned counts is the two-sample statistic evaluated at the baseline's bin edges: it sees a
 * shift across an edge, not one inside a bin (10 quantile bins: a shift of a tenth of the mass shows).
 */

/** The smallest share a bin takes in PSI, so a bin empty on one side gives a large, finite term. */
export const SHARE_FLOOR = 1e-4;

function total(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

/** Shares of each bin (all zero when there are no counts). */
export function sharesOf(counts: readonly number[]): number[] {
  const n = total(counts);
  return counts.map((c) => (n > 0 ? c / n : 0));
}

function sameLength(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`distributions on different bins: ${a.length} and ${b.length}`);
}

/** Population stability index of `actual` against `expected` (counts on the same bins). */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  sameLength(expected, actual);
  const e = sharesOf(expected).map((s) => Math.max(s, SHARE_FLOOR));
  const a = sharesOf(actual).map((s) => Math.max(s, SHARE_FLOOR));
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += (a[i] - e[i]) * Math.log(a[i] / e[i]);
  return sum;
}

function klTerm(p: number, m: number): number {
  return p > 0 ? p * Math.log2(p / m) : 0;
}

/** Jensen-Shannon distance (the square root of the divergence, base 2) between two count vectors. */
export function jsDistance(p: readonly number[], q: readonly number[]): number {
  sameLength(p, q);
  const ps = sharesOf(p);
  const qs = sharesOf(q);
  let divergence = 0;
  for (let i = 0; i < ps.length; i++) {
    const m = (ps[i] + qs[i]) / 2;
    divergence += (klTerm(ps[i], m) + klTerm(qs[i], m)) / 2;
  }
  return Math.sqrt(Math.max(0, Math.min(1, divergence)));
}

/** Kolmogorov-Smirnov statistic between two count vectors on the same ordered bins. */
export function ksStatistic(p: readonly number[], q: readonly number[]): number {
  sameLength(p, q);
  const ps = sharesOf(p);
  const qs = sharesOf(q);
  let cp = 0;
  let cq = 0;
  let max = 0;
  for (let i = 0; i < ps.length; i++) {
    cp += ps[i];
    cq += qs[i];
    max = Math.max(max, Math.abs(cp - cq));
  }
  return max;
}
