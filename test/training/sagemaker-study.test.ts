/**
 * SageMaker tuning trials record their results in the study named by the `study_uri` hyperparameter
 * (what the HyperparameterTuning stack passes), against moto_server's S3.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runEntrypoint } from '../../runtime/training/entrypoint';
import { readStudy, recordExternalTrial, studyKey, trialKey } from '../../runtime/training/tuning';
import { S3ObjectStore } from '../../runtime/storage/s3-store';
import { getJson } from '../../runtime/storage/object-store';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const BUCKET = 'mlstack-study-test';
const configDir = copyConfig();
const csv = churnCsv(700, 11);

function trialRoot(hyper: Record<string, string>): string {
  const root = makeTempDir('mlstack-sm-trial-');
  fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
  fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(hyper));
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'part-0.csv'), csv);
  return root;
}

function trialEnv(jobName: string, hyper: Record<string, string>): { env: NodeJS.ProcessEnv; root: string } {
  const root = trialRoot({
    _tuning_objective_metric: 'validation:auc',
    study_uri: `s3://${BUCKET}/state/studies/tune-1/`,
    models_uri: `s3://${BUCKET}/models/`,
    epochs: '2',
    ...hyper,
  });
  return {
    root,
    env: { MLSTACK_CONFIG_DIR: configDir, MLSTACK_LOG_LEVEL: process.env.MLSTACK_LOG_LEVEL ?? 'silent', MLSTACK_REQUIRE_GPU: '0', MLSTACK_SM_ROOT: root, TRAINING_JOB_NAME: jobName, AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL },
  };
}

/** One trial in this process (for coverage); tfjs has one global engine, so concurrent trials need processes. */
async function runTrial(jobName: string, hyper: Record<string, string>): Promise<{ code: number; root: string }> {
  const { env, root } = trialEnv(jobName, hyper);
  return { code: await runEntrypoint(['train'], env), root };
}

