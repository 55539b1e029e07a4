/**
 * The per-run HTML report: hyperparameters, metrics table, loss curves, ROC and PR curves and a calibration plot as
 * inline SVG, a threshold table, class balance, confusion matrix and lineage.
 */
import type { CalibrationBin, PrPoint, ThresholdRow } from './curves';
import type { RocPoint } from './metrics';

export interface ReportInput {
  title: string;
  /** A line under the title, e.g. "evaluated on: holdout.csv (overlaps the training data)". */
  subtitle?: string;
  runId: string;
  task: string;
  metrics: Record<string, number>;
  /** Per-epoch records with at least epoch and loss. */
  history: Record<string, number>[];
  roc?: RocPoint[];
  confusion?: { labels: string[]; matrix: number[][] };
  /** Feature importance, most important first. */
  importance?: { feature: string; permutation: number; permutation_std: number; split_gain?: number }[];
  lineage: Record<string, string | number | null>;
  /** The resolved training parameters. */
  params?: Record<string, unknown>;
  pr?: PrPoint[];
  calibration?: CalibrationBin[];
  thresholds?: ThresholdRow[];
  /** Rows per class in the training split and in the evaluated split. */
  balance?: { train: Record<string, number>; test: Record<string, number> };
  /** Another model's metrics on the same rows: labels are [this model, the other]. */
  comparison?: { labels: [string, string]; metrics: Record<string, number> };
}

const W = 420;
const H = 260;
const PAD = 40;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function polyline(points: [number, number][], color: string, cls: string): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polyline class="${cls}" fill="none" stroke="${color}" stroke-width="2" points="${d}"/>`;
}

function axes(xLabel: string, yLabel: string, yMin: number, yMax: number): string {
  return [
    `<line x1="${PAD}" y1="${H - PAD}" x2="${W - 10}" y2="${H - PAD}" stroke="#333"/>`,
    `<line x1="${PAD}" y1="10" x2="${PAD}" y2="${H - PAD}" stroke="#333"/>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${escapeHtml(xLabel)}</text>`,
    `<text x="12" y="${H / 2}" font-size="12" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
    `<text x="${PAD - 4}" y="${H - PAD}" text-anchor="end" font-size="10">${yMin.toPrecision(3)}</text>`,
    `<text x="${PAD - 4}" y="16" text-anchor="end" font-size="10">${yMax.toPrecision(3)}</text>`,
  ].join('');
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/**
 * Per-epoch series on one chart (x: each record's `epoch`): the report's loss curves, and in `mlstack ui` any
 * epoch metric of a run, or one metric of several runs (a series per run).
 */
export function epochCurveSvg(id: string, history: Record<string, number>[], keys: string[], yLabel: string): string {
  const series = keys.filter((k) => history.some((h) => Number.isFinite(h[k])));
  const values = history.flatMap((h) => series.map((k) => h[k]).filter(Number.isFinite));
  if (values.length === 0) return '<p>No epochs recorded.</p>';
  const yMin = Math.min(...values);
  const yMax = Math.max(...values) === yMin ? yMin + 1 : Math.max(...values);
  const epochs = history.map((h) => h.epoch);
  const xMin = Math.min(...epochs);
  const xMax = Math.max(...epochs) === xMin ? xMin + 1 : Math.max(...epochs);
  const sx = (x: number) => PAD + ((x - xMin) / (xMax - xMin)) * (W - PAD - 10);
  const sy = (y: number) => H - PAD - ((y - yMin) / (yMax - yMin)) * (H - PAD - 10);
  const color = (i: number) => PALETTE[i % PALETTE.length];
  const lines = series.map((k, i) =>
    polyline(
      history.filter((h) => Number.isFinite(h[k])).map((h) => [sx(h.epoch), sy(h[k])]),
      color(i),
      escapeHtml(k),
    ),
  );
  const legend = series.map((k, i) => `<text x="${W - 90}" y="${20 + i * 14}" font-size="11" fill="${color(i)}">${escapeHtml(k)}</text>`).join('');
  return `<svg id="${escapeHtml(id)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${axes('epoch', yLabel, yMin, yMax)}${lines.join('')}${legend}</svg>`;
}

export function lossCurveSvg(history: Record<string, number>[]): string {
  return epochCurveSvg('loss-curve', history, ['loss', 'val_loss'], 'loss');
}

export function rocCurveSvg(roc: RocPoint[], auc?: number): string {
  const sx = (x: number) => PAD + x * (W - PAD - 10);
  const sy = (y: number) => H - PAD - y * (H - PAD - 10);
  const diagonal = `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#aaa" stroke-dasharray="4"/>`;
  const label = auc === undefined ? '' : `<text x="${W - 110}" y="${H - PAD - 10}" font-size="12">AUC ${auc.toFixed(4)}</text>`;
  return `<svg id="roc-curve" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${axes('false positive rate', 'true positive rate', 0, 1)}${diagonal}${polyline(
    roc.map((p) => [sx(p.fpr), sy(p.tpr)]),
    '#2ca02c',
    'roc',
  )}${label}</svg>`;
}

