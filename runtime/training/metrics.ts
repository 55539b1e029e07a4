/** Evaluation metrics over plain arrays (no tf): classification and regression. */

export interface RocPoint {
  fpr: number;
  tpr: number;
}

/** ROC AUC with ties handled by the rank-sum (Mann-Whitney) formula. */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return 0.5;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** ROC curve points from (0,0) to (1,1), at most `maxPoints` (for drawing). */
export function rocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, maxPoints = 200): RocPoint[] {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i] === 1 ? 1 : 0;
  const negatives = n - positives;
  const points: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  const step = Math.max(1, Math.floor(n / maxPoints));
  for (let k = 0; k < n; k++) {
    if (labels[order[k]] === 1) tp++;
    else fp++;
    const lastOfTie = k === n - 1 || scores[order[k + 1]] !== scores[order[k]];
    if (lastOfTie && (k % step === 0 || k === n - 1)) {
      points.push({ fpr: negatives ? fp / negatives : 0, tpr: positives ? tp / positives : 0 });
    }
  }
  const last = points[points.length - 1];
  if (last.fpr !== 1 || last.tpr !== 1) points.push({ fpr: 1, tpr: 1 });
  return points;
}

const EPS = 1e-7;

/** For one class: 0 where a ratio has no denominator (no predictions, no examples). */
function precisionRecallF1(truePositives: number, predicted: number, actual: number): { precision: number; recall: number; f1: number } {
  const precision = predicted ? truePositives / predicted : 0;
  const recall = actual ? truePositives / actual : 0;
  return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 };
}

export interface BinaryMetrics {
  auc: number;
  accuracy: number;
  log_loss: number;
  precision: number;
  recall: number;
  f1: number;
  /** [[tn, fp], [fn, tp]]: rows are the true class, columns the predicted one. */
  confusion: number[][];
}

export function binaryMetrics(labels: ArrayLike<number>, probs: ArrayLike<number>, threshold = 0.5): BinaryMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let loss = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(Math.max(probs[i], EPS), 1 - EPS);
    const positive = labels[i] === 1;
    loss -= positive ? Math.log(p) : Math.log(1 - p);
    const predicted = probs[i] >= threshold;
    if (predicted && positive) tp++;
    else if (predicted) fp++;
    else if (positive) fn++;
    else tn++;
  }
  const n = labels.length || 1;
  return {
    auc: rocAuc(labels, probs),
    accuracy: (tp + tn) / n,
    log_loss: loss / n,
    ...precisionRecallF1(tp, tp + fp, tp + fn),
    confusion: [
      [tn, fp],
      [fn, tp],
    ],
  };
}

export interface MulticlassMetrics {
  accuracy: number;
  log_loss: number;
  /** Macro averages over classes. */
  precision: number;
  recall: number;
  f1: number;
  confusion: number[][];
}

/** probs is row-major n x k. */
export function multiclassMetrics(labels: ArrayLike<number>, probs: ArrayLike<number>, k: number): MulticlassMetrics {
  const n = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
    const y = labels[i];
    confusion[y][best]++;
    if (best === y) correct++;
    loss -= Math.log(Math.min(Math.max(probs[i * k + y], EPS), 1));
  }
  let p = 0;
  let r = 0;
  let f = 0;
  for (let c = 0; c < k; c++) {
    const predicted = confusion.reduce((s, row) => s + row[c], 0);
    const actual = confusion[c].reduce((s, v) => s + v, 0);
    const one = precisionRecallF1(confusion[c][c], predicted, actual);
    p += one.precision;
    r += one.recall;
    f += one.f1;
  }
  return { accuracy: n ? correct / n : 0, log_loss: n ? loss / n : 0, precision: p / k, recall: r / k, f1: f / k, confusion };
}

export interface RegressionMetrics {
  rmse: number;
  mae: number;
  r2: number;
}

export function regressionMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>): RegressionMetrics {
  const n = actual.length;
  if (n === 0) return { rmse: 0, mae: 0, r2: 0 };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += actual[i];
  mean /= n;
  let se = 0;
  let ae = 0;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const d = actual[i] - predicted[i];
    se += d * d;
    ae += Math.abs(d);
    tot += (actual[i] - mean) ** 2;
  }
  return { rmse: Math.sqrt(se / n), mae: ae / n, r2: tot > 0 ? 1 - se / tot : 0 };
}

/** The q-quantile (0..1) of a sample, by nearest rank. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