/** One trial as its own process, the way SageMaker runs each trial in its own container. */
function spawnTrial(jobName: string, hyper: Record<string, string>): Promise<{ code: number | null; root: string; stderr: string }> {
  const { env, root } = trialEnv(jobName, hyper);
  const repo = path.resolve(__dirname, '..', '..');
  // tsx's full loader: bin/run-ts.js registers only tsx/cjs, under which open.ts's lazy import('./s3-store') is not found.
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'runtime', 'training', 'entrypoint.ts'), 'train'], {
    cwd: repo,
    env: { ...process.env, ...env, MLSTACK_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.once('exit', (code) => resolve({ code, root, stderr })));
}

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('SageMaker tuning trials write to study_uri (moto_server S3)', () => {
  let moto: MotoServer;
  let store: S3ObjectStore;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: BUCKET }));
    store = new S3ObjectStore(BUCKET);
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  it('two concurrent trials both land in the study, each the moment it ends; a failed trial is recorded too', async () => {
    const results = await Promise.all([
      spawnTrial('tune-1-001-aaaa1111', { learning_rate: '0.01', hidden_layers: '[8]', batch_size: '64' }),
      spawnTrial('tune-1-002-bbbb2222', { learning_rate: '0.002', hidden_layers: '[16,8]', batch_size: '32' }),
    ]);
    // stderr carries only warnings (the AWS SDK's Node version notice), never an error line.
    for (const r of results) expect([r.code, r.stderr.includes('"level":50')]).toEqual([0, false]);

    // Each trial has its own object (no read-modify-write of a shared study.json to lose).
    const one = await getJson<Record<string, any>>(store, trialKey('state/studies/', 'tune-1', 'tune-1-001-aaaa1111'));
    expect(one).toMatchObject({
      trial_id: 'tune-1-001-aaaa1111',
      status: 'complete',
      params: { learning_rate: 0.01, hidden_layers: [8], batch_size: 64, epochs: 2 },
      model_uri: `s3://${BUCKET}/models/tune-1-001-aaaa1111/output/model.tar.gz`,
    });
    expect(one.metric).toBeGreaterThan(0);
    expect(one.test_metrics.auc).toBeGreaterThan(0);
    const header = await getJson<Record<string, unknown>>(store, studyKey('state/studies/', 'tune-1'));
    expect(header).toMatchObject({ study_id: 'tune-1', metric: 'auc', direction: 'max' });

    const failed = await runTrial('tune-1-003-cccc3333', { momentum: '0.9' });
    expect(failed.code).toBe(1);
    expect(fs.readFileSync(path.join(failed.root, 'output', 'failure'), 'utf8')).toMatch(/unknown hyperparameter momentum/);

    const study = (await readStudy(store, 'tune-1'))!;
    expect(study.trials.map((t) => t.trial_id).sort()).toEqual(['tune-1-001-aaaa1111', 'tune-1-002-bbbb2222', 'tune-1-003-cccc3333']);
    const bad = study.trials.find((t) => t.trial_id === 'tune-1-003-cccc3333')!;
    expect(bad).toMatchObject({ status: 'failed', metric: null, params: { momentum: '0.9', epochs: '2' } });
    expect(bad.error).toMatch(/unknown hyperparameter momentum/);
    const complete = study.trials.filter((t) => t.status === 'complete');
    const best = complete.reduce((a, b) => ((a.metric ?? 0) >= (b.metric ?? 0) ? a : b));
    expect(study.best).toMatchObject({ trial_id: best.trial_id, metric: best.metric, package_prefix: best.model_uri });
  });

  it('a trial recorded in-process: header written once however many trials race to create it', async () => {
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const run = await runTrial('tune-1-004-dddd4444', { hidden_layers: '[4]' }).finally(() => out.mockRestore());
    expect(run.code).toBe(0);
    const trial = await getJson<Record<string, any>>(store, trialKey('state/studies/', 'tune-1', 'tune-1-004-dddd4444'));
    expect(trial).toMatchObject({ status: 'complete', model_uri: `s3://${BUCKET}/models/tune-1-004-dddd4444/output/model.tar.gz` });
    const header = { study_id: 'race', project: 'p', strategy: 'random' as const, metric: 'auc' as const, direction: 'max' as const, status: 'running' as const, created_at: new Date().toISOString() };
    const record = (id: string, metric: number) => ({ ...trial, trial_id: id, run_id: id, metric, package_prefix: null, model_uri: `s3://${BUCKET}/models/${id}/output/model.tar.gz` }) as any;
    await Promise.all([recordExternalTrial(store, 'state/studies/', header, record('a', 0.7)), recordExternalTrial(store, 'state/studies/', header, record('b', 0.9))]);
    const study = (await readStudy(store, 'race'))!;
    expect(study.trials.map((t) => t.trial_id).sort()).toEqual(['a', 'b']);
    expect(study.best).toMatchObject({ trial_id: 'b', metric: 0.9 });
  });

  it('a trial stopped by StopTrainingJob (SIGTERM) after its first epoch is recorded as stopped', async () => {
    const { env } = trialEnv('tune-1-005-eeee5555', { epochs: '5' });
    const controller = new AbortController();
    // Stop the moment the first epoch's metric line is printed, as Hyperband would after a rung.
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      if (String(chunk).includes('metrics epoch=1 ')) controller.abort();
      return true;
    });
    const code = await runEntrypoint(['train'], env, controller.signal).finally(() => out.mockRestore());
    expect(code).toBe(143);
    const trial = await getJson<Record<string, any>>(store, trialKey('state/studies/', 'tune-1', 'tune-1-005-eeee5555'));
    expect(trial).toMatchObject({ status: 'stopped', metric: null, epochs: 1, params: { epochs: 5 } });
    expect(trial.error).toMatch(/stopped by StopTrainingJob after epoch 1/);
  });

  it('names a study_uri without a study id', async () => {
    const { code, root } = await runTrial('tune-x-001', { study_uri: `s3://${BUCKET}/` });
    expect(code).toBe(1);
    expect(fs.readFileSync(path.join(root, 'output', 'failure'), 'utf8')).toMatch(/study_uri="s3:\/\/mlstack-study-test\/" names no study/);
  });
});
