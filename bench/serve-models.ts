/**
 * Serving latency per model type on adult: the dense net (the adult example, 2 epochs: latency does not
 * depend on training), gradient-boosted trees and logistic regression, each trained here and loaded
 * through the one serving path (loadPredictor). Prints, per type, the median and p99 of in-process
 * predict() for 1 row and for 100-row batches, and of POST /invocations (1 row, one keep-alive client)
 * against startServer, all in the same run so the net is the baseline.
 *
 *   node bin/run-ts.js bench/serve-models.ts [--requests 2000]
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadProjectConfig } from '../config/load';
import type { ModelType } from '../config/schema';
import { loadPredictor } from '../runtime/serving/load';
import type { Predictor } from '../runtime/serving/predictor';
import { startServer } from '../runtime/serving/server';
import { LocalObjectStore } from '../runtime/storage/local-store';
import { train } from '../runtime/training';

const REQUESTS = Number(process.argv[process.argv.indexOf('--requests') + 1] || 2000);
const TYPES: ModelType[] = ['neural_network', 'gradient_boosting', 'logistic_regression'];

function quantiles(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(3)} ms  p99 ${s[Math.floor(s.length * 0.99)].toFixed(3)} ms`;
}

function timeCalls(n: number, call: (i: number) => void): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    call(i);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

async function httpTimes(url: string, bodies: string[], n: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(`${url}/invocations`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await post(bodies[i % bodies.length]);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  agent.destroy();
  return times;
}

async function measure(type: ModelType, predictor: Predictor, rows: Record<string, unknown>[]): Promise<void> {
  predictor.warmup?.();
  const single = timeCalls(REQUESTS, (i) => predictor.predict([rows[i % rows.length]]));
  const batch = timeCalls(Math.ceil(REQUESTS / 10), (i) => predictor.predict(rows.slice((i * 100) % 5000, ((i * 100) % 5000) + 100)));
  const server = await startServer({ predictor, port: 0, host: '127.0.0.1', env: {} });
  const bodies = rows.slice(0, 500).map((r) => JSON.stringify([r]));
  await httpTimes(server.url, bodies, 200);
  const overHttp = await httpTimes(server.url, bodies, REQUESTS);
  await server.close();
  process.stdout.write(`${type}\n  predict 1 row      ${quantiles(single)}\n  predict 100 rows   ${quantiles(batch)}\n  HTTP 1 row         ${quantiles(overHttp)}\n`);
}

async function main(): Promise<void> {
  const repo = path.resolve(__dirname, '..');
  const dataFile = path.join(repo, '..', 'shared', 'data', 'adult.csv');
  const project = loadProjectConfig(path.join(repo, 'docs', 'examples', 'adult'));
  const rows = (parse(fs.readFileSync(dataFile, 'utf8'), { columns: true, cast: true }) as Record<string, unknown>[]).slice(0, 5100);
  rows.forEach((r) => delete r[project.pipeline.target]);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-serve-models-'));
  for (const modelType of TYPES) {
    const store = new LocalObjectStore(path.join(work, modelType));
    const result = await train({
      project: { ...project, pipeline: { ...project.pipeline, model_type: modelType } },
      store,
      dataStore: new LocalObjectStore(path.dirname(dataFile)),
      dataKeys: [path.basename(dataFile)],
      runId: modelType.replace(/_/g, '-'),
      modelsPrefix: 'models/',
      checkpointsPrefix: 'checkpoints/',
      progress: 'none',
      overrides: { epochs: 2 },
    });
    await measure(modelType, await loadPredictor(path.join(work, modelType, result.packagePrefix)), rows);
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`bench/serve-models: ${(err as Error).message}\n`);
  process.exit(1);
});
