/**
 * `mlstack runs list | show | compare`: tracked runs of the project's experiment, read from the environment's
 * store (runtime/tracking), printed as tables or, with --json, as the records themselves.
 */
import type { RunContext } from '../context';
import { compareRuns, filterRuns, parseFilter, RunTracker, sortRuns, type Comparison, type RunRecord } from '../tracking';
import { formatValue } from '../tracking/query';
import { section, table } from './table';
import { UsageError } from './errors';

export interface ListRequest {
  sort?: string;
  filter: string[];
  json: boolean;
}

function trackerOf(ctx: RunContext): RunTracker {
  return new RunTracker(ctx.store, ctx.project.pipeline.project, ctx.paths);
}

/** Param keys whose value differs between the listed runs: what sets them apart. */
function differingParams(runs: RunRecord[]): string[] {
  return compareRuns(runs).params.filter((row) => row.differs).map((row) => row.key);
}

export function formatRunList(runs: RunRecord[], project: string): string {
  if (runs.length === 0) return `no tracked runs for project ${project} (train one: mlstack train --env dev --cloud local)\n`;
  const params = differingParams(runs);
  const metrics = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const header = ['run', 'source', 'parent', ...params, ...metrics];
  const body = runs.map((r) => [r.run_id, r.source, formatValue(r.lineage.parent_run), ...params.map((p) => formatValue(r.params[p])), ...metrics.map((m) => formatValue(r.metrics[m]))]);
  return `experiment ${project}: ${runs.length} run${runs.length === 1 ? '' : 's'}\n` + table([header, ...body]);
}

export async function listRuns(ctx: RunContext, request: ListRequest): Promise<string> {
  const filters = request.filter.map(parseFilter);
  let runs = filterRuns(await trackerOf(ctx).list(), filters);
  if (request.sort) runs = sortRuns(runs, request.sort);
  return request.json ? JSON.stringify(runs, null, 2) + '\n' : formatRunList(runs, ctx.project.pipeline.project);
}

function entries(record: Record<string, unknown>): Array<[string, string]> {
  return Object.keys(record)
    .sort()
    .map((k) => [k, formatValue(record[k] as RunRecord['params'][string])]);
}

export function formatRun(run: RunRecord): string {
  const epochKeys = [...new Set(run.epochs.flatMap((e) => Object.keys(e)))];
  const epochs = run.epochs.length ? `epochs:\n${table([epochKeys, ...run.epochs.map((e) => epochKeys.map((k) => formatValue(e[k])))].map((row) => row.map((c, i) => (i === 0 ? `  ${c}` : c))))}` : '';
  return [
    `run ${run.run_id} (experiment ${run.experiment}, ${run.source}, ${run.status})\n  started ${run.started_at}\n  finished ${run.finished_at}\n`,
    section('params', entries(run.params)),
    section('metrics (test)', entries(run.metrics)),
    section('validation (best epoch)', entries(run.validation)),
    epochs,
    section('system', entries(run.system)),
    section('tags', entries(run.tags)),
    section('artifacts', entries(run.artifacts)),
    section('lineage', entries(run.lineage)),
  ].join('');
}

export async function showRun(ctx: RunContext, runId: string, json: boolean): Promise<string> {
  const run = await trackerOf(ctx).get(runId);
  return json ? JSON.stringify(run, null, 2) + '\n' : formatRun(run);
}

/** A comparison as tables: `*` marks a row whose values differ. */
export function formatComparison(c: Comparison): string {
  const block = (title: string, rows: Comparison['params']) =>
    rows.length ? `${title}:\n${table([['', 'key', ...c.runs], ...rows.map((r) => [r.differs ? '*' : ' ', r.key, ...r.values])])}` : '';
  return [`comparing ${c.runs.join(', ')} (* = differs)\n`, block('params', c.params), block('metrics (test)', c.metrics), block('validation (best epoch)', c.validation), block('lineage', c.lineage)].join('');
}

export async function compareRunIds(ctx: RunContext, runIds: string[], json: boolean): Promise<string> {
  if (runIds.length < 2) throw new UsageError(`runs compare needs at least two run ids, got ${runIds.length}: mlstack runs compare <a> <b> [...]`);
  const tracker = trackerOf(ctx);
  const comparison = compareRuns(await Promise.all(runIds.map((id) => tracker.get(id))));
  return json ? JSON.stringify(comparison, null, 2) + '\n' : formatComparison(comparison);
}
