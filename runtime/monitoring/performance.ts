/**
 * Performance against ground truth: live predictions joined with labels by request id. Accuracy compares
 * the predicted label with the true one; AUC (binary, when scores are known) is the rank statistic: the
 * chance that a random positive scores above a random negative, ties counting one half.
 */

export interface LabelledPrediction {
  /** The predicted label (or value). */
  predicted: unknown;
  /** The positive-class score, binary only. */
  score?: number;
  actual: string;
}

export interface Performance {
  /** Live records that found a label. */
  joined: number;
  accuracy: number | null;
  auc: number | null;
}

/** Rank AUC of scores for `positive` among the labels; null when one class is absent. */
export function rocAuc(scores: readonly number[], positive: readonly boolean[]): number | null {
  const order = scores.map((s, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  let pos = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (positive[order[k]]) (rankSum += rank), pos++;
    i = j + 1;
  }
  const neg = scores.length - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Accuracy over every joined record; AUC over those with a score, for `positiveClass`. */
export function performanceOf(joined: readonly LabelledPrediction[], positiveClass: string | null): Performance {
  if (joined.length === 0) return { joined: 0, accuracy: null, auc: null };
  const correct = joined.filter((j) => String(j.predicted) === j.actual).length;
  const scored = joined.filter((j) => typeof j.score === 'number');
  const auc = positiveClass === null || scored.length === 0 ? null : rocAuc(scored.map((j) => j.score as number), scored.map((j) => j.actual === positiveClass));
  return { joined: joined.length, accuracy: correct / joined.length, auc };
}
