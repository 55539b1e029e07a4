/**
 * Drift thresholds: one per metric, overridable per feature (and for the prediction). A metric drifts when
 * its value is greater than its threshold. What config's `monitoring.thresholds` holds:
 *
 *   { "psi": 0.2, "ks": 0.15, "features": { "age": { "psi": 0.3 } }, "prediction": { "psi": 0.1 } }
 */

export const DRIFT_METRICS = ['psi', 'js', 'ks', 'missing_share', 'unseen_share'] as const;
export type DriftMetric = (typeof DRIFT_METRICS)[number];
export type MetricThresholds = Record<DriftMetric, number>;

/**
 * Defaults: PSI 0.2 is the customary "significant shift"; JS distance 0.1 and KS 0.1 are of the same order
 * on ten bins; a missing share or unseen-category share that grows by 5 points is worth a look.
 */
export const DEFAULT_THRESHOLDS: MetricThresholds = { psi: 0.2, js: 0.1, ks: 0.1, missing_share: 0.05, unseen_share: 0.05 };

export interface ThresholdConfig extends Partial<MetricThresholds> {
  /** Per feature, the metrics that differ from the ones above. */
  features?: Record<string, Partial<MetricThresholds>>;
  /** For the prediction's distribution. */
  prediction?: Partial<MetricThresholds>;
}

/** The name the prediction's distribution takes among the features of a drift result. */
export const PREDICTION = '(prediction)';

function defined(t: Partial<MetricThresholds> | undefined): Partial<MetricThresholds> {
  return Object.fromEntries(Object.entries(t ?? {}).filter(([, v]) => v !== undefined));
}

/** The thresholds for one feature (or PREDICTION): defaults, then the config's metrics, then its override. */
export function thresholdsFor(config: ThresholdConfig | undefined, feature: string): MetricThresholds {
  const { features, prediction, ...global } = config ?? {};
  const own = feature === PREDICTION ? prediction : features?.[feature];
  return { ...DEFAULT_THRESHOLDS, ...defined(global), ...defined(own) };
}
