import * as tf from '../../runtime/model/tf';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadPredictor } from '../../runtime/serving/load';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import { makeTempDir } from '../helpers/tmp';
import { sampleRows, writeTestPackage } from './fixtures';
import { runCli } from '../helpers/cli';

const INVOKE_VARS = ['MLSTACK_GCP_ENDPOINT_URL', 'MLSTACK_GCP_ID_TOKEN', 'MLSTACK_VERTEX_ENDPOINT', 'MLSTACK_AZURE_ENDPOINT_URL', 'MLSTACK_AZURE_ENDPOINT_KEY'];

describe('mlstack invoke --cloud gcp|azure (CLI)', () => {
  let server: RunningServer;
  let front: http.Server;
  let frontUrl: string;
  const seen: { path: string; authorization?: string }[] = [];
  const saved = Object.fromEntries(INVOKE_VARS.map((name) => [name, process.env[name]]));

  beforeAll(async () => {
    await tf.setBackend('cpu');
    for (const name of INVOKE_VARS) delete process.env[name];
    const dir = makeTempDir();
    await writeTestPackage(dir, { runId: 'run-cli' });
    server = await startServer({ predictor: await loadPredictor(dir), port: 0, host: '127.0.0.1', env: {} });
    await server.whenReady;
    // Stand-in for the Cloud Run / Container Apps front ends (they cannot run here): record, then hand to our real server.
    front = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
        const answer = await fetch(`${server.url}${req.url}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
        res.writeHead(answer.status, { 'Content-Type': 'application/json' });
        res.end(await answer.text());
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await new Promise<void>((r) => front.close(() => r()));
    await server.close();
  });

  it('gcp: exits 2 naming what to set, then calls /predict of --url with the ID token from MLSTACK_GCP_ID_TOKEN', async () => {
    const missing = await runCli(['invoke', '--env', 'staging', '--cloud', 'gcp', '--data', JSON.stringify(sampleRows(1))]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/set gcp.endpoint_url in config\/environments\/staging.json or MLSTACK_GCP_ENDPOINT_URL/);

    process.env.MLSTACK_GCP_ID_TOKEN = 'cli-token';
    const ok = await runCli(['invoke', '--env', 'staging', '--cloud', 'gcp', '--url', frontUrl, '--data', JSON.stringify(sampleRows(2))]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).predictions).toHaveLength(2);
    expect(seen.at(-1)).toEqual({ path: '/predict', authorization: 'Bearer cli-token' });
  });

  it('azure: posts to /score of MLSTACK_AZURE_ENDPOINT_URL with no key', async () => {
    process.env.MLSTACK_AZURE_ENDPOINT_URL = frontUrl;
    const ok = await runCli(['invoke', '--env', 'dev', '--cloud', 'azure', '--data', JSON.stringify(sampleRows(3))]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).predictions).toHaveLength(3);
    expect(seen.at(-1)).toEqual({ path: '/score', authorization: undefined });
  });
});
