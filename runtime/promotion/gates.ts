import { ENVIRONMENTS, type EnvironmentName, type PromotionGate } from '../../config/schema';
import { isLowerBetter } from '../contract/metrics';

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

/**
 * One check per bound: a number is a floor for higher-is-better metrics and a ceiling for lower-is-better
 * ones (runtime/contract/metrics.ts); `{min, max}` gives the bounds explicitly.
 */
function boundsOf(metric: string, gate: PromotionGate): [MetricGateResult['comparison'], number][] {
  if (typeof gate === 'number') return [[isLowerBetter(metric) ? '<=' : '>=', gate]];
  const bounds: [MetricGateResult['comparison'], number][] = [];
  if (gate.min !== undefined) bounds.push(['>=', gate.min]);
  if (gate.max !== undefined) bounds.push(['<=', gate.max]);
  return bounds;
}

/** Checks every promotion gate against the model's metrics (a missing metric fails its gate). */
export function checkMetricGates(metrics: Record<string, number>, gates: Record<string, PromotionGate>): MetricGateResult[] {
  return Object.entries(gates).flatMap(([metric, gate]) =>
    boundsOf(metric, gate).map(([comparison, threshold]) => {
      const value = metrics[metric];
      const passed = typeof value === 'number' && Number.isFinite(value) && (comparison === '>=' ? value >= threshold : value <= threshold);
      return { metric, comparison, threshold, value, passed };
    }),
  );
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
