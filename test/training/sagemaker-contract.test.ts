/**
 * What the AWS stack runs, run here: `train` in a SageMaker layout (MLSTACK_SM_ROOT), the metric lines its
 * MetricDefinitions scrape, `evaluate` on model.tar.gz as the state machine's processing job calls it,
 * the serving image loading the unpacked tarball, and failure files for input errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { metricDefinitions, TRAINING_METRICS } from '../../infra/aws/constructs/training-job';
import { runEntrypoint } from '../../runtime/training/entrypoint';
import { runEvaluateCommand } from '../../runtime/training/evaluate-command';
import { extractTarGz, packDirectoryToFile } from '../../runtime/model/archive';
import { SAGEMAKER_METRIC_DEFINITIONS } from '../../runtime/training/telemetry';
import { loadPredictor } from '../../runtime/serving/load';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const configDir = copyConfig();
const baseEnv = { MLSTACK_CONFIG_DIR: configDir, MLSTACK_LOG_LEVEL: process.env.MLSTACK_LOG_LEVEL ?? 'silent', MLSTACK_REQUIRE_GPU: '0' };

/** Runs the entrypoint in-process and returns its exit code and everything it printed on stdout. */
async function runCapturing(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string[] }> {
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await runEntrypoint(argv, env);
    return { code, stdout: spy.mock.calls.flatMap((c) => String(c[0]).split('\n')).filter(Boolean) };
  } finally {
    spy.mockRestore();
  }
}

/** A SageMaker container layout: /opt/ml/input/{config,data/train/<run>/} as File mode downloads the processed prefix. */
function sagemakerRoot(hyper: Record<string, string>, csv: string): string {
  const root = makeTempDir('mlstack-sm-');
  fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  fs.mkdirSync(path.join(root, 'input', 'data', 'train', 'run-1'), { recursive: true });
  fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(hyper));
  fs.writeFileSync(path.join(root, 'input', 'config', 'inputdataconfig.json'), JSON.stringify({ train: { ContentType: 'text/csv' } }));
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'run-1', 'part-0.csv'), csv);
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'run-1', '_SUCCESS.json'), '{}');
  return root;
}

const csv = churnCsv(900, 7);

describe('SageMaker train -> model.tar.gz -> evaluate / serve', () => {
  let root: string;
  let trainOut: string[];

  beforeAll(async () => {
    root = sagemakerRoot({ epochs: '3', batch_size: '64', hidden_layers: '[8]' }, csv);
    const run = await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: root, TRAINING_JOB_NAME: 'mlstack-dev-abc123' });
    expect(run.code).toBe(0);
    trainOut = run.stdout;
  });

  it('puts the package at the root of /opt/ml/model (what SageMaker tars)', () => {
    expect(fs.existsSync(path.join(root, 'model', 'metadata.json'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'model', 'model', 'model.json'))).toBe(true);
  });

  it('prints, every epoch, a line each stack metric regex matches; the stack uses the runtime definitions', () => {
    expect(metricDefinitions()).toEqual(SAGEMAKER_METRIC_DEFINITIONS);
    const epochLines = trainOut.filter((l) => l.startsWith('metrics epoch='));
    expect(epochLines).toHaveLength(3);
    for (const name of ['train:loss', 'validation:loss', 'validation:auc', 'validation:accuracy', 'system:cpu_percent', 'system:rss_mb']) {
      const def = metricDefinitions().find((d) => d.Name === name)!;
      for (const line of epochLines) expect(Number(new RegExp(def.Regex).exec(line)?.[1])).not.toBeNaN();
    }
    // The last objective value SageMaker sees is the best epoch's (the weights the package holds).
    const metricsJson = JSON.parse(fs.readFileSync(path.join(root, 'model', 'metrics.json'), 'utf8'));
    const auc = new RegExp(metricDefinitions().find((d) => d.Name === 'validation:auc')!.Regex);
    const lastAuc = [...trainOut].reverse().find((l) => auc.test(l))!;
    expect(Number(auc.exec(lastAuc)![1])).toBeCloseTo(metricsJson.validation.val_auc, 6);
    const testAuc = new RegExp(metricDefinitions().find((d) => d.Name === 'test:auc')!.Regex);
    expect(Number(testAuc.exec(trainOut.find((l) => testAuc.test(l))!)![1])).toBeCloseTo(metricsJson.auc, 6);
    // train:loss must not match inside validation:loss.
    expect(new RegExp(metricDefinitions().find((d) => d.Name === 'train:loss')!.Regex).exec('metrics validation:loss=0.5')).toBeNull();
  });

  it('evaluate --model <dir with model.tar.gz> --data <dir> --output <dir> writes evaluation.json on the test split', async () => {
    const modelDir = makeTempDir('mlstack-eval-model-');
    // SageMaker tars /opt/ml/model with the system tar: use it when present, else the runtime's packer.
    const tarred = spawnSync('tar', ['-czf', path.join(modelDir, 'model.tar.gz'), '-C', path.join(root, 'model'), '.']);
    if (tarred.status !== 0) await packDirectoryToFile(path.join(root, 'model'), path.join(modelDir, 'model.tar.gz'));
    const output = path.join(makeTempDir('mlstack-eval-out-'), 'evaluation');
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const code = await runEvaluateCommand(['--model', modelDir, '--data', path.join(root, 'input', 'data', 'train'), '--output', output], baseEnv);
    const printed = out.mock.calls.map((c) => String(c[0]));
    out.mockRestore();
    expect(code).toBe(0);
    expect(printed[0]).toMatch(/^mlstack-evaluation \{"rows":/);
    const doc = JSON.parse(fs.readFileSync(path.join(output, 'evaluation.json'), 'utf8'));
    expect(doc.binary_classification_metrics.auc.value).toBeGreaterThan(0.5);
    expect(doc.binary_classification_metrics.auc.standard_deviation).toBe('NaN');
    const trained = JSON.parse(fs.readFileSync(path.join(root, 'model', 'metrics.json'), 'utf8'));
    // Same rows as training's test split -> the same test AUC the trainer reported.
    expect(doc.mlstack.split).toBe('test');
    expect(doc.mlstack.rows).toBeLessThan(900);
    expect(doc.binary_classification_metrics.auc.value).toBeCloseTo(trained.auc, 4);
    expect(fs.readFileSync(path.join(output, 'report.html'), 'utf8')).toMatch(/<html/i);
  });

  it('evaluate through the entrypoint scores every row of data the model was not trained on', async () => {
    const modelDir = makeTempDir('mlstack-eval-model-');
    await packDirectoryToFile(path.join(root, 'model'), path.join(modelDir, 'model.tar.gz'));
    const dataDir = makeTempDir('mlstack-eval-data-');
    fs.writeFileSync(path.join(dataDir, 'fresh.csv'), churnCsv(300, 99));
    const output = makeTempDir('mlstack-eval-out-');
    const run = await runCapturing(['evaluate', '--model', modelDir, '--data', dataDir, '--output', output], baseEnv);
    expect(run.code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(output, 'evaluation.json'), 'utf8'));
    expect(doc.mlstack).toMatchObject({ split: 'all', rows: 300, run_id: 'mlstack-dev-abc123' });
  });

  it('evaluate names what is wrong: missing flags (exit 2), no model, no data', async () => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runEvaluateCommand(['--model', '/nonexistent'], baseEnv)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/evaluate needs --data, --output/);
      expect(await runEvaluateCommand(['--model', makeTempDir(), '--data', makeTempDir(), '--output', makeTempDir()], baseEnv)).toBe(1);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/no model package in .*metadata\.json/);
      expect(await runEvaluateCommand(['--model', '/nonexistent-model', '--data', '/x', '--output', '/y'], baseEnv)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/--model \/nonexistent-model does not exist/);
      expect(await runEvaluateCommand(['--model', path.join(root, 'model'), '--data', '/nonexistent-data', '--output', makeTempDir()], baseEnv)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/--data \/nonexistent-data does not exist/);
      expect(await runEvaluateCommand(['--model', 'x', '--frobnicate', 'y'], baseEnv)).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/unknown option --frobnicate/);
    } finally {
      err.mockRestore();
    }
  });

  it('the serving image loads the tarball SageMaker unpacks into /opt/ml/model', async () => {
    const served = makeTempDir('mlstack-serving-model-');
    const archive = path.join(makeTempDir('mlstack-archive-'), 'model.tar.gz');
    await packDirectoryToFile(path.join(root, 'model'), archive);
    const files = await extractTarGz(archive, served);
    expect(files).toContain('metadata.json');
    const predictor = await loadPredictor(served);
    expect(predictor.version).toBe('mlstack-dev-abc123');
    const [prediction] = predictor.predict([{ age: 40, spend: 55.5, tenure: 12, plan: 'basic', region: 'north', tickets: 2 }]);
    expect(prediction).toBeDefined();
    expect(JSON.stringify(prediction)).toMatch(/yes|no|\d/);
  });
});