/** A unit-square plot (both axes 0..1) with a dashed diagonal, one series of points. */
function unitPlot(id: string, xLabel: string, yLabel: string, points: [number, number][], color: string, markers: boolean): string {
  const sx = (x: number) => PAD + x * (W - PAD - 10);
  const sy = (y: number) => H - PAD - y * (H - PAD - 10);
  const diagonal = `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#aaa" stroke-dasharray="4"/>`;
  const dots = markers ? points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"/>`).join('') : '';
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${axes(xLabel, yLabel, 0, 1)}${diagonal}${polyline(
    points.map(([x, y]) => [sx(x), sy(y)]),
    color,
    id,
  )}${dots}</svg>`;
}

export function prCurveSvg(pr: PrPoint[]): string {
  return unitPlot('pr-curve', 'recall', 'precision', pr.map((p) => [p.recall, p.precision]), '#d62728', false);
}

export function calibrationSvg(bins: CalibrationBin[]): string {
  return unitPlot('calibration-plot', 'mean predicted probability', 'observed positive rate', bins.map((b) => [b.predicted, b.observed]), '#9467bd', true);
}

/** An HTML table with a header row from `rows`' keys. */
function recordTable(id: string, rows: Record<string, number | string>[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  const cell = (v: number | string) => `<td>${typeof v === 'number' ? formatMetric(v) : escapeHtml(v)}</td>`;
  return `<table id="${id}"><tr>${keys.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${keys.map((k) => cell(r[k])).join('')}</tr>`).join('')}</table>`;
}

function keyValueTable(id: string, record: Record<string, unknown>): string {
  const text = (v: unknown) => (Array.isArray(v) ? v.join(', ') : typeof v === 'number' ? formatMetric(v) : String(v ?? ''));
  return `<table id="${id}">${Object.entries(record)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(text(v))}</td></tr>`)
    .join('')}</table>`;
}

/** This model's metrics beside another's on the same rows, with the difference (this minus other). */
function comparisonSection(input: ReportInput): string {
  const c = input.comparison;
  if (!c) return '';
  const rows = Object.keys(input.metrics)
    .filter((k) => typeof c.metrics[k] === 'number')
    .map((k) => ({ metric: k, [c.labels[0]]: input.metrics[k], [c.labels[1]]: c.metrics[k], difference: Number((input.metrics[k] - c.metrics[k]).toFixed(6)) }));
  return `<h2>Side by side: ${escapeHtml(c.labels[0])} vs ${escapeHtml(c.labels[1])} (same rows)</h2>${recordTable('comparison', rows)}`;
}

/** The sections only some tasks have: hyperparameters, class balance, PR, calibration and the threshold table. */
function extraSections(input: ReportInput): string {
  const balance = input.balance
    ? `<h2>Class balance</h2>${recordTable(
        'class-balance',
        Object.keys(input.balance.train).map((c) => ({ class: c, train: input.balance!.train[c], test: input.balance!.test[c] ?? 0 })),
      )}`
    : '';
  return [
    comparisonSection(input),
    input.params ? `<h2>Hyperparameters</h2>${keyValueTable('hyperparameters', input.params)}` : '',
    balance,
    input.pr ? `<h2>Precision-recall curve (test split)</h2>${prCurveSvg(input.pr)}` : '',
    input.calibration ? `<h2>Calibration (test split)</h2>${calibrationSvg(input.calibration)}` : '',
    input.thresholds ? `<h2>Thresholds (test split)</h2>${recordTable('thresholds', input.thresholds as unknown as Record<string, number>[])}` : '',
  ].join('\n');
}

function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function importanceTable(importance: NonNullable<ReportInput['importance']>): string {
  const gains = importance.some((f) => f.split_gain !== undefined);
  const rows = importance
    .map((f) => `<tr><th>${escapeHtml(f.feature)}</th><td>${f.permutation.toFixed(4)} ± ${f.permutation_std.toFixed(4)}</td>${gains ? `<td>${(f.split_gain ?? 0).toFixed(1)}</td>` : ''}</tr>`)
    .join('');
  return `<h2>Feature importance (permutation on the test split)</h2><table id="importance"><tr><th>feature</th><th>score drop</th>${gains ? '<th>split gain</th>' : ''}</tr>${rows}</table>`;
}

export function renderReport(input: ReportInput): string {
  const metricRows = Object.entries(input.metrics)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${formatMetric(v)}</td></tr>`)
    .join('');
  const lineageRows = Object.entries(input.lineage)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v ?? ''))}</td></tr>`)
    .join('');
  const confusion = input.confusion
    ? `<h2>Confusion matrix (rows: true, columns: predicted)</h2><table id="confusion"><tr><th></th>${input.confusion.labels
        .map((l) => `<th>${escapeHtml(l)}</th>`)
        .join('')}</tr>${input.confusion.matrix
        .map((row, i) => `<tr><th>${escapeHtml(input.confusion!.labels[i])}</th>${row.map((v) => `<td>${v}</td>`).join('')}</tr>`)
        .join('')}</table>`
    : '';
  const roc = input.roc ? `<h2>ROC curve (test split)</h2>${rocCurveSvg(input.roc, input.metrics.auc)}` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
${input.subtitle ? `<p id="evaluated-on">${escapeHtml(input.subtitle)}</p>` : ''}
<p>run <code>${escapeHtml(input.runId)}</code>, task ${escapeHtml(input.task)}</p>
<h2>Metrics (test split)</h2><table id="metrics">${metricRows}</table>
<h2>Loss curves</h2>${lossCurveSvg(input.history)}
${roc}
${extraSections(input)}
${confusion}
${input.importance ? importanceTable(input.importance) : ''}
<h2>Lineage</h2><table id="lineage">${lineageRows}</table>
</body></html>
`;
}
