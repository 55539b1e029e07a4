import * as tf from '../../runtime/model/tf';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { exitOnSignals, modelSource, serveFromEnvironment, servingLimits } from '../../runtime/serving/entrypoint';
import { silentLogger } from '../../runtime/common/logger';
import { freePort } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { holdRequests, sampleRows, writeTestPackage } from './fixtures';

const ROOT = path.resolve(__dirname, '..', '..');

describe('serving entrypoint', () => {
  let modelDir: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    modelDir = makeTempDir();
    await writeTestPackage(modelDir, { runId: 'run-entry' });
  });

  it('finds the model where each cloud puts it (ours, Vertex, Azure, SageMaker root)', () => {
    expect(modelSource({ MLSTACK_MODEL: 'v3', AIP_STORAGE_URI: 'gs://b/m' })).toBe('v3');
    expect(modelSource({ AIP_STORAGE_URI: 'gs://b/m', AZUREML_MODEL_DIR: '/aml' })).toBe('gs://b/m');
    expect(modelSource({ AZUREML_MODEL_DIR: '/aml' })).toBe('/aml');
    expect(modelSource({ MLSTACK_SM_MODEL_DIR: '/tmp/m' })).toBe('/tmp/m');
    expect(modelSource({})).toBe('/opt/ml/model');
  });

  it('takes limits from env vars, else from config/pipeline.json serving', () => {
    const config = copyConfig();
    editJson(path.join(config, 'pipeline.json'), (doc) => (doc.serving = { max_batch_size: 7, max_body_bytes: 1234 }));
    expect(servingLimits({ MLSTACK_CONFIG_DIR: config })).toEqual({ maxBatchSize: 7, maxBodyBytes: 1234 });
    expect(servingLimits({ MLSTACK_CONFIG_DIR: config, MLSTACK_MAX_BATCH_SIZE: '3' })).toEqual({ maxBatchSize: 3, maxBodyBytes: 1234 });
    expect(servingLimits({})).toEqual({ maxBatchSize: undefined, maxBodyBytes: undefined });
    expect(() => servingLimits({ MLSTACK_MAX_BODY_BYTES: 'lots' })).toThrow(/MLSTACK_MAX_BODY_BYTES="lots" must be a positive integer/);
  });

  it('serves a SageMaker-style model folder in-process and exits 0 after draining on SIGTERM', async () => {
    const server = await serveFromEnvironment({ MLSTACK_SM_MODEL_DIR: modelDir, PORT: '0', MLSTACK_MAX_BATCH_SIZE: '2' }, silentLogger);
    await server.whenReady;
    const res = await fetch(`${server.url}/invocations`, { method: 'POST', body: JSON.stringify(sampleRows(3)), headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(413);
    const exited = new Promise<number>((resolve) => exitOnSignals(server, silentLogger, resolve));
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(0);
    expect(server.ready).toBe(false);
  });

  it('SIGTERM under load: the real entrypoint finishes every in-flight request with 2xx, then exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/run-ts.js', 'runtime/serving/entrypoint.ts', 'serve'], {
      cwd: ROOT,
      env: { ...process.env, MLSTACK_SM_MODEL_DIR: modelDir, PORT: String(port), MLSTACK_LOG_LEVEL: 'info', MLSTACK_WORKERS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const sawLog = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (pattern.test(log) ? resolve() : undefined);
        child.stderr.on('data', (c: Buffer) => {
          log += c.toString();
          check();
        });
        child.once('exit', (code) => reject(new Error(`entrypoint exited ${code} before logging ${pattern}:\n${log}`)));
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await sawLog(/model loaded and warmed; ready/);
      const base = `http://127.0.0.1:${port}`;
      const body = JSON.stringify(sampleRows(100));
      const held = holdRequests(`${base}/invocations`, body, 48);
      // Every request is on the server (headers read, body incomplete) before the signal.
      for (;;) {
        const metrics = await (await fetch(`${base}/metrics`)).text();
        const inFlight = Number(/mlstack_http_requests_in_flight (\d+)/.exec(metrics)?.[1] ?? 0);
        if (inFlight >= 48) break;
      }
      const draining = sawLog(/draining/);
      child.kill('SIGTERM');
      await draining;
      held.finish();
      expect(await held.statuses).toEqual(new Array(48).fill(200));
      expect(await exited).toBe(0);
      held.close();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30000);

  it('exits 1 with the reason when there is no model', async () => {
    const child = spawn(process.execPath, ['bin/run-ts.js', 'runtime/serving/entrypoint.ts', 'serve'], {
      cwd: ROOT,
      env: { ...process.env, MLSTACK_SM_MODEL_DIR: makeTempDir(), PORT: '0', MLSTACK_WORKERS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(log).toMatch(/no model package in/);
  }, 30000);
});
