/**
 * Evaluates a model package on labelled CSV rows with the same preprocessing and the lean
 * forward pass serving uses, for every model type (no tf backend needed).
 */
import { createModelForward } from '../model/model-forward';
import type { ModelPackage } from '../model/package';
import { isMissing, transformRows, validateInputRow } from '../model/preprocessing';
import { binaryMetrics, multiclassMetrics, regressionMetrics, rocCurve, type RocPoint } from './metrics';
import { calibrationBins, prCurve, thresholdTable } from './curves';
import { renderReport, type ReportInput } from './report';
import { round } from './telemetry';
import type { Row } from './data';
import { InvalidInputError } from '../common/errors';

export interface EvaluationResult {
  rows: number;
  metrics: Record<string, number>;
  confusion?: { labels: string[]; matrix: number[][] };
  roc?: RocPoint[];
  reportHtml: string;
}

/** What the report's title and "evaluated on" line name. */
export interface EvaluationLabels {
  /** The model as it was asked for (a version such as v3, a run id, a folder); default: the package's run. */
  model?: string;
  /** The evaluated data's hash: equal to the package's data hash means the rows overlap the training data. */
  dataHash?: string;
  /** Another model's metrics on the same rows, shown side by side. */
  compare?: { label: string; metrics: Record<string, number> };
}

/** The report's title and "evaluated on" line: the model as asked for, and whether the data is the training data. */
export function evaluationHeading(pkg: ModelPackage, dataLabel: string, labels: EvaluationLabels): Pick<ReportInput, 'title' | 'subtitle'> {
  const model = labels.model ?? `run ${pkg.metadata.run_id}`;
  const overlap = labels.dataHash !== undefined && labels.dataHash === pkg.metadata.data_hash ? ' (overlaps the training data)' : '';
  return { title: `${pkg.metadata.project}: evaluation of ${model}`, subtitle: `evaluated on: ${dataLabel}${overlap}` };
}

export function evaluatePackage(pkg: ModelPackage, rows: Row[], dataLabel = 'evaluation data', labels: EvaluationLabels = {}): EvaluationResult {
  const { metadata } = pkg;
  const labelled = rows.filter((r) => !isMissing(r[metadata.target]));
  if (labelled.length === 0) throw new InvalidInputError(`${dataLabel} has no rows with the target column "${metadata.target}"`);
  for (let i = 0; i < labelled.length; i++) {
    const problem = validateInputRow(pkg.preprocessing, labelled[i]);
    if (problem) throw new InvalidInputError(`${dataLabel} row ${i + 1}: ${problem}`);
  }
  const x = transformRows(pkg.preprocessing, labelled);
  const out = createModelForward(pkg)(x, labelled.length);
  let metrics: Record<string, number>;
  let confusion: EvaluationResult['confusion'];
  let roc: RocPoint[] | undefined;
  let curves: Pick<ReportInput, 'pr' | 'calibration' | 'thresholds'> = {};
  if (metadata.task === 'regression') {
    const actual = labelled.map((r, i) => {
      const n = Number(r[metadata.target]);
      if (!Number.isFinite(n)) throw new InvalidInputError(`${dataLabel} row ${i + 1}: target "${metadata.target}" must be a number, found ${JSON.stringify(r[metadata.target])}`);
      return n;
    });
    metrics = { ...regressionMetrics(actual, out) };
  } else {
    const index = new Map(metadata.classes.map((c, i) => [c, i]));
    const labels = labelled.map((r, i) => {
      const label = String(r[metadata.target]).trim();
      const k = index.get(label);
      if (k === undefined) throw new InvalidInputError(`${dataLabel} row ${i + 1}: target ${JSON.stringify(label)} is not one of the model's classes (${metadata.classes.join(', ')})`);
      return k;
    });
    if (metadata.task === 'binary') {
      const { confusion: matrix, ...m } = binaryMetrics(labels, out, metadata.threshold);
      metrics = m;
      confusion = { labels: metadata.classes, matrix };
      roc = rocCurve(labels, out);
      curves = { pr: prCurve(labels, out), calibration: calibrationBins(labels, out), thresholds: thresholdTable(labels, out) };
    } else {
      const { confusion: matrix, ...m } = multiclassMetrics(labels, out, metadata.classes.length);
      metrics = m;
      confusion = { labels: metadata.classes, matrix };
    }
  }
  metrics = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, round(v)]));
  const reportHtml = renderReport({
    ...evaluationHeading(pkg, dataLabel, labels),
    ...(labels.compare ? { comparison: { labels: [labels.model ?? `run ${metadata.run_id}`, labels.compare.label], metrics: labels.compare.metrics } } : {}),
    ...curves,
    runId: metadata.run_id,
    task: metadata.task,
    metrics,
    history: (pkg.metrics?.history as Record<string, number>[] | undefined) ?? [],
    roc,
    confusion,
    lineage: { data: dataLabel, rows: labelled.length, data_hash: metadata.data_hash, config_hash: metadata.config_hash, code_version: metadata.code_version },
  });
  return { rows: labelled.length, metrics, confusion, roc, reportHtml };
}
