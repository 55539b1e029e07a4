import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { detectContract, overridesFrom, parseArgs, runEntrypoint } from '../../runtime/training/entrypoint';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

/** Captures the `mlstack-result {...}` line runEntrypoint prints. */
async function runCapturing(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; result?: Record<string, any> }> {
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await runEntrypoint(argv, env);
    const line = spy.mock.calls.map((c) => String(c[0])).find((l) => l.startsWith('mlstack-result '));
    return { code, result: line ? JSON.parse(line.slice('mlstack-result '.length)) : undefined };
  } finally {
    spy.mockRestore();
  }
}

const configDir = copyConfig();
for (const env of ['dev', 'qa', 'staging', 'prod']) {
  editJson(path.join(configDir, 'environments', `${env}.json`), (doc) => {
    for (const cloud of ['aws', 'gcp', 'azure']) doc[cloud].training.require_gpu = env === 'prod';
  });
}
const baseEnv = { MLSTACK_CONFIG_DIR: configDir, MLSTACK_LOG_LEVEL: process.env.MLSTACK_LOG_LEVEL ?? 'silent' };
const csv = churnCsv(1200, 5);

function sagemakerRoot(hyper: Record<string, string>): string {
  const root = makeTempDir('mlstack-sm-');
  fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
  fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(hyper));
  fs.writeFileSync(path.join(root, 'input', 'config', 'inputdataconfig.json'), JSON.stringify({ train: { ContentType: 'text/csv', TrainingInputMode: 'File' } }));
  fs.writeFileSync(path.join(root, 'input', 'config', 'resourceconfig.json'), JSON.stringify({ current_host: 'algo-1', hosts: ['algo-1'] }));
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'part-0.csv'), csv);
  return root;
}

describe('training entrypoint: SageMaker contract', () => {
  it('reads hyperparameters and the train channel, writes the package to /opt/ml/model and checkpoints to /opt/ml/checkpoints', async () => {
    const root = sagemakerRoot({ epochs: '2', batch_size: '128', hidden_layers: '[8]', sagemaker_program: 'ignored', env: 'dev' });
    const { code, result } = await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: root, TRAINING_JOB_NAME: 'job-42' });
    expect(code).toBe(0);
    expect(result).toMatchObject({ runId: 'job-42', epochs: 2, packagePrefix: 'model/' });
    for (const f of ['model/model.json', 'model/weights.bin', 'preprocessing.json', 'metadata.json', 'metrics.json', 'report.html']) {
      expect(fs.existsSync(path.join(root, 'model', f))).toBe(true);
    }
    const metadata = JSON.parse(fs.readFileSync(path.join(root, 'model', 'metadata.json'), 'utf8'));
    expect(metadata.layers[0]).toEqual({ units: 8, activation: 'relu' });
    expect(fs.readdirSync(path.join(root, 'checkpoints', 'job-42')).filter((f) => f.endsWith('.json'))).toEqual(['ckpt-000001.json', 'ckpt-000002.json']);
    expect(fs.existsSync(path.join(root, 'output', 'failure'))).toBe(false);
  });

  it('writes the failure reason to /opt/ml/output/failure', async () => {
    const root = sagemakerRoot({ epochs: '2', momentum: '0.9' });
    const { code } = await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: root });
    expect(code).toBe(1);
    expect(fs.readFileSync(path.join(root, 'output', 'failure'), 'utf8')).toMatch(/unknown hyperparameter momentum; accepted: epochs, batch_size/);
  });

  it('fails clearly when the environment requires a GPU and none loads', async () => {
    const root = sagemakerRoot({ epochs: '1', env: 'prod' });
    const { code } = await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: root });
    expect(code).toBe(1);
    expect(fs.readFileSync(path.join(root, 'output', 'failure'), 'utf8')).toMatch(/require_gpu: true, but no GPU backend loaded/);
  });

  it('fails with the missing channel named', async () => {
    const root = makeTempDir('mlstack-sm-empty-');
    const { code } = await runCapturing(['train'], { ...baseEnv, MLSTACK_SM_ROOT: root });
    expect(code).toBe(1);
    expect(fs.readFileSync(path.join(root, 'output', 'failure'), 'utf8')).toMatch(/no input data channel under .*input\/data/);
  });
});

