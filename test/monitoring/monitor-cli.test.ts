/**
 * `mlstack monitor` end to end on a local workdir: a registered version whose package carries a baseline,
 * traffic captured in our format and in SageMaker's data-capture format, labels joined by request id.
 * Unchanged traffic exits 0; shifted traffic exits 3 naming the feature; the result and report are in
 * the store; a package older than baselines says "no baseline".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectLayout, layoutOf } from '../../runtime/contract/layout';
import { fitPreprocessing } from '../../runtime/model/preprocessing';
import { trainingBaseline, writeBaseline } from '../../runtime/monitoring/baseline';
import type { CaptureLine } from '../../runtime/monitoring/records';
import { ModelRegistry } from '../../runtime/registry';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { startServeCli } from '../helpers/cli';
import { runCliCaptured } from '../helpers/cli-capture';
import { writeTinyPackage } from '../helpers/tiny-package';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

const N = 1000;
const TIME = '2026-01-02T03:04:05Z';
let configDir: string;
let workdir: string;
let project: string;

const scoreOf = (i: number) => i / N;
const predictionOf = (i: number) => ({ prediction: scoreOf(i) >= 0.5 ? 'yes' : 'no', probabilities: { no: 1 - scoreOf(i), yes: scoreOf(i) } });

function ours(i: number, x: unknown): string {
  const line: CaptureLine = { request_id: `r${i}`, time: TIME, model_version: 'v1', instances: [{ x }], predictions: [predictionOf(i)] };
  return JSON.stringify(line);
}

function sagemaker(i: number, x: unknown, base64: boolean): string {
  const input = JSON.stringify({ instances: [{ x }] });
  const output = JSON.stringify({ predictions: [predictionOf(i)] });
  const part = (data: string, mode: string) => ({ observedContentType: 'application/json', mode, data: base64 ? Buffer.from(data).toString('base64') : data, encoding: base64 ? 'BASE64' : 'JSON' });
  return JSON.stringify({ captureData: { endpointInput: part(input, 'INPUT'), endpointOutput: part(output, 'OUTPUT') }, eventMetadata: { eventId: `r${i}`, inferenceTime: TIME }, eventVersion: '0' });
}

async function registerVersion(withBaseline: boolean): Promise<string> {
  const source = new LocalObjectStore(makeTempDir('mlstack-monitor-pkg-'));
  if (withBaseline) {
    const rows = Array.from({ length: N }, (_, i) => ({ x: String(i + 1) }));
    const preprocessing = fitPreprocessing(rows, { features: ['x'] });
    const predictions = Array.from({ length: N }, (_, i) => scoreOf(i + 1));
    await writeBaseline(source, '', trainingBaseline({ rows, indices: rows.map((_, i) => i), preprocessing, task: 'binary', predictions, classes: ['no', 'yes'] }));
  }
  await writeTinyPackage(source, '', { project });
  const layout = projectLayout(layoutOf(undefined), project);
  const v = await new ModelRegistry(new LocalObjectStore(workdir), 'registry/', project).register({
    project,
    metrics: {},
    lineage: { data_hash: 'd', config_hash: 'c', code_version: 't', run_id: `run-${withBaseline}` },
    materialise: { source: { store: source, prefix: '' }, modelsPrefix: layout.models },
  });
  return v.version;
}

function write(rel: string, lines: string[]): string {
  const file = path.join(workdir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const args = (...more: string[]) => ['monitor', '--env', 'dev', '--cloud', 'local', '--config-dir', configDir, '--workdir', workdir, ...more];

beforeAll(async () => {
  configDir = copyConfig();
  workdir = makeTempDir('mlstack-monitor-work-');
  project = JSON.parse(fs.readFileSync(path.join(configDir, 'pipeline.json'), 'utf8')).project;
  const version = await registerVersion(true);
  editJson(path.join(configDir, 'environments', 'dev.json'), (e) => {
    e.model_version = version;
    e.monitoring = { labels: { key: 'labels/truth.csv', label_field: 'churned' } };
  });
  const idx = Array.from({ length: N }, (_, i) => i + 1);
  write('data-capture/ep/mlstack/2026/01/02/03/part-0.jsonl', idx.slice(0, N / 2).map((i) => ours(i, i)));
  write('data-capture/ep/AllTraffic/2026/01/02/03/capture.jsonl', idx.slice(N / 2).map((i) => sagemaker(i, i, i % 2 === 0)));
  write('labels/truth.csv', ['request_id,churned', 'r900,yes', 'r800,no', 'r300,yes', 'r100,no', 'r-unknown,yes']);
}, 60_000);

describe('mlstack monitor', () => {
  it('GIVEN captured traffic like training (both capture formats) WHEN monitored THEN no drift, exit 0, labels joined: accuracy and AUC by hand', async () => {
    const run = await runCliCaptured(args('--json'));
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ rows: N, drift: false, drifted_features: [], model: 'v1', env: 'dev' });
    expect(result.prediction.drifted).toEqual([]);
    // scores .9 yes, .8 no, .3 yes, .1 no: accuracy 2/4; AUC: .9>.8, .9>.1, .3<.8, .3>.1 -> 3/4
    expect(result.performance).toEqual({ joined: 4, accuracy: 0.5, auc: 0.75 });
    const written = JSON.parse(fs.readFileSync(result.outputs.result.replace(/^file:\/\//, ''), 'utf8'));
    expect(written.rows).toBe(N);
    expect(fs.readFileSync(result.outputs.report.replace(/^file:\/\//, ''), 'utf8')).toMatch(/no drift<\/h1>/);
  });

  it('GIVEN shifted traffic in a given JSONL file WHEN monitored THEN exit 3, x and the prediction named, report written', async () => {
    const file = write('shifted/live.jsonl', Array.from({ length: 400 }, (_, i) => ours(900 + (i % 100), 800 + i * 3)));
    const run = await runCliCaptured(args('--data', file));
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^drift: v1 in dev, 400 live rows/);
    expect(run.stdout).toMatch(/DRIFT x\s+psi/);
    expect(run.stdout).toMatch(/DRIFT \(prediction\)/);
    const report = /^mlstack: drift in x, \(prediction\); report: file:\/\/(\S+report\.html)$/m.exec(run.stderr);
    expect(report).not.toBeNull();
    const html = fs.readFileSync(report![1], 'utf8');
    expect(html).toMatch(/<h2>x <small>numeric · DRIFT<\/small><\/h2>/);
    expect(html.match(/class="bar live"/g)?.length).toBeGreaterThan(10);
  });

  it('GIVEN mlstack serve --capture-percent 100 and shifted traffic WHEN the server stops and the monitor reads its capture THEN x drifts (exit 3)', async () => {
    const serve = startServeCli(['--model', 'v1', '--workdir', workdir, '--config-dir', configDir, '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--capture-percent', '100']);
    try {
      const url = await serve.url;
      for (let i = 0; i < 50; i++) {
        const res = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify({ instances: [{ x: 5000 + i }] }), headers: { 'Content-Type': 'application/json' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        await res.text();
      }
      process.emit('SIGTERM', 'SIGTERM');
      expect(await serve.running).toBe(0);
    } finally {
      serve.restore();
    }
    const run = await runCliCaptured(args('--json', '--data', 'data-capture/local/'));
    expect(run.code).toBe(3);
    const result = JSON.parse(run.stdout);
    expect(result.rows).toBe(50);
    expect(result.drifted_features).toContain('x');
    expect(result.features[0].bins.live.at(-1)).toBe(1);
  });

  it('GIVEN --since after the capture WHEN monitored THEN no record is counted', async () => {
    const run = await runCliCaptured(args('--json', '--since', '2026-02-01T00:00:00Z', '--data', 'data-capture/ep/'));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rows).toBe(0);
  });

  it('GIVEN a bad --since or a pinned version without a baseline WHEN monitored THEN the message says what to do', async () => {
    const bad = await runCliCaptured(args('--since', 'yesterday'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since must be an ISO 8601 time/);
    const old = await registerVersion(false);
    const none = await runCliCaptured(args('--model', old));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(new RegExp(`no baseline: model ${old} .* retrain and promote a new version`));
  });
});
