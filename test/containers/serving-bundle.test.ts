/**
 * The serving image holds only its bundle (containers/serving/Dockerfile copies
 * dist/bundles/serving). No Docker engine runs here, so this runs that folder with
 * node directly, from a temp folder without node_modules, and checks the SageMaker
 * container contract: GET /ping 200 and POST /invocations on the configured port,
 * the model read from the /opt/ml/model-equivalent folder, drain and exit 0 on SIGTERM.
 */
import * as tf from '../../runtime/model/tf';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { sampleRows, writeTestPackage } from '../serving/fixtures';
import { buildIsolatedBundle, containerEnv, startNode, waitUntil } from './bundle-helpers';

let dir: string;
let files: string[];
let modelDir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  modelDir = path.join(makeTempDir('mlstack-opt-ml-'), 'model');
  fs.mkdirSync(modelDir);
  await writeTestPackage(modelDir, { runId: 'run-bundle' });
  ({ dir, built: { files } } = await buildIsolatedBundle('serving'));
}, 120_000);

test('the bundle ships main.js, its source map, config and a manifest, nothing else', () => {
  expect(files.filter((f) => !f.startsWith('config/'))).toEqual(['main.js', 'main.js.map', 'bundle.json']);
  expect(files).toEqual(expect.arrayContaining(['config/pipeline.json', 'config/environments/prod.json']));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'bundle.json'), 'utf8'));
  expect(manifest).toMatchObject({ name: 'serving', command: 'serve', run: 'node --enable-source-maps main.js serve' });
  expect(manifest.external).toEqual(expect.arrayContaining(['@tensorflow/tfjs-node-gpu']));
});

test('`node main.js serve` forks its workers, answers /ping and /invocations, then drains on SIGTERM', async () => {
  const port = await freePort();
  const proc = startNode(dir, ['serve'], containerEnv({ PORT: String(port), MLSTACK_SM_MODEL_DIR: modelDir, MLSTACK_WORKERS: '2' }));
  const base = `http://127.0.0.1:${port}`;
  try {
    // The workers rerun main.js itself (no tsx, no node_modules): both must load the model.
    await waitUntil(async () => proc.output().includes('"msg":"all workers ready"'), proc);
    expect(proc.output().match(/"msg":"model loaded and warmed; ready"/g)).toHaveLength(2);
    const started = Date.now();
    const ping = await fetch(`${base}/ping`);
    expect(ping.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);

    const res = await fetch(`${base}/invocations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(sampleRows(5)),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: { prediction: string }[]; model_version: string };
    expect(body.predictions).toHaveLength(5);
    for (const p of body.predictions) expect(['no', 'yes']).toContain(p.prediction);
    expect(body.model_version).toBe('run-bundle');

    const bad = await fetch(`${base}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"age": "old"' });
    expect(bad.status).toBe(400);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/mlstack_http_requests_total\{route="sagemaker_invocations",code="200"\} 1\n/);
    expect(metrics).toMatch(/mlstack_http_requests_total\{route="sagemaker_invocations",code="400"\} 1\n/);
  } finally {
    proc.child.kill('SIGTERM');
  }
  expect(await proc.exited).toEqual({ code: 0, signal: null });
});

test('`node main.js` without "serve" refuses with a usage line', async () => {
  const proc = startNode(dir, ['train'], containerEnv({}));
  expect((await proc.exited).code).toBe(2);
  expect(proc.output()).toContain('usage: <image> serve');
});
