/**
 * `mlstack monitor`'s work, loaded when the command runs: resolve the environment, its pinned version and
 * its package, the live data and the labels; run the monitor; print; fail with DRIFT_DETECTED (exit 3)
 * when something drifted (after the result and report are written).
 */
import * as fs from 'node:fs';
import type { RunContext } from '../../context';
import { MlstackError, UsageError } from '../../common/errors';
import { runMonitor, type MonitorResult } from '../../monitoring/monitor';
import { liveKeys, readLive, type LiveSource } from '../../monitoring/source';
import type { ObjectStore } from '../../storage/object-store';
import { openObjectUri } from '../../storage/open';
import { resolvePackage } from '../../training/locate';
import type { MonitorCommandOptions } from './monitor';
import { commandContext } from './options';

/** Drift found (exit 3): the result and report are already written. */
export class DriftDetectedError extends MlstackError {
  constructor(message: string) {
    super('DRIFT_DETECTED', message);
    this.name = 'DriftDetectedError';
  }
}

function parseSince(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--since must be an ISO 8601 time such as 2026-01-31T00:00:00Z, got "${value}"`);
  return at;
}

/** A local path or URI opens its own store; anything else is a key (or folder) in the environment's store. */
async function locate(ctx: RunContext, where: string): Promise<LiveSource & { uri: string }> {
  const opened = /^[a-z][a-z0-9+.-]*:\/\//i.test(where) || fs.existsSync(where) ? await openObjectUri(where) : { store: ctx.store, key: where };
  return { store: opened.store, keys: await liveKeys(opened.store, opened.key), uri: opened.store.uri(opened.key) };
}

async function readLabels(source: LiveSource, idField: string, labelField: string): Promise<Map<string, string>> {
  const labels = new Map<string, string>();
  for await (const r of readLive(source, [idField, labelField])) {
    const id = r.features[idField];
    const label = r.features[labelField];
    if (id !== undefined && id !== null && label !== undefined && label !== null && label !== '') labels.set(String(id), String(label));
  }
  return labels;
}

function pinnedVersion(ctx: RunContext, model: string | undefined): string {
  const version = model ?? ctx.project.environments[ctx.envName].model_version;
  if (version) return version;
  throw new UsageError(`no model to monitor: config/environments/${ctx.envName}.json has model_version null; promote a version (mlstack promote) or pass --model vN`);
}

function summary(r: MonitorResult): string {
  const lines = r.features.concat(r.prediction ? [r.prediction] : []).map((f) => {
    const flags = f.drifted.map((d) => `${d.metric} ${d.value.toFixed(3)} > ${d.threshold}`).join(', ');
    return `  ${f.drifted.length ? 'DRIFT' : 'ok   '} ${f.feature.padEnd(20)} ${flags || `psi ${(f.metrics.psi ?? 0).toFixed(3)}`}`;
  });
  const perf = r.performance ? `  labelled ${r.performance.joined}: accuracy ${r.performance.accuracy ?? '-'}, AUC ${r.performance.auc ?? '-'}\n` : '';
  return `${r.drift ? 'drift' : 'no drift'}: ${r.model} in ${r.env}, ${r.rows} live rows from ${r.data}\n${lines.join('\n')}\n${perf}  result: ${r.outputs.result}\n  report: ${r.outputs.report}\n`;
}

async function labelsFor(ctx: RunContext, opts: MonitorCommandOptions): Promise<Map<string, string> | undefined> {
  const config = ctx.project.environments[ctx.envName].monitoring.labels;
  const key = opts.labels ?? config?.key;
  if (key === undefined) return undefined;
  return readLabels(await locate(ctx, key), config?.id_field ?? 'request_id', config?.label_field ?? ctx.project.pipeline.target);
}

export async function runMonitorCommand(opts: MonitorCommandOptions, print: (text: string) => void, out?: ObjectStore): Promise<MonitorResult> {
  const since = parseSince(opts.since);
  const ctx = await commandContext(opts);
  const model = pinnedVersion(ctx, opts.model);
  const pkg = await resolvePackage(ctx, model);
  const live = await locate(ctx, opts.data ?? ctx.paths.dataCapture);
  const result = await runMonitor({
    project: ctx.project.pipeline.project,
    env: ctx.envName,
    model,
    pkg: { store: pkg.store, prefix: pkg.prefix, trust: { registered: pkg.registered } },
    live,
    data: live.uri,
    since,
    thresholds: ctx.project.environments[ctx.envName].monitoring.thresholds,
    labels: await labelsFor(ctx, opts),
    out: out ?? ctx.store,
  });
  print(opts.json ? JSON.stringify(result, null, 2) + '\n' : summary(result));
  if (result.drift) throw new DriftDetectedError(`drift in ${result.drifted_features.join(', ')}; report: ${result.outputs.report}`);
  return result;
}
