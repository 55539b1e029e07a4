import { ENVIRONMENTS, type EnvironmentName } from '../../config/schema';

/**
 * Metrics where smaller is better: their gate is a ceiling. Every other gate in
 * pipeline.json `promotion_gates` is a floor ("auc": 0.75 means auc >= 0.75).
 */
export const LOWER_IS_BETTER = ['loss', 'log_loss', 'rmse', 'mse', 'mae', 'brier', 'error_rate'] as const;

export interface GateFailure {
  /** "metric" for a promotion_gates threshold, "order" for the dev -> qa -> staging -> prod rule. */
  gate: 'metric' | 'order';
  message: string;
}

export interface MetricGateResult {
  metric: string;
  comparison: '>=' | '<=';
  threshold: number;
  /** undefined when the model has no such metric. */
  value: number | undefined;
  passed: boolean;
}

export function isLowerBetter(metric: string): boolean {
  return (LOWER_IS_BETTER as readonly string[]).includes(metric);
}

/** Checks every promotion gate against the model's metrics (a missing metric fails its gate). */
export function checkMetricGates(metrics: Record<string, number>, gates: Record<string, number>): MetricGateResult[] {
  return Object.entries(gates).map(([metric, threshold]) => {
    const comparison = isLowerBetter(metric) ? '<=' : '>=';
    const value = metrics[metric];
    const passed =
      typeof value === 'number' && Number.isFinite(value) && (comparison === '>=' ? value >= threshold : value <= threshold);
    return { metric, comparison, threshold, value, passed };
  });
}

export function describeMetricFailure(result: MetricGateResult, version: string): string {
  const found = result.value === undefined ? 'the model has no such metric' : `the model has ${result.value}`;
  return (
    `gate promotion_gates.${result.metric} (config/pipeline.json) requires ${result.metric} ${result.comparison} ` +
    `${result.threshold}; ${found} (version ${version})`
  );
}

/** The environment a model must be pinned in before `target`; null for the first one. */
export function predecessorOf(target: EnvironmentName): EnvironmentName | null {
  const index = ENVIRONMENTS.indexOf(target);
  return index > 0 ? ENVIRONMENTS[index - 1] : null;
}

/** The order gate: the version must already be pinned in the previous environment. */
export function checkOrderGate(
  target: EnvironmentName,
  version: string,
  pinned: Record<EnvironmentName, string | null>,
): GateFailure | null {
  const previous = predecessorOf(target);
  if (previous === null || pinned[previous] === version) return null;
  return {
    gate: 'order',
    message:
      `gate order (${ENVIRONMENTS.join(' -> ')}) requires version ${version} to be pinned in ${previous} before ${target}; ` +
      `${previous} pins ${pinned[previous] ?? 'no model'} (config/environments/${previous}.json model_version): ` +
      `promote it to ${previous} first`,
  };
}
