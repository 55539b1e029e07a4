/**
 * Exports a tracked run to an MLflow tracking server through its REST API 2.0 (pipeline.json
 * `tracking.mlflow`): experiments/get-by-name (experiments/create when missing), runs/create, runs/log-batch
 * (params, metrics with their epoch as step, tags; in chunks within the API's per-request limits), runs/update.
 * MLFLOW_TRACKING_TOKEN, MLflow's own variable, is sent as a bearer token when set.
 */
import { CloudCallError } from '../common/errors';
import { formatValue } from './query';
import type { RunRecord } from './record';

export interface MlflowTarget {
  trackingUri: string;
  experiment: string;
  token?: string;
}

interface KeyValue {
  key: string;
  value: string;
}

interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** log-batch limits of the REST API: 1000 metrics, 100 params, 100 tags, 1000 entities in all per request. */
const LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;
/** The longest param value MLflow 2.x stores (longer values are cut, with a marker). */
const MAX_PARAM_VALUE = 6000;

async function call<T>(target: MlflowTarget, method: 'GET' | 'POST', endpoint: string, body?: unknown): Promise<{ status: number; json: T }> {
  const url = `${target.trackingUri.replace(/\/+$/, '')}/api/2.0/mlflow/${endpoint}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) };
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new CloudCallError(`MLflow tracking server ${target.trackingUri} (pipeline.json tracking.mlflow.tracking_uri) did not answer ${method} ${endpoint}: ${(err as Error).message}`);
  }
  const text = await res.text();
  const json = (text ? JSON.parse(text) : {}) as T;
  return { status: res.status, json };
}

async function post<T>(target: MlflowTarget, endpoint: string, body: unknown): Promise<T> {
  const { status, json } = await call<T & { error_code?: string; message?: string }>(target, 'POST', endpoint, body);
  if (status !== 200) throw new CloudCallError(`MLflow ${endpoint} answered ${status} ${json.error_code ?? ''}: ${json.message ?? JSON.stringify(json)}`);
  return json;
}

/** The experiment's id, creating the experiment when the server has none by that name. */
export async function experimentId(target: MlflowTarget): Promise<string> {
  const found = await call<{ experiment?: { experiment_id: string }; error_code?: string; message?: string }>(
    target,
    'GET',
    `experiments/get-by-name?experiment_name=${encodeURIComponent(target.experiment)}`,
  );
  if (found.status === 200 && found.json.experiment) return found.json.experiment.experiment_id;
  if (found.json.error_code !== 'RESOURCE_DOES_NOT_EXIST') {
    throw new CloudCallError(`MLflow experiments/get-by-name answered ${found.status} ${found.json.error_code ?? ''}: ${found.json.message ?? ''}`);
  }
  return (await post<{ experiment_id: string }>(target, 'experiments/create', { name: target.experiment })).experiment_id;
}

/** What a run becomes in MLflow: params as text, metrics with steps, lineage and system strings as tags. */
export function mlflowEntities(run: RunRecord): { params: KeyValue[]; metrics: Metric[]; tags: KeyValue[] } {
  const at = Date.parse(run.finished_at);
  const params = Object.keys(run.params)
    .sort()
    .map((key) => ({ key, value: formatValue(run.params[key]).slice(0, MAX_PARAM_VALUE) }));
  const finalStep = run.epochs.length ? Math.max(...run.epochs.map((e) => e.epoch)) : 0;
  const epochMetrics = run.epochs.flatMap((e) => Object.entries(e).filter(([k]) => k !== 'epoch').map(([key, value]) => ({ key, value, timestamp: at, step: e.epoch })));
  const named = (prefix: string, record: Record<string, number | string>) =>
    Object.entries(record)
      .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
      .map(([key, value]) => ({ key: `${prefix}${key}`, value, timestamp: at, step: finalStep }));
  const metrics = [...epochMetrics, ...named('test_', run.metrics), ...named('best_', run.validation), ...named('system_', run.system)];
  const tags = [
    ...Object.entries(run.tags).map(([key, value]) => ({ key: `mlstack.tag.${key}`, value })),
    ...Object.entries(run.lineage).map(([key, value]) => ({ key: `mlstack.lineage.${key}`, value: formatValue(value) })),
    ...Object.entries(run.system).filter(([, v]) => typeof v === 'string').map(([key, value]) => ({ key: `mlstack.system.${key}`, value: String(value) })),
    { key: 'mlstack.source', value: run.source },
    { key: 'mlflow.source.git.commit', value: run.lineage.code_version },
  ];
  return { params, metrics, tags };
}

/** Splits the entities into log-batch requests within the API's limits. */
export function batches(entities: ReturnType<typeof mlflowEntities>): Array<ReturnType<typeof mlflowEntities>> {
  const out: Array<ReturnType<typeof mlflowEntities>> = [];
  const rest = { params: [...entities.params], metrics: [...entities.metrics], tags: [...entities.tags] };
  while (rest.params.length || rest.metrics.length || rest.tags.length) {
    const params = rest.params.splice(0, LIMITS.params);
    const tags = rest.tags.splice(0, LIMITS.tags);
    const metrics = rest.metrics.splice(0, Math.min(LIMITS.metrics, LIMITS.total - params.length - tags.length));
    out.push({ params, metrics, tags });
  }
  return out;
}

/** Creates the run in MLflow, logs everything in batches and marks it FINISHED; returns the MLflow run id. */
export async function exportRunToMlflow(run: RunRecord, target: MlflowTarget): Promise<string> {
  const experiment = await experimentId(target);
  const created = await post<{ run: { info: { run_id: string } } }>(target, 'runs/create', {
    experiment_id: experiment,
    run_name: run.run_id,
    start_time: Date.parse(run.started_at),
    tags: [{ key: 'mlstack.run_id', value: run.run_id }],
  });
  const runId = created.run.info.run_id;
  for (const batch of batches(mlflowEntities(run))) await post(target, 'runs/log-batch', { run_id: runId, ...batch });
  await post(target, 'runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.parse(run.finished_at) });
  return runId;
}