describe('SageMaker failure file for input errors', () => {
  it('writes /opt/ml/output/failure when the data channel is missing, empty, or the config is malformed', async () => {
    const noChannel = makeTempDir('mlstack-sm-empty-');
    expect((await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: noChannel })).code).toBe(1);
    expect(fs.readFileSync(path.join(noChannel, 'output', 'failure'), 'utf8')).toMatch(/no input data channel under .*input\/data: configure a "train" channel/);

    const emptyChannel = sagemakerRoot({}, csv);
    fs.rmSync(path.join(emptyChannel, 'input', 'data', 'train', 'run-1', 'part-0.csv'));
    expect((await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: emptyChannel })).code).toBe(1);
    expect(fs.readFileSync(path.join(emptyChannel, 'output', 'failure'), 'utf8')).toMatch(/channel "train": no \.csv objects/);

    const badConfig = sagemakerRoot({}, csv);
    fs.writeFileSync(path.join(badConfig, 'input', 'config', 'hyperparameters.json'), '{"epochs": ');
    expect((await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: badConfig })).code).toBe(1);
    expect(fs.readFileSync(path.join(badConfig, 'output', 'failure'), 'utf8')).toMatch(/cannot read SageMaker hyperparameters at .*hyperparameters\.json/);
  });
});

describe('regression metric lines', () => {
  it('prints validation:rmse each epoch for a regression model', async () => {
    const regressionConfig = copyConfig();
    editJson(path.join(regressionConfig, 'pipeline.json'), (p) => {
      p.task = 'regression';
      p.features = ['age', 'tenure', 'plan', 'region', 'tickets'];
      p.target = 'spend';
      delete p.positive_class;
      delete p.tuning;
    });
    const root = sagemakerRoot({ epochs: '2', batch_size: '64', hidden_layers: '[4]' }, churnCsv(400, 3));
    const run = await runCapturing(['train'], { ...baseEnv, MLSTACK_CONFIG_DIR: regressionConfig, MLSTACK_SM_ROOT: root });
    expect(run.code).toBe(0);
    const rmse = new RegExp(metricDefinitions().find((d) => d.Name === 'validation:rmse')!.Regex);
    expect(run.stdout.filter((l) => l.startsWith('metrics epoch=') && rmse.test(l))).toHaveLength(2);
    expect(TRAINING_METRICS).toEqual(['auc', 'accuracy', 'loss', 'rmse']);
  });
});
