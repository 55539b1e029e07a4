/**
 * Metric names and which way is better, shared by training (what it records), tuning (what it optimises)
 * and promotion (which way a gate compares). A gate of `"auc": 0.8` is a floor; `"predict_latency_p99_ms": 100`
 * is a ceiling.
 */

export type MetricDirection = 'higher' | 'lower';

/** Exact names of metrics where smaller is better. */
const LOWER_IS_BETTER = new Set(['loss', 'log_loss', 'rmse', 'mse', 'mae', 'brier', 'error_rate']);
/** Name endings of costs: latencies, durations and sizes. */
const COST_SUFFIXES = ['_ms', '_us', '_seconds', '_bytes', '_mb'];

/** Which way is better for a metric: losses, errors, latencies and sizes are lower-is-better; the rest higher. */
export function metricDirection(name: string): MetricDirection {
  const base = name.replace(/^(val_|test_|validation:|test:)/, '');
  if (LOWER_IS_BETTER.has(base)) return 'lower';
  return COST_SUFFIXES.some((suffix) => base.endsWith(suffix)) ? 'lower' : 'higher';
}

export function isLowerBetter(name: string): boolean {
  return metricDirection(name) === 'lower';
}
