/**
 * Live data against a baseline: values are counted on the baseline's bins as they stream past (memory
 * stays flat: counts per bin, and at most MAX_UNSEEN_NAMED unseen category names per feature), then each
 * feature's statistics are compared with its thresholds.
 *
 *   numeric:      psi, js, ks over the baseline's quantile bins (present values)
 *   categorical:  psi, js over the baseline's listed categories plus one bucket for the rest;
 *                 unseen_share = the live share outside the listed categories minus the baseline's `other` share
 *   every one:    missing_share = |live missing share - train missing share|
 */
import type { Baseline } from './baseline';
import { binOf, categoryValue, numericValue, type FeatureProfile } from './profile';
import { jsDistance, ksStatistic, psi, sharesOf } from './stats';
import { PREDICTION, thresholdsFor, type DriftMetric, type ThresholdConfig } from './thresholds';

/** Unseen category names kept per feature for the report. */
export const MAX_UNSEEN_NAMED = 10;
/** The bucket of values outside a categorical baseline's listed ones. */
export const OTHER_BUCKET = '(other)';

export interface FeatureDrift {
  feature: string;
  kind: FeatureProfile['kind'];
  /** Live values seen (missing included). */
  live_count: number;
  metrics: Partial<Record<DriftMetric, number>>;
  /** The metrics over their threshold, with both numbers. */
  drifted: { metric: DriftMetric; value: number; threshold: number }[];
  /** For charts: bin labels and the train and live shares of present values. */
  bins: { labels: string[]; train: number[]; live: number[] };
  missing: { train: number; live: number };
  /** Categorical: live values outside the listed categories, most frequent first (at most MAX_UNSEEN_NAMED). */
  unseen?: { value: string; count: number }[];
}

interface Counter {
  profile: FeatureProfile;
  count: number;
  missing: number;
  bins: number[];
  unseen: Map<string, number>;
}

function binLabels(profile: FeatureProfile): string[] {
  if (profile.kind === 'categorical') return [...Object.keys(profile.frequencies), OTHER_BUCKET];
  const e = profile.edges;
  if (e.length === 0) return ['all'];
  return e.map((edge, i) => (i === 0 ? `<= ${edge}` : `(${e[i - 1]}, ${edge}]`)).concat(`> ${e[e.length - 1]}`);
}

function trainBins(profile: FeatureProfile): number[] {
  return profile.kind === 'numeric' ? profile.counts : [...Object.values(profile.frequencies), profile.other];
}

function newCounter(profile: FeatureProfile): Counter {
  return { profile, count: 0, missing: 0, bins: new Array<number>(trainBins(profile).length).fill(0), unseen: new Map() };
}

function addValue(c: Counter, raw: unknown, index: Map<string, number> | undefined): void {
  c.count++;
  if (c.profile.kind === 'numeric') {
    const v = numericValue(raw);
    if (Number.isFinite(v)) c.bins[binOf(c.profile.edges, v)]++;
    else c.missing++;
    return;
  }
  const value = categoryValue(raw);
  if (value === undefined) return void c.missing++;
  const at = index?.get(value);
  if (at !== undefined) return void c.bins[at]++;
  c.bins[c.bins.length - 1]++;
  if (c.unseen.has(value) || c.unseen.size < MAX_UNSEEN_NAMED * 10) c.unseen.set(value, (c.unseen.get(value) ?? 0) + 1);
}

function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function metricsOf(c: Counter): FeatureDrift['metrics'] {
  const train = trainBins(c.profile);
  const trainMissing = share(c.profile.missing, c.profile.count);
  const metrics: FeatureDrift['metrics'] = { missing_share: Math.abs(share(c.missing, c.count) - trainMissing) };
  const present = c.count - c.missing;
  if (present === 0 || c.profile.count - c.profile.missing === 0) return metrics;
  metrics.psi = psi(train, c.bins);
  metrics.js = jsDistance(train, c.bins);
  if (c.profile.kind === 'numeric') metrics.ks = ksStatistic(train, c.bins);
  else metrics.unseen_share = Math.max(0, share(c.bins[c.bins.length - 1], present) - share(c.profile.other, c.profile.count - c.profile.missing));
  return metrics;
}

function driftOf(feature: string, c: Counter, thresholds: ThresholdConfig | undefined): FeatureDrift {
  const metrics = metricsOf(c);
  const limits = thresholdsFor(thresholds, feature);
  const drifted = (Object.keys(metrics) as DriftMetric[])
    .filter((m) => (metrics[m] as number) > limits[m])
    .map((metric) => ({ metric, value: metrics[metric] as number, threshold: limits[metric] }));
  const result: FeatureDrift = {
    feature,
    kind: c.profile.kind,
    live_count: c.count,
    metrics,
    drifted,
    bins: { labels: binLabels(c.profile), train: sharesOf(trainBins(c.profile)), live: sharesOf(c.bins) },
    missing: { train: share(c.profile.missing, c.profile.count), live: share(c.missing, c.count) },
  };
  if (c.profile.kind === 'categorical') result.unseen = [...c.unseen].sort((a, b) => b[1] - a[1]).slice(0, MAX_UNSEEN_NAMED).map(([value, count]) => ({ value, count }));
  return result;
}

/** One live record: the model's inputs and, when known, what it answered (score, value or class). */
export interface LiveRecord {
  features: Record<string, unknown>;
  prediction?: unknown;
}

export interface DriftResult {
  rows: number;
  drift: boolean;
  /** The features (and PREDICTION) with a metric over its threshold. */
  drifted_features: string[];
  features: FeatureDrift[];
  prediction: FeatureDrift | null;
}

/** Counts live records against a baseline; add() each record, then result(). */
export class DriftAccumulator {
  private rows = 0;
  private readonly counters = new Map<string, Counter>();
  private readonly indexes = new Map<string, Map<string, number>>();
  private readonly prediction: Counter | null;

  constructor(private readonly baseline: Baseline) {
    for (const [name, profile] of Object.entries(baseline.features)) this.track(name, profile);
    this.prediction = baseline.prediction ? newCounter(baseline.prediction) : null;
    if (baseline.prediction?.kind === 'categorical') this.indexes.set(PREDICTION, new Map(Object.keys(baseline.prediction.frequencies).map((k, i) => [k, i])));
  }

  private track(name: string, profile: FeatureProfile): void {
    this.counters.set(name, newCounter(profile));
    if (profile.kind === 'categorical') this.indexes.set(name, new Map(Object.keys(profile.frequencies).map((k, i) => [k, i])));
  }

  add(record: LiveRecord): void {
    this.rows++;
    for (const [name, counter] of this.counters) addValue(counter, record.features[name], this.indexes.get(name));
    if (this.prediction && record.prediction !== undefined) addValue(this.prediction, record.prediction, this.indexes.get(PREDICTION));
  }

  result(thresholds?: ThresholdConfig): DriftResult {
    const features = [...this.counters].map(([name, c]) => driftOf(name, c, thresholds));
    const prediction = this.prediction && this.prediction.count > 0 ? driftOf(PREDICTION, this.prediction, thresholds) : null;
    const drifted_features = [...features, ...(prediction ? [prediction] : [])].filter((f) => f.drifted.length > 0).map((f) => f.feature);
    return { rows: this.rows, drift: drifted_features.length > 0, drifted_features, features, prediction };
  }
}

/** Drift of a finite set of live records against a baseline. */
export function compareWithBaseline(baseline: Baseline, records: Iterable<LiveRecord>, thresholds?: ThresholdConfig): DriftResult {
  const acc = new DriftAccumulator(baseline);
  for (const r of records) acc.add(r);
  return acc.result(thresholds);
}
