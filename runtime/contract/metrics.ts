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

/** Validation metrics the trainer reports as `validation:<name>=<value>` and tuning may optimise. */
export const TUNABLE_METRICS = ['auc', 'accuracy', 'loss', 'rmse'] as const;
export type TunableMetric = (typeof TUNABLE_METRICS)[number];

/**
 * `<SageMaker metric name>` -> the epoch record field it reports: what the trainer's `metrics ...` line
 * prints (runtime/training/telemetry.ts) and what SAGEMAKER_METRIC_DEFINITIONS scrape.
 */
export const SAGEMAKER_REPORTED_FIELDS: Readonly<Record<string, string>> = {
  'train:loss': 'loss',
  ...Object.fromEntries(TUNABLE_METRICS.map((m) => [`validation:${m}`, `val_${m}`])),
  'system:cpu_percent': 'cpu_percent',
  'system:rss_mb': 'rss_mb',
  'system:gpu_util_percent': 'gpu_util_percent',
  'system:gpu_mem_mb': 'gpu_mem_mb',
};

/** A metric value as printed: digits, sign, decimal point and exponent (never NaN or Infinity). */
const METRIC_VALUE = '([-+0-9.eE]+)';

/**
 * MetricDefinitions for a SageMaker training job (AlgorithmSpecification.MetricDefinitions) and the
 * tuning objective (`validation:<metric>`). No name is a suffix of another, so `<name>=` is unambiguous.
 */
export const SAGEMAKER_METRIC_DEFINITIONS: { Name: string; Regex: string }[] = [
  ...Object.keys(SAGEMAKER_REPORTED_FIELDS).map((name) => ({ Name: name, Regex: `${name}=${METRIC_VALUE}` })),
  { Name: 'test:auc', Regex: `test:auc=${METRIC_VALUE}` },
  { Name: 'test:rmse', Regex: `test:rmse=${METRIC_VALUE}` },
];
