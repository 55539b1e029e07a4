import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPipeline } from '../../runtime/pipeline';
import { percentile } from '../../runtime/pipeline/stats';
import { makeTempDir } from '../helpers/tmp';
import { runCli } from '../helpers/cli';

const CONFIG = path.resolve(__dirname, '../../config');
const ADULT = path.resolve(__dirname, '../../../shared/data/adult.csv');
const ADULT_CONFIG = path.resolve(__dirname, '../../docs/examples/adult');

describe('mlstack pipeline (local)', () => {
  it('moves sample API rows to a served prediction, reconciling counts, and registers a new version per run', async () => {
    const workdir = makeTempDir();
    const stages: string[] = [];
    const first = await runPipeline({
      configDir: CONFIG,
      env: 'dev',
      cloud: 'local',
      workdir,
      sampleRows: 6000,
      invokeRequests: 50,
      onStage: (stage, event) => event === 'end' && stages.push(stage),
    });
    const s = first.summary;
    expect(stages).toEqual(['ingest', 'train', 'evaluate', 'register', 'serve', 'invoke']);
    expect(s.rows.fetched).toBe(6000);
    expect(s.rows.processed + s.rows.quarantined).toBe(s.rows.fetched);
    expect(s.rows.quarantined).toBeGreaterThan(0);
    expect(s.model_version).toBe('v1');
    expect(s.metrics.auc).toBeGreaterThan(0.75);
    expect(s.metrics.log_loss).toBeGreaterThan(0);
    expect(s.latency_ms.p50).toBeLessThanOrEqual(s.latency_ms.p99);
    expect(s.latency_ms.p99).toBeLessThan(100);
    expect(s.sample_prediction).toBeDefined();
    for (const uri of [s.artifacts.processed, s.artifacts.quarantine, s.artifacts.quality_report, s.artifacts.evaluation_report]) {
      expect(fs.existsSync(new URL(uri))).toBe(true);
    }
    // Registered like every other path: lineage from the package, the version folder and its archive in the store.
    const record = JSON.parse(fs.readFileSync(path.join(workdir, 'registry', 'mlstack', 'versions', 'v1.json'), 'utf8'));
    expect(record.lineage.code_version).toMatch(/^\d+\.\d+\.\d+(\+[0-9a-f]+)?$/);
    expect(record.lineage).toMatchObject({ run_id: s.run_id, data_uri: s.artifacts.processed });
    expect(record).toMatchObject({ package_prefix: 'models/mlstack/v1/', artifact_uri: s.artifacts.model_archive });
    expect(fs.statSync(new URL(record.artifact_uri)).size).toBeGreaterThan(0);
    expect(fs.existsSync(new URL(`${record.package_uri}metadata.json`))).toBe(true);
    // The endpoint is closed once the pipeline returns without keepServing.
    await expect(fetch(`${s.endpoint}/ping`)).rejects.toThrow();

    const second = await runPipeline({ configDir: CONFIG, env: 'dev', cloud: 'local', workdir, sampleRows: 3000, invokeRequests: 5 });
    expect(second.summary.model_version).toBe('v2');
  }, 180_000);

  it('keeps the endpoint up with keepServing until closed', async () => {
    const run = await runPipeline({
      configDir: CONFIG,
      env: 'qa',
      cloud: 'local',
      workdir: makeTempDir(),
      sampleRows: 3000,
      invokeRequests: 3,
      keepServing: true,
    });
    const ping = await fetch(`${run.summary.endpoint}/ping`);
    expect(ping.status).toBe(200);
    await run.close();
    await expect(fetch(`${run.summary.endpoint}/ping`)).rejects.toThrow();
  });

  it('prints one JSON summary with --json and a table without it', async () => {
    const workdir = makeTempDir();
    const json = await runCli(['pipeline', '--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--json', '--sample-rows', '3000']);
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout.trim());
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(['model_version', 'rows', 'metrics', 'endpoint', 'latency_ms']));
    expect(Object.keys(summary.metrics)).toEqual(expect.arrayContaining(['auc', 'accuracy', 'log_loss']));
    const table = await runCli(['pipeline', '--env', 'dev', '--workdir', workdir, '--sample-rows', '3000']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/model version\s+v2/);
    expect(table.stdout).toMatch(/rows\s+3000 fetched = \d+ processed \+ \d+ quarantined/);
    expect(table.stderr).toMatch(/> ingest/);
  });

  it('fails with exit code 2 and a clear message for an unknown env, cloud or a broken config', async () => {
    const env = await runCli(['pipeline', '--env', 'production', '--workdir', makeTempDir()]);
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/unknown --env "production": expected one of dev, qa, staging, prod/);
    const cloud = await runCli(['pipeline', '--env', 'dev', '--cloud', 'ibm', '--workdir', makeTempDir()]);
    expect(cloud.code).toBe(2);
    expect(cloud.stderr).toMatch(/unknown --cloud "ibm": expected one of local, aws, gcp, azure/);
    const config = await runCli(['pipeline', '--env', 'dev', '--config-dir', makeTempDir(), '--workdir', makeTempDir()]);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/pipeline\.json: \(root\): file not found/);
  });

  it('trains on the real adult dataset and reports an AUC', async () => {
    const run = await runPipeline({ configDir: ADULT_CONFIG, env: 'dev', cloud: 'local', workdir: makeTempDir(), source: ADULT, invokeRequests: 20 });
    expect(run.summary.rows.fetched).toBe(30162);
    expect(run.summary.rows.processed + run.summary.rows.quarantined).toBe(30162);
    expect(run.summary.metrics.auc).toBeGreaterThan(0.88);
  }, 300_000);
});

describe('percentile', () => {
  it('uses the nearest rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 50)).toBeNaN();
  });
});
