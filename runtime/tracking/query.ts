/** What `mlstack runs list` and `runs compare` do with tracked runs: filter, sort, and set side by side. Pure. */
import { UsageError } from '../common/errors';
import type { ParamValue, RunRecord } from './record';

/** `key=value`: a param (`learning_rate=0.01`, `model.type=dense`), a tag (`tag.owner=ana`), or a lineage field. */
export interface RunFilter {
  key: string;
  value: string;
}

export function parseFilter(text: string): RunFilter {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`--filter "${text}" is not key=value (e.g. --filter epochs=6, --filter tag.source=tune, --filter parent_run=study-1)`);
  return { key: text.slice(0, at).trim(), value: text.slice(at + 1).trim() };
}

/** A run's value for a key, looked up in params, then metrics, then tags (`tag.` prefix), lineage and source. */
export function valueOf(run: RunRecord, key: string): ParamValue | undefined {
  if (key.startsWith('tag.')) return run.tags[key.slice(4)];
  if (key in run.params) return run.params[key];
  if (key in run.metrics) return run.metrics[key];
  if (key in run.validation) return run.validation[key];
  if (key === 'source') return run.source;
  return (run.lineage as Record<string, string | null>)[key];
}

/** How a value is shown and matched: arrays as `32,16`, null as `-`. */
export function formatValue(value: ParamValue | undefined): string {
  if (value === undefined || value === null) return '-';
  return Array.isArray(value) ? value.join(',') : String(value);
}

export function filterRuns(runs: RunRecord[], filters: RunFilter[]): RunRecord[] {
  return runs.filter((run) => filters.every((f) => matches(valueOf(run, f.key), f.value)));
}

function matches(value: ParamValue | undefined, wanted: string): boolean {
  if (typeof value === 'number' && wanted !== '' && Number.isFinite(Number(wanted))) return value === Number(wanted);
  return formatValue(value) === wanted || (Array.isArray(value) && formatValue(value) === wanted.replace(/[[\]\s]/g, ''));
}

/** Sorts by a metric (test first, then validation): descending, except losses and errors (ascending). Runs without it go last. */
export function sortRuns(runs: RunRecord[], metric: string): RunRecord[] {
  const ascending = /loss|rmse|mae|latency|size/.test(metric);
  const known = runs.filter((r) => typeof valueOf(r, metric) === 'number');
  if (runs.length && known.length === 0) {
    const names = [...new Set(runs.flatMap((r) => [...Object.keys(r.metrics), ...Object.keys(r.validation)]))].sort();
    throw new UsageError(`--sort ${metric}: no run has that metric; metrics: ${names.join(', ')}`);
  }
  const sorted = [...known].sort((a, b) => ((valueOf(a, metric) as number) - (valueOf(b, metric) as number)) * (ascending ? 1 : -1));
  return [...sorted, ...runs.filter((r) => !known.includes(r))];
}

export interface ComparisonRow {
  key: string;
  values: string[];
  /** True when the runs do not all show the same value. */
  differs: boolean;
}

export interface Comparison {
  runs: string[];
  params: ComparisonRow[];
  metrics: ComparisonRow[];
  validation: ComparisonRow[];
  lineage: ComparisonRow[];
}

/** One row per key (every key once, sorted), with the cells `cell` gives and whether they differ. */
export function sideBySideRows(keys: string[], cell: (key: string) => string[]): ComparisonRow[] {
  return [...new Set(keys)].sort().map((key) => {
    const values = cell(key);
    return { key, values, differs: new Set(values).size > 1 };
  });
}

/** Params, test metrics, validation metrics and lineage of the runs, side by side (every key any run has). */
export function compareRuns(runs: RunRecord[]): Comparison {
  const table = (pick: (r: RunRecord) => Record<string, ParamValue>) => sideBySideRows(runs.flatMap((r) => Object.keys(pick(r))), (key) => runs.map((r) => formatValue(pick(r)[key])));
  return {
    runs: runs.map((r) => r.run_id),
    params: table((r) => r.params),
    metrics: table((r) => r.metrics),
    validation: table((r) => r.validation),
    lineage: table((r) => r.lineage),
  };
}