describe('training entrypoint: Vertex AI contract', () => {
  it('uses AIP_TRAINING_DATA_URI (with a glob), AIP_MODEL_DIR and AIP_CHECKPOINT_DIR', async () => {
    const dir = makeTempDir('mlstack-vertex-');
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'data-000.csv'), csv);
    fs.writeFileSync(path.join(dir, 'data', 'other.txt'), 'not data');
    const env = {
      ...baseEnv,
      AIP_MODEL_DIR: pathToFileURL(path.join(dir, 'model')).href,
      AIP_CHECKPOINT_DIR: path.join(dir, 'ckpt'),
      AIP_TRAINING_DATA_URI: `${pathToFileURL(path.join(dir, 'data')).href}/data-*.csv`,
      CLOUD_ML_JOB_ID: 'vertex-7',
    };
    const { code, result } = await runCapturing(['--epochs=1', '--batch_size', '256'], env);
    expect(code).toBe(0);
    expect(result).toMatchObject({ runId: 'vertex-7', epochs: 1 });
    expect(fs.existsSync(path.join(dir, 'model', 'metadata.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'ckpt', 'vertex-7', 'ckpt-000001.json'))).toBe(true);
  });

  it('reports a glob that matches nothing', async () => {
    const dir = makeTempDir('mlstack-vertex-');
    const { code } = await runCapturing([], { ...baseEnv, AIP_MODEL_DIR: path.join(dir, 'model'), AIP_TRAINING_DATA_URI: `${dir}/none-*.csv` });
    expect(code).toBe(1);
  });
});

describe('training entrypoint: Azure ML contract', () => {
  it('reads --input and writes the package and checkpoints under --output', async () => {
    const dir = makeTempDir('mlstack-azure-');
    fs.mkdirSync(path.join(dir, 'in'));
    fs.writeFileSync(path.join(dir, 'in', 'train.csv'), csv);
    const { code, result } = await runCapturing(['--input', path.join(dir, 'in'), '--output', path.join(dir, 'out'), '--epochs', '1', '--run_id', 'az-1'], {
      ...baseEnv,
    });
    expect(code).toBe(0);
    expect(result).toMatchObject({ runId: 'az-1', epochs: 1 });
    expect(fs.existsSync(path.join(dir, 'out', 'metadata.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'out', 'checkpoints', 'az-1', 'ckpt-000001.json'))).toBe(true);
  });

  it('needs --input', async () => {
    const { code } = await runCapturing(['--output', makeTempDir()], baseEnv);
    expect(code).toBe(1);
  });
});

describe('entrypoint helpers', () => {
  it('parses arguments and detects the contract', () => {
    expect(parseArgs(['--a=1', '--b', '2', '--flag', '--c', 'x'])).toEqual({ a: '1', b: '2', flag: 'true', c: 'x' });
    expect(parseArgs(['train', '--learning_rate', '-0.1', '--epochs=3', '--', '--ignored', 'x'])).toEqual({ learning_rate: '-0.1', epochs: '3' });
    expect(() => overridesFrom(parseArgs(['--epochs', '2', '--frobnicate', '7', '--colour']))).toThrow(/unknown hyperparameters frobnicate, colour; accepted: epochs, /);
    expect(detectContract({ input: 'x' }, {})).toBe('azureml');
    expect(detectContract({}, { AIP_MODEL_DIR: 'gs://b/m' })).toBe('vertex');
    expect(detectContract({}, {})).toBe('sagemaker');
  });

  it('maps hyperparameters to training params', () => {
    expect(overridesFrom({ epochs: '3', hidden_layers: '64,32', learning_rate: '0.01', sagemaker_region: 'x', env: 'dev' })).toEqual({ epochs: 3, hidden_layers: [64, 32], learning_rate: 0.01 });
    expect(overridesFrom({ num_leaves: '15', feature_fraction: '0.8', learning_rate: '0.05' })).toEqual({ num_leaves: 15, feature_fraction: 0.8, learning_rate: 0.05 });
    expect(overridesFrom({ hidden_layers: '[16]' })).toEqual({ hidden_layers: [16] });
    expect(() => overridesFrom({ epochs: 'many' })).toThrow(/epochs="many" is not a number/);
  });
});
