/**
 * One monitor run: the live records of a source against the baseline of a model package, drift per feature
 * and of the prediction, performance where labels join by request id; the result (JSON) and the HTML report
 * are written to `monitoring/<project>/<env>/<timestamp>/` in the environment's store.
 */
import type { PackageTrust } from '../model/manifest';
import { packageLabel } from '../model/manifest';
import { NotFoundError } from '../common/errors';
import type { ObjectStore } from '../storage/object-store';
import { readBaseline, type Baseline } from './baseline';
import { DriftAccumulator, type DriftResult } from './drift';
import { performanceOf, type LabelledPrediction, type Performance } from './performance';
import { predictionValue, type CapturedRecord } from './records';
import { renderDriftReport } from './report';
import { readLive, type LiveSource } from './source';
import type { ThresholdConfig } from './thresholds';

export const MONITORING_PREFIX = 'monitoring/';
export const RESULT_FILE = 'drift.json';
export const REPORT_FILE = 'report.html';

export interface MonitorInput {
  project: string;
  env: string;
  /** The version (v3) or package named, for the result. */
  model: string;
  pkg: { store: ObjectStore; prefix: string; trust?: PackageTrust };
  live: LiveSource;
  /** What the live data is, for the result (a URI). */
  data: string;
  since?: Date;
  thresholds?: ThresholdConfig;
  /** Ground truth by request id. */
  labels?: Map<string, string>;
  /** Where the result and report go. */
  out: ObjectStore;
  now?: Date;
}

export interface MonitorResult extends DriftResult {
  project: string;
  env: string;
  model: string;
  data: string;
  since: string | null;
  checked_at: string;
  performance: Performance | null;
  /** Where drift.json and report.html were written (URIs). */
  outputs: { result: string; report: string };
}

/** The baseline of the package; a NotFoundError saying what to do when the package predates baselines. */
export async function requireBaseline(pkg: MonitorInput['pkg'], model: string): Promise<Baseline> {
  const baseline = await readBaseline(pkg.store, pkg.prefix, pkg.trust);
  if (baseline) return baseline;
  throw new NotFoundError(
    `no baseline: model ${model} (${packageLabel(pkg.store, pkg.prefix)}) was trained before packages carried baseline.json, so there is nothing to compare live data with; retrain and promote a new version to monitor it`,
  );
}

function joinLabel(record: CapturedRecord, baseline: Baseline, labels: Map<string, string>, joined: LabelledPrediction[]): void {
  const actual = record.id === undefined ? undefined : labels.get(record.id);
  if (actual === undefined || record.prediction === undefined) return;
  const p = record.prediction as { prediction?: unknown };
  const score = baseline.score_class === null ? undefined : predictionValue(record.prediction, baseline.score_class);
  joined.push({ predicted: typeof p === 'object' && p !== null ? p.prediction : p, score: typeof score === 'number' ? score : undefined, actual });
}

async function accumulate(input: MonitorInput, baseline: Baseline): Promise<{ drift: DriftResult; performance: Performance | null }> {
  const acc = new DriftAccumulator(baseline);
  const joined: LabelledPrediction[] = [];
  for await (const record of readLive(input.live, Object.keys(baseline.features), input.since)) {
    const prediction = record.prediction === undefined ? undefined : predictionValue(record.prediction, baseline.score_class);
    acc.add({ features: record.features, prediction });
    if (input.labels) joinLabel(record, baseline, input.labels, joined);
  }
  return { drift: acc.result(input.thresholds), performance: input.labels ? performanceOf(joined, baseline.score_class) : null };
}

/** The folder of one run's outputs: monitoring/<project>/<env>/<timestamp>/. */
export function monitorPrefix(project: string, env: string, at: Date): string {
  return `${MONITORING_PREFIX}${project}/${env}/${at.toISOString().replace(/[:.]/g, '-')}/`;
}

export async function runMonitor(input: MonitorInput): Promise<MonitorResult> {
  const baseline = await requireBaseline(input.pkg, input.model);
  const { drift, performance } = await accumulate(input, baseline);
  const now = input.now ?? new Date();
  const prefix = monitorPrefix(input.project, input.env, now);
  const result: MonitorResult = {
    project: input.project,
    env: input.env,
    model: input.model,
    data: input.data,
    since: input.since?.toISOString() ?? null,
    checked_at: now.toISOString(),
    ...drift,
    performance,
    outputs: { result: input.out.uri(prefix + RESULT_FILE), report: input.out.uri(prefix + REPORT_FILE) },
  };
  await input.out.put(prefix + REPORT_FILE, renderDriftReport(result), { contentType: 'text/html; charset=utf-8' });
  await input.out.put(prefix + RESULT_FILE, JSON.stringify(result, null, 2) + '\n', { contentType: 'application/json' });
  return result;
}
