import * as tf from '../../runtime/model/tf';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import {
  denseForward,
  loadTfModel,
  readDenseLayers,
  readModelPackage,
  writeModelPackage,
  type ModelMetadata,
} from '../../runtime/model/package';
import { fitPreprocessing, transformRows } from '../../runtime/model/preprocessing';
import { makeTempDir } from '../helpers/tmp';

function smallModel(inputDim: number): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [inputDim], units: 5, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.2 }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  return model;
}

const rows = [
  { a: '1', b: 'x' },
  { a: '2', b: 'y' },
  { a: '7', b: 'x' },
];

describe('model package', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('round-trips through a local store with standard TF.js artifacts', async () => {
    const dir = makeTempDir();
    const store = new LocalObjectStore(dir);
    const preprocessing = fitPreprocessing(rows, { features: ['a', 'b'] });
    const model = smallModel(preprocessing.outputDim);
    const metadata: ModelMetadata = {
      format_version: 1,
      project: 'demo',
      task: 'multiclass',
      features: ['a', 'b'],
      target: 't',
      classes: ['p', 'q', 'r'],
      positive_class: null,
      threshold: 0.5,
      input_dim: preprocessing.outputDim,
      layers: [
        { units: 5, activation: 'relu' },
        { units: 3, activation: 'softmax' },
      ],
      created_at: new Date().toISOString(),
      run_id: 'run-1',
      data_hash: 'd',
      config_hash: 'c',
      code_version: 'test',
      backend: 'cpu',
    };
    const { sizeBytes } = await writeModelPackage(store, 'models/run-1/', { model, preprocessing, metadata, metrics: { auc: 0.9 }, reportHtml: '<html></html>' });
    expect(sizeBytes).toBeGreaterThan(0);
    for (const f of ['model/model.json', 'model/weights.bin', 'preprocessing.json', 'metadata.json', 'metrics.json', 'report.html']) {
      expect(fs.existsSync(path.join(dir, 'models/run-1', f))).toBe(true);
    }
    const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'models/run-1/model/model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);

    const pkg = await readModelPackage(store, 'models/run-1');
    expect(pkg.metadata).toEqual(metadata);
    expect(pkg.metrics).toEqual({ auc: 0.9 });
    expect(pkg.preprocessing).toEqual(preprocessing);

    const x = transformRows(pkg.preprocessing, rows);
    const expected = (model.predict(tf.tensor2d(x, [3, preprocessing.outputDim])) as tf.Tensor).dataSync();
    const loaded = await loadTfModel(pkg);
    const viaTf = (loaded.predict(tf.tensor2d(x, [3, preprocessing.outputDim])) as tf.Tensor).dataSync();
    const dense = readDenseLayers(pkg);
    expect(dense.map((l) => [l.inputDim, l.units, l.activation])).toEqual([
      [preprocessing.outputDim, 5, 'relu'],
      [5, 3, 'softmax'],
    ]);
    const viaLean = denseForward(dense, x, 3);
    for (let i = 0; i < expected.length; i++) {
      expect(viaTf[i]).toBeCloseTo(expected[i], 6);
      expect(viaLean[i]).toBeCloseTo(expected[i], 5);
    }
  });

  it('names the missing file of an incomplete package', async () => {
    const store = new LocalObjectStore(makeTempDir());
    await expect(readModelPackage(store, 'models/none/')).rejects.toThrow(/no model package at .*models\/none\/.*metadata.json is missing/);
    await store.put('models/old/metadata.json', JSON.stringify({ format_version: 7 }));
    await expect(readModelPackage(store, 'models/old/')).rejects.toThrow(/unsupported format_version 7/);
  });

  it('supports sigmoid, tanh and linear activations in the lean forward pass', () => {
    const layer = (activation: 'sigmoid' | 'tanh' | 'linear') => ({ inputDim: 1, units: 1, activation, kernel: Float32Array.of(2), bias: Float32Array.of(0) });
    const x = Float32Array.of(0.5);
    expect(denseForward([layer('sigmoid')], x, 1)[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(denseForward([layer('tanh')], x, 1)[0]).toBeCloseTo(Math.tanh(1), 6);
    expect(denseForward([layer('linear')], x, 1)[0]).toBeCloseTo(1, 6);
  });
});
