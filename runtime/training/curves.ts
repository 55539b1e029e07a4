/** What the report plots and tabulates for a binary model beyond ROC: PR curve, calibration, thresholds, class balance. */
import { round } from './telemetry';

export interface ThresholdRow {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  /** Share of rows predicted positive at this threshold. */
  positive_rate: number;
}

function counts(labels: ArrayLike<number>, probs: ArrayLike<number>, threshold: number): { tp: number; fp: number; fn: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const positive = probs[i] >= threshold;
    if (positive && labels[i] === 1) tp++;
    else if (positive) fp++;
    else if (labels[i] === 1) fn++;
  }
  return { tp, fp, fn };
}

/** Precision, recall and F1 at each threshold (default 0.1, 0.2, ... 0.9); precision is 1 where nothing is predicted positive. */
export function thresholdTable(labels: ArrayLike<number>, probs: ArrayLike<number>, thresholds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]): ThresholdRow[] {
  return thresholds.map((threshold) => {
    const { tp, fp, fn } = counts(labels, probs, threshold);
    const precision = tp + fp ? tp / (tp + fp) : 1;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { threshold, precision: round(precision, 4), recall: round(recall, 4), f1: round(f1, 4), positive_rate: round(labels.length ? (tp + fp) / labels.length : 0, 4) };
  });
}

export interface PrPoint {
  recall: number;
  precision: number;
}

/** The precision-recall curve over `points` evenly spaced thresholds, from recall 1 down. */
export function prCurve(labels: ArrayLike<number>, probs: ArrayLike<number>, points = 101): PrPoint[] {
  const thresholds = Array.from({ length: points }, (_, i) => i / (points - 1));
  return thresholdTable(labels, probs, thresholds).map(({ recall, precision }) => ({ recall, precision }));
}

export interface CalibrationBin {
  /** Mean predicted probability in the bin. */
  predicted: number;
  /** Observed share of positives in the bin. */
  observed: number;
  count: number;
}

/** Reliability diagram: `bins` equal-width probability bins, empty ones left out. */
export function calibrationBins(labels: ArrayLike<number>, probs: ArrayLike<number>, bins = 10): CalibrationBin[] {
  const sums = Array.from({ length: bins }, () => ({ p: 0, y: 0, n: 0 }));
  for (let i = 0; i < labels.length; i++) {
    const b = sums[Math.min(bins - 1, Math.floor(probs[i] * bins))];
    b.p += probs[i];
    b.y += labels[i];
    b.n++;
  }
  return sums.filter((b) => b.n > 0).map((b) => ({ predicted: round(b.p / b.n, 4), observed: round(b.y / b.n, 4), count: b.n }));
}

/** Rows per class (labels are class indices). */
export function classBalance(labels: ArrayLike<number>, classes: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
  for (let i = 0; i < labels.length; i++) out[classes[labels[i]]] += 1;
  return out;
}
