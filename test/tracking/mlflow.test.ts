/**
 * Export to MLflow where pipeline.json `tracking.mlflow` asks: a run trained through the CLI appears in an MLflow
 * tracking server (a loopback double that checks each request against the REST API 2.0 documentation).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PLATFORM_ENV } from '../../runtime/contract/env';
import { batches, exportRunToMlflow, mlflowEntities } from '../../runtime/tracking/mlflow';
import type { RunRecord } from '../../runtime/tracking';
import { runCli } from '../helpers/cli';
import { startFakeMlflow, type FakeMlflow } from '../helpers/mlflow-server';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';
import { runRecord } from '../helpers/run-record';

describe('MLflow export (tracking.mlflow)', () => {
  let mlflow: FakeMlflow;
  beforeEach(async () => {
    mlflow = await startFakeMlflow();
  });
  afterEach(async () => {
    delete process.env[PLATFORM_ENV.mlflowToken];
    await mlflow.close();
  });

  it('exports a trained run: experiment created, params, per-epoch and final metrics, lineage tags, FINISHED', async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    process.env[PLATFORM_ENV.mlflowToken] = 'tok-1';
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => {
      Object.assign(doc.training_params, { epochs: 2, batch_size: 32 });
      doc.tracking = { mlflow: { tracking_uri: `${mlflow.url}/` } };
    });
    const workdir = makeTempDir('mlstack-mlflow-');
    const data = path.join(workdir, 'train.csv');
    fs.writeFileSync(data, churnCsv(300, 4));
    const args = ['--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--config-dir', configDir];
    expect((await runCli(['train', ...args, '--data', data, '--run-id', 'ml-1', '--json'])).code).toBe(0);
    const record = JSON.parse((await runCli(['runs', 'show', 'ml-1', '--json', ...args])).stdout) as RunRecord;

    expect(mlflow.violations).toEqual([]);
    expect(mlflow.calls).toEqual([
      'GET /api/2.0/mlflow/experiments/get-by-name',
      'POST /api/2.0/mlflow/experiments/create',
      'POST /api/2.0/mlflow/runs/create',
      'POST /api/2.0/mlflow/runs/log-batch',
      'POST /api/2.0/mlflow/runs/update',
    ]);
    expect(new Set(mlflow.authorizations)).toEqual(new Set(['Bearer tok-1']));
    expect([...mlflow.experiments.keys()]).toEqual(['mlstack']);
    const [run] = mlflow.runs;
    expect(run).toMatchObject({ run_name: 'ml-1', status: 'FINISHED', start_time: Date.parse(record.started_at), end_time: Date.parse(record.finished_at) });
    const text = (v: unknown) => (Array.isArray(v) ? v.join(',') : v === null ? '-' : String(v));
    expect(run.params).toEqual(Object.fromEntries(Object.entries(record.params).map(([k, v]) => [k, text(v)])));
    const metric = (key: string) => run.metrics.filter((m) => m.key === key).map((m) => [m.step, m.value]);
    expect(metric('loss')).toEqual(record.epochs.map((e) => [e.epoch, e.loss]));
    expect(metric('test_auc')).toEqual([[2, record.metrics.auc]]);
    expect(metric('best_val_loss')).toEqual([[2, record.validation.val_loss]]);
    expect(run.tags).toMatchObject({ 'mlstack.run_id': 'ml-1', 'mlstack.lineage.data_hash': record.lineage.data_hash, 'mlstack.lineage.env': 'dev', 'mlstack.tag.source': 'train', 'mlflow.source.git.commit': record.lineage.code_version });
  }, 60_000);

  it('reuses an existing experiment and splits a large run into log-batch requests within the limits', async () => {
    mlflow.experiments.set('team-exp', '7');
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${String(i).padStart(3, '0')}`, i]));
    const big = runRecord('big-1', params, 0.8);
    const id = await exportRunToMlflow(big, { trackingUri: mlflow.url, experiment: 'team-exp' });
    expect(mlflow.violations).toEqual([]);
    expect(mlflow.calls.filter((c) => c.endsWith('log-batch'))).toHaveLength(3);
    expect(mlflow.calls).not.toContain('POST /api/2.0/mlflow/experiments/create');
    expect(mlflow.runs[0]).toMatchObject({ run_id: id, experiment_id: '7', status: 'FINISHED' });
    expect(Object.keys(mlflow.runs[0].params)).toHaveLength(250);
    const entities = mlflowEntities(big);
    expect(batches(entities).flatMap((b) => b.metrics)).toEqual(entities.metrics);
  });

  it('names the server and the config key when the server is unreachable or refuses', async () => {
    await mlflow.close();
    const gone = mlflow.url;
    mlflow = await startFakeMlflow();
    await expect(exportRunToMlflow(runRecord('r', {}, 0.5), { trackingUri: gone, experiment: 'x' })).rejects.toThrow(
      new RegExp(`MLflow tracking server ${gone} \\(pipeline.json tracking.mlflow.tracking_uri\\) did not answer GET experiments/get-by-name`),
    );
    await expect(exportRunToMlflow(runRecord('r', {}, 0.5), { trackingUri: `${mlflow.url}/nope`, experiment: 'x' })).rejects.toThrow(/MLflow experiments\/get-by-name answered 404 ENDPOINT_NOT_FOUND/);
  });

  it('keeps training when the server fails: the run is tracked in the store, the export only warned', async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => {
      Object.assign(doc.training_params, { epochs: 1, batch_size: 32 });
      doc.tracking = { mlflow: { tracking_uri: `${mlflow.url}/nope`, experiment: 'e' } };
    });
    const workdir = makeTempDir('mlstack-mlflow-');
    const data = path.join(workdir, 'train.csv');
    fs.writeFileSync(data, churnCsv(200, 2));
    const args = ['--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--config-dir', configDir];
    expect((await runCli(['train', ...args, '--data', data, '--run-id', 'ml-2', '--json'])).code).toBe(0);
    expect(fs.existsSync(path.join(workdir, 'tracking', 'mlstack', 'runs', 'ml-2.json'))).toBe(true);
    expect(mlflow.runs).toEqual([]);
  }, 60_000);
});
