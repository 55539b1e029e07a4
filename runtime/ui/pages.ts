/** The pages of `mlstack ui`, each a pure function of what the catalog read: HTML with inline SVG charts. */
import type { ModelVersion } from '../registry';
import { pinnedIn } from '../registry/pins';
import { compareRuns, sideBySideRows, type ComparisonRow, type RunRecord } from '../tracking';
import { formatValue } from '../tracking/query';
import { epochCurveSvg, lossCurveSvg } from '../training/report';
import type { Experiment } from './catalog';
import { anchor, escapeHtml, htmlTable, link, page, pairsTable, path, type Cell } from './html';

const DIFFERS = '≠';

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function experimentsPage(experiments: Experiment[]): string {
  const rows = experiments.map((e): Cell[] => [e.name, link(path('experiments', e.name, 'runs'), count(e.runs, 'run')), link(path('experiments', e.name, 'versions'), count(e.versions, 'version'))]);
  return page('Experiments', [], htmlTable('experiments', ['experiment (project)', 'runs', 'versions'], rows));
}

function crumbs(project: string, last?: [string, string]): Array<[string, string]> {
  return [[project, path('experiments', project, 'runs')], ['versions', path('experiments', project, 'versions')], ...(last ? [last] : [])];
}

/** A table of checkboxes sent to a compare page by GET. */
function compareForm(action: string, table: string): string {
  return `<form method="get" action="${escapeHtml(action)}">${table}<button type="submit" id="compare">compare selected</button></form>`;
}

function checkbox(name: string, value: string): Cell {
  return { html: `<input type="checkbox" name="${escapeHtml(name)}" value="${escapeHtml(value)}">` };
}

export function runsPage(project: string, runs: RunRecord[]): string {
  if (runs.length === 0) return page(`Runs of ${project}`, crumbs(project), `<p>No tracked runs yet: train one with <code>mlstack train</code>.</p>`);
  const params = compareRuns(runs).params.filter((r) => r.differs).map((r) => r.key);
  const metrics = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const header = ['', 'run', 'source', 'started', 'parent', ...params, ...metrics];
  const rows = runs.map((r): Cell[] => [
    checkbox('run', r.run_id),
    link(path('experiments', project, 'runs', r.run_id), r.run_id),
    r.source,
    r.started_at,
    formatValue(r.lineage.parent_run),
    ...params.map((p) => formatValue(r.params[p])),
    ...metrics.map((m) => formatValue(r.metrics[m])),
  ]);
  const note = params.length ? `<p>Parameter columns: the ones that differ between runs (${params.map(escapeHtml).join(', ')}).</p>` : '';
  return page(`Runs of ${project}`, crumbs(project), note + compareForm(path('experiments', project, 'compare'), htmlTable('runs', header, rows)));
}

function recordPairs(record: Record<string, unknown>): Array<[string, Cell]> {
  return Object.keys(record)
    .sort()
    .map((k) => [k, formatValue(record[k] as RunRecord['params'][string])]);
}

/** The loss chart, then one chart per other per-epoch series (validation metrics, lr, cpu, memory). */
export function runCharts(run: RunRecord): string {
  const keys = [...new Set(run.epochs.flatMap((e) => Object.keys(e)))].filter((k) => !['epoch', 'loss', 'val_loss'].includes(k));
  return `<div class="charts">${lossCurveSvg(run.epochs)}${keys.map((k) => epochCurveSvg(`curve-${k}`, run.epochs, [k], k)).join('')}</div>`;
}

export function runPage(project: string, run: RunRecord): string {
  const sections: Array<[string, Record<string, unknown>]> = [
    ['params', run.params],
    ['metrics', run.metrics],
    ['validation', run.validation],
    ['system', run.system],
    ['tags', run.tags],
    ['artifacts', run.artifacts],
    ['lineage', run.lineage],
  ];
  const titles: Record<string, string> = { metrics: 'metrics (test split)', validation: 'validation (best epoch)' };
  const body = [
    `<p>${escapeHtml(run.source)}, ${escapeHtml(run.status)}, ${escapeHtml(run.started_at)} to ${escapeHtml(run.finished_at)}</p>`,
    `<h2>Curves per epoch</h2>${runCharts(run)}`,
    ...sections.map(([id, record]) => `<h2>${escapeHtml(titles[id] ?? id)}</h2>${pairsTable(id, recordPairs(record))}`),
  ];
  return page(`Run ${run.run_id}`, crumbs(project, [run.run_id, path('experiments', project, 'runs', run.run_id)]), body.join('\n'));
}

/** Side-by-side rows; a differing row is marked (class `differs` and a ≠ in its first cell). */
export function sideBySideTable(id: string, labels: string[], rows: ComparisonRow[]): string {
  return htmlTable(id, ['', 'key', ...labels], rows.map((r) => [r.differs ? DIFFERS : '', r.key, ...r.values]), (i) => (rows[i].differs ? 'differs' : ''));
}

