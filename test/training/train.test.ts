import * as path from 'node:path';
import { Writable } from 'node:stream';
import { loadProjectConfig } from '../../config/load';
import type { ProjectConfig } from '../../config/schema';
import { readDenseLayers, denseForward, readModelPackage, loadTfModel } from '../../runtime/model/package';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { resolveTrainingParams, train, SAGEMAKER_METRIC_DEFINITIONS } from '../../runtime/training';
import { transformRows } from '../../runtime/model/preprocessing';
import { runPackagePrefix } from '../../runtime/contract/layout';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';
import * as tf from '../../runtime/model/tf';

/** Collects what train() writes as metric lines. */
function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

const project = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));

function withPipeline(edit: (p: ProjectConfig['pipeline']) => void): ProjectConfig {
  const copy = JSON.parse(JSON.stringify(project)) as ProjectConfig;
  edit(copy.pipeline);
  return copy;
}

async function storeWithData(csv: string): Promise<LocalObjectStore> {
  const store = new LocalObjectStore(makeTempDir('mlstack-train-'));
  await store.put('data/processed/r1/part-0.csv', csv);
  return store;
}

const fast = { epochs: 4, early_stopping_patience: 10, batch_size: 64 };

describe('train (binary, default config)', () => {
  let store: LocalObjectStore;
  beforeAll(async () => {
    store = await storeWithData(churnCsv(2000, 7));
  });

  it('trains, evaluates on the test split and writes a complete package with a report', async () => {
    const out = sink();
    const result = await train({ project, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'run-a', modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/', progress: 'sagemaker', metricsOut: out.stream, overrides: fast });
    expect(result.packagePrefix).toBe(runPackagePrefix({ models: 'models/' }, 'run-a'));
    expect(result.task).toBe('binary');
    expect(result.epochs).toBe(4);
    expect(result.resumedFromEpoch).toBeNull();
    expect(result.metrics.auc).toBeGreaterThan(0.7);
    for (const key of ['auc', 'accuracy', 'log_loss', 'precision', 'recall', 'f1', 'predict_latency_p99_ms', 'model_size_bytes']) {
      expect(Number.isFinite(result.metrics[key])).toBe(true);
    }
    expect(result.dataHash).toMatch(/^[0-9a-f]{64}$/);
    expect(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).toContain(result.backend);

    // Epoch lines on stdout (the SageMaker contract's) match the SageMaker metric regexes.
    expect(out.lines.filter((l) => l.startsWith('mlstack-epoch '))).toHaveLength(4);
    const epochLines = out.lines.filter((l) => l.startsWith('metrics epoch='));
    expect(epochLines).toHaveLength(4);
    const valAuc = SAGEMAKER_METRIC_DEFINITIONS.find((d) => d.Name === 'validation:auc')!;
    expect(Number(new RegExp(valAuc.Regex).exec(epochLines[3])?.[1])).toBeGreaterThan(0.5);
    const trainLoss = SAGEMAKER_METRIC_DEFINITIONS.find((d) => d.Name === 'train:loss')!;
    expect(Number(new RegExp(trainLoss.Regex).exec(epochLines[0])?.[1])).toBeGreaterThan(0);
    const testAuc = SAGEMAKER_METRIC_DEFINITIONS.find((d) => d.Name === 'test:auc')!;
    expect(Number(new RegExp(testAuc.Regex).exec(out.lines.find((l) => l.includes('test:auc='))!)?.[1])).toBeCloseTo(result.metrics.auc, 5);
    const epochLog = (await store.get(`${runPackagePrefix({ models: 'models/' }, 'run-a')}epochs.jsonl`)).toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(epochLog.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    expect(epochLog[0].rss_mb).toBeGreaterThan(0);

    const report = (await store.get(result.reportKey)).toString();
    expect(report).toContain('<svg id="loss-curve"');
    expect(report).toContain('<svg id="roc-curve"');
    expect(report).toMatch(/<th>auc<\/th><td>0\.\d{4}<\/td>/);

    const pkg = await readModelPackage(store, result.packagePrefix);
    expect(pkg.metadata).toMatchObject({ task: 'binary', classes: ['no', 'yes'], positive_class: 'yes', target: 'churned', run_id: 'run-a', input_dim: pkg.preprocessing.outputDim });
    expect(pkg.metadata.layers).toEqual([
      { units: 32, activation: 'relu' },
      { units: 16, activation: 'relu' },
      { units: 1, activation: 'sigmoid' },
    ]);
    // Serving's lean forward pass over the package agrees with tf on the same preprocessing.
    const rows = [
      { age: 30, spend: 50, tenure: 3, plan: 'basic', region: 'apac', tickets: 6 },
      { age: 60, spend: null, tenure: 100, plan: 'gold', region: 'eu', tickets: 0 },
    ];
    const x = transformRows(pkg.preprocessing, rows);
    const lean = denseForward(readDenseLayers(pkg), x, 2);
    const model = await loadTfModel(pkg);
    const viaTf = (model.predict(tf.tensor2d(x, [2, pkg.preprocessing.outputDim])) as tf.Tensor).dataSync();
    expect(lean[0]).toBeCloseTo(viaTf[0], 5);
    expect(lean[1]).toBeCloseTo(viaTf[1], 5);
    expect(lean[0]).toBeGreaterThan(lean[1]);
  });

  it('resumes a finished run from its last checkpoint instead of retraining', async () => {
    const result = await train({ project, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'run-a', modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/', progress: 'none', overrides: fast });
    expect(result.resumedFromEpoch).toBe(4);
    expect(result.epochs).toBe(4);
  });

  it('stops early when the validation metric stops improving', async () => {
    const result = await train({ project, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'run-d', modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/', progress: 'none', overrides: { epochs: 60, early_stopping_patience: 1, learning_rate: 0.05, batch_size: 256 } });
    expect(result.epochs).toBeLessThan(60);
    expect(result.bestEpoch).toBe(result.epochs - 1);
  });
});

describe('train (multiclass and regression)', () => {
  it('trains a softmax classifier when the target has several classes', async () => {
    const csv = churnCsv(1500, 3).replace(/,(yes|no)\n/g, (_m, label, offset: number) => `,${label === 'yes' ? 'high' : offset % 3 === 0 ? 'mid' : 'low'}\n`);
    const store = await storeWithData(csv);
    const config = withPipeline((p) => {
      delete p.task;
      delete p.positive_class;
    });
    const result = await train({ project: config, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'mc', modelsPrefix: 'models/', checkpointsPrefix: 'c/', progress: 'none', overrides: fast });
    expect(result.task).toBe('multiclass');
    expect(result.metrics.accuracy).toBeGreaterThan(0.4);
    expect(result.metrics).toHaveProperty('f1');
    const pkg = await readModelPackage(store, result.packagePrefix);
    expect(pkg.metadata.classes).toEqual(['high', 'low', 'mid']);
    expect(pkg.metadata.layers[2]).toEqual({ units: 3, activation: 'softmax' });
  });

  it('trains a regression model that predicts in the target units', async () => {
    const lines = ['x,cat,y'];
    for (let i = 0; i < 1500; i++) {
      const x = (i % 100) / 10;
      const cat = ['a', 'b'][i % 2];
      lines.push(`${x},${cat},${(1000 + 50 * x + (cat === 'a' ? 30 : 0)).toFixed(2)}`);
    }
    const store = await storeWithData(lines.join('\n'));
    const config = withPipeline((p) => {
      p.task = 'regression';
      p.features = ['x', 'cat'];
      p.categorical_features = ['cat'];
      p.target = 'y';
      delete p.positive_class;
    });
    const result = await train({ project: config, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'reg', modelsPrefix: 'models/', checkpointsPrefix: 'c/', progress: 'none', overrides: { ...fast, epochs: 25, dropout: 0, learning_rate: 0.02, batch_size: 128 } });
    expect(result.task).toBe('regression');
    expect(result.metrics.r2).toBeGreaterThan(0.9);
    expect(result.metrics.rmse).toBeLessThan(60);
    const pkg = await readModelPackage(store, result.packagePrefix);
    const out = denseForward(readDenseLayers(pkg), transformRows(pkg.preprocessing, [{ x: 5, cat: 'a' }]), 1);
    expect(out[0]).toBeGreaterThan(1150);
    expect(out[0]).toBeLessThan(1410);
  });
});

describe('training input errors', () => {
  it('names the problem: bad params, missing target, unknown positive class, too few rows', async () => {
    expect(() => resolveTrainingParams(project.pipeline.training_params, { learning_rate: -1 })).toThrow(/invalid training parameters.*learning_rate/);
    expect(resolveTrainingParams(project.pipeline.training_params, { hidden_size: 8 }).hidden_layers).toBeUndefined();
    const store = await storeWithData(churnCsv(50, 1));
    const base = { store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'e', modelsPrefix: 'm/', checkpointsPrefix: 'c/', progress: 'none' as const };
    await expect(train({ ...base, project: withPipeline((p) => (p.target = 'nope')) })).rejects.toThrow(/target column "nope" is not in the training data/);
    await expect(train({ ...base, project: withPipeline((p) => (p.positive_class = 'maybe')) })).rejects.toThrow(/positive_class "maybe" does not occur.*"no", "yes"/);
    // 50 rows leave about 36 in the fit split: a larger batch would silently train full-batch.
    await expect(train({ ...base, project, overrides: { batch_size: 1000 } })).rejects.toThrow(
      /training_params\.batch_size is 1000 \(with any override\), but the fit split has only \d+ rows \(50 rows, train_split 0\.8, validation_split 0\.1\): set batch_size to at most \d+/,
    );
    await expect(train({ ...base, project, overrides: { batch_size: 1000 } })).rejects.toMatchObject({ code: 'CONFIG_INVALID', exitCode: 2 });
    const tiny = await storeWithData(churnCsv(3, 1));
    await expect(train({ ...base, store: tiny, project })).rejects.toThrow(/too few rows/);
    await expect(train({ ...base, dataKeys: [] , project })).rejects.toThrow(/no training data/);
  });
});
