/**
 * A thin loopback double of an MLflow tracking server: the five REST API 2.0 calls mlstack makes, each request
 * checked against the shapes the MLflow REST API documentation gives (mlflow.org/docs/latest/rest-api.html:
 * GetExperimentByName, CreateExperiment, CreateRun, LogBatch with its 1000 metrics / 100 params / 100 tags / 1000
 * entities limits, UpdateRun). A request that breaks them answers 400 INVALID_PARAMETER_VALUE, as MLflow does, and
 * is kept in `violations`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeMlflowRun {
  run_id: string;
  experiment_id: string;
  run_name?: string;
  status: string;
  start_time: number;
  end_time?: number;
  params: Record<string, string>;
  metrics: Array<{ key: string; value: number; timestamp: number; step: number }>;
  tags: Record<string, string>;
}

export interface FakeMlflow {
  url: string;
  experiments: Map<string, string>;
  runs: FakeMlflowRun[];
  violations: string[];
  /** Every request as `METHOD path`, in order. */
  calls: string[];
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

type Json = Record<string, any>;
const isInt = (v: unknown) => Number.isInteger(v);
const isKeyValues = (v: unknown) => Array.isArray(v) && v.every((t) => typeof t?.key === 'string' && t.key.length > 0 && typeof t.value === 'string');

function checkLogBatch(body: Json): string[] {
  const problems: string[] = [];
  const { metrics = [], params = [], tags = [] } = body;
  if (typeof body.run_id !== 'string') problems.push('run_id must be a string');
  if (!Array.isArray(metrics) || !metrics.every((m: Json) => typeof m.key === 'string' && typeof m.value === 'number' && isInt(m.timestamp) && isInt(m.step ?? 0))) {
    problems.push('metrics must be {key: string, value: double, timestamp: int64, step: int64}');
  }
  if (!isKeyValues(params) || !isKeyValues(tags)) problems.push('params and tags must be {key: string, value: string}');
  if (metrics.length > 1000 || params.length > 100 || tags.length > 100 || metrics.length + params.length + tags.length > 1000) problems.push('log-batch over its limits');
  if (params.some((p: Json) => p.value.length > 6000)) problems.push('param value over 6000 characters');
  return problems;
}

function handle(state: FakeMlflow, method: string, url: URL, body: Json): [number, Json] {
  const route = `${method} ${url.pathname}`;
  const bad = (problems: string[]): [number, Json] | undefined => {
    if (!problems.length) return undefined;
    state.violations.push(`${route}: ${problems.join('; ')}`);
    return [400, { error_code: 'INVALID_PARAMETER_VALUE', message: problems.join('; ') }];
  };
  const run = () => state.runs.find((r) => r.run_id === body.run_id);
  switch (route) {
    case 'GET /api/2.0/mlflow/experiments/get-by-name': {
      const name = url.searchParams.get('experiment_name');
      const rejected = bad(name ? [] : ['experiment_name is required']);
      if (rejected) return rejected;
      const id = state.experiments.get(name as string);
      return id ? [200, { experiment: { experiment_id: id, name, lifecycle_stage: 'active' } }] : [404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Could not find experiment with name '${name}'` }];
    }
    case 'POST /api/2.0/mlflow/experiments/create': {
      const rejected = bad(typeof body.name === 'string' && body.name ? [] : ['name is required']);
      if (rejected) return rejected;
      const id = String(state.experiments.size + 1);
      state.experiments.set(body.name, id);
      return [200, { experiment_id: id }];
    }
    case 'POST /api/2.0/mlflow/runs/create': {
      const problems = [
        ...(typeof body.experiment_id === 'string' && [...state.experiments.values()].includes(body.experiment_id) ? [] : ['experiment_id must name an experiment (string)']),
        ...(isInt(body.start_time) ? [] : ['start_time must be int64 milliseconds']),
        ...(body.tags === undefined || isKeyValues(body.tags) ? [] : ['tags must be {key, value} strings']),
      ];
      const rejected = bad(problems);
      if (rejected) return rejected;
      const created: FakeMlflowRun = { run_id: `r${state.runs.length + 1}`, experiment_id: body.experiment_id, run_name: body.run_name, status: 'RUNNING', start_time: body.start_time, params: {}, metrics: [], tags: Object.fromEntries((body.tags ?? []).map((t: Json) => [t.key, t.value])) };
      state.runs.push(created);
      return [200, { run: { info: { run_id: created.run_id, run_uuid: created.run_id, experiment_id: created.experiment_id, status: 'RUNNING', start_time: created.start_time }, data: {} } }];
    }
    case 'POST /api/2.0/mlflow/runs/log-batch': {
      const rejected = bad([...checkLogBatch(body), ...(run() ? [] : ['run_id names no run'])]);
      if (rejected) return rejected;
      const target = run() as FakeMlflowRun;
      for (const p of body.params ?? []) target.params[p.key] = p.value;
      for (const t of body.tags ?? []) target.tags[t.key] = t.value;
      target.metrics.push(...(body.metrics ?? []));
      return [200, {}];
    }
    case 'POST /api/2.0/mlflow/runs/update': {
      const statuses = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];
      const rejected = bad([...(run() ? [] : ['run_id names no run']), ...(statuses.includes(body.status) ? [] : ['status must be a RunStatus']), ...(body.end_time === undefined || isInt(body.end_time) ? [] : ['end_time must be int64'])]);
      if (rejected) return rejected;
      Object.assign(run() as FakeMlflowRun, { status: body.status, end_time: body.end_time });
      return [200, { run_info: { run_id: body.run_id, status: body.status } }];
    }
    default:
      return [404, { error_code: 'ENDPOINT_NOT_FOUND', message: `no ${route}` }];
  }
}

export async function startFakeMlflow(): Promise<FakeMlflow> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://mlflow.local');
      state.calls.push(`${req.method} ${url.pathname}`);
      state.authorizations.push(req.headers.authorization);
      const [status, json] = handle(state, req.method ?? 'GET', url, raw ? (JSON.parse(raw) as Json) : {});
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const state: FakeMlflow = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    experiments: new Map(),
    runs: [],
    violations: [],
    calls: [],
    authorizations: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return state;
}