/** Each run's loss per epoch (validation loss where recorded) on one chart. */
function overlayChart(runs: RunRecord[]): string {
  const key = runs.every((r) => r.epochs.some((e) => Number.isFinite(e.val_loss))) ? 'val_loss' : 'loss';
  const epochs = [...new Set(runs.flatMap((r) => r.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
  const merged = epochs.map((epoch) => Object.fromEntries([['epoch', epoch], ...runs.map((r) => [r.run_id, r.epochs.find((e) => e.epoch === epoch)?.[key] ?? Number.NaN])]) as Record<string, number>);
  return `<h2>${key} per epoch</h2><div class="charts">${epochCurveSvg('overlay', merged, runs.map((r) => r.run_id), key)}</div>`;
}

export function compareRunsPage(project: string, runs: RunRecord[]): string {
  const c = compareRuns(runs);
  const blocks: Array<[string, string, ComparisonRow[]]> = [
    ['params', 'params', c.params],
    ['metrics', 'metrics (test split)', c.metrics],
    ['validation', 'validation (best epoch)', c.validation],
    ['lineage', 'lineage', c.lineage],
  ];
  const body = [
    `<p>${DIFFERS} marks a row whose values differ.</p>`,
    overlayChart(runs),
    ...blocks.map(([id, title, rows]) => `<h2>${escapeHtml(title)}</h2>${sideBySideTable(id, c.runs, rows)}`),
  ];
  return page(`Comparing ${c.runs.join(', ')}`, crumbs(project), body.join('\n'));
}

function pinnedCell(pins: Record<string, string | null> | undefined, version: string): string {
  return pins ? pinnedIn(pins, version).join(', ') || '-' : 'unknown (not the configured project)';
}

export function versionsPage(project: string, versions: ModelVersion[], pins: Record<string, string | null> | undefined): string {
  if (versions.length === 0) return page(`Versions of ${project}`, crumbs(project), '<p>No registered versions yet: <code>mlstack train --register</code>.</p>');
  const metrics = [...new Set(versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  const rows = versions.map((v): Cell[] => [
    checkbox('version', v.version),
    link(path('experiments', project, 'versions', v.version), v.version),
    v.created_at,
    link(path('experiments', project, 'runs', v.lineage.run_id), v.lineage.run_id),
    pinnedCell(pins, v.version),
    ...metrics.map((m) => formatValue(v.metrics[m])),
  ]);
  const table = htmlTable('versions', ['', 'version', 'created', 'run', 'pinned in', ...metrics], rows);
  return page(`Versions of ${project}`, crumbs(project), compareForm(path('experiments', project, 'versions-compare'), table));
}

function pinsTable(pins: Record<string, string | null> | undefined, version: string): string {
  if (!pins) return '<p>Pins are read from config/environments of the configured project only.</p>';
  return htmlTable('pinned', ['environment', 'pinned version', 'this version'], Object.entries(pins).map(([env, pin]) => [env, pin ?? '-', pin === version ? 'pinned here' : '']));
}

export function versionPage(project: string, v: ModelVersion, pins: Record<string, string | null> | undefined): string {
  const reportHref = path('experiments', project, 'versions', v.version, 'report');
  const files: Array<[string, Cell]> = [['package', v.package_uri], ...(v.artifact_uri ? [['artifact', v.artifact_uri] as [string, Cell]] : []), ['report', link(reportHref, 'report.html')]];
  const body = [
    `<p>created ${escapeHtml(v.created_at)} from run ${anchor(path('experiments', project, 'runs', v.lineage.run_id), v.lineage.run_id)}</p>`,
    `<h2>Where it is pinned (config/environments)</h2>${pinsTable(pins, v.version)}`,
    `<h2>metrics (test split)</h2>${pairsTable('metrics', recordPairs(v.metrics))}`,
    `<h2>lineage</h2>${pairsTable('lineage', recordPairs(v.lineage as unknown as Record<string, unknown>))}`,
    `<h2>files</h2>${pairsTable('files', files)}`,
    `<h2>Report</h2><iframe id="report" title="report of ${escapeHtml(v.version)}" sandbox="allow-same-origin" src="${escapeHtml(reportHref)}"></iframe>`,
  ];
  return page(`${project} ${v.version}`, crumbs(project, [v.version, path('experiments', project, 'versions', v.version)]), body.join('\n'));
}

export function compareVersionsPage(project: string, versions: ModelVersion[], pins: Record<string, string | null> | undefined): string {
  const labels = versions.map((v) => v.version);
  const metrics = sideBySideRows(versions.flatMap((v) => Object.keys(v.metrics)), (k) => versions.map((v) => formatValue(v.metrics[k])));
  const lineage = sideBySideRows(versions.flatMap((v) => Object.keys(v.lineage)), (k) => versions.map((v) => formatValue((v.lineage as unknown as Record<string, string | null>)[k])));
  const pinned = sideBySideRows(['pinned in'], () => versions.map((v) => pinnedCell(pins, v.version)));
  const body = [
    `<p>${DIFFERS} marks a row whose values differ.</p>`,
    `<h2>metrics (test split)</h2>${sideBySideTable('metrics', labels, metrics)}`,
    `<h2>pinned</h2>${sideBySideTable('pinned', labels, pinned)}`,
    `<h2>lineage</h2>${sideBySideTable('lineage', labels, lineage)}`,
  ];
  return page(`Comparing ${labels.join(', ')}`, crumbs(project), body.join('\n'));
}
