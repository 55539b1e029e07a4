import * as tf from '../../runtime/model/tf';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadTfModel, readModelPackage } from '../../runtime/model/package';
import { findPackageDir } from '../../runtime/model/package-dir';
import { loadPredictor } from '../../runtime/serving/load';
import { predictorFromPackage } from '../../runtime/serving/model-predictor';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { transformRows } from '../../runtime/model/preprocessing';
import { makeTempDir } from '../helpers/tmp';
import { sampleRows, writeTestPackage } from './fixtures';

describe('predictor over a model package', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['binary', 'multiclass', 'regression'] as const)('the lean forward pass equals tf.LayersModel.predict within 1e-5 (%s)', async (task) => {
    const dir = makeTempDir();
    await writeTestPackage(dir, { task, hidden: [64, 64] });
    const pkg = await readModelPackage(new LocalObjectStore(dir), '');
    const rows = [...sampleRows(40), { age: null, plan: 'unseen-plan', active: null }, { age: '33', plan: 'pro', active: 'false' }];
    const tfModel = await loadTfModel(pkg);
    const viaTf = (tfModel.predict(tf.tensor2d(transformRows(pkg.preprocessing, rows), [rows.length, pkg.preprocessing.outputDim])) as tf.Tensor).arraySync() as number[][];
    const predictor = predictorFromPackage(pkg, 'v1');
    const lean = predictor.predict(rows);
    expect(lean).toHaveLength(rows.length);
    lean.forEach((p, i) => {
      if (task === 'regression') {
        expect(Math.abs((p.prediction as number) - viaTf[i][0])).toBeLessThan(1e-5);
      } else if (task === 'binary') {
        expect(Math.abs(p.probabilities!.yes - viaTf[i][0])).toBeLessThan(1e-5);
        expect(Math.abs(p.probabilities!.no - (1 - viaTf[i][0]))).toBeLessThan(1e-5);
        expect(p.prediction).toBe(viaTf[i][0] >= 0.5 ? 'yes' : 'no');
      } else {
        ['low', 'mid', 'high'].forEach((c, k) => expect(Math.abs(p.probabilities![c] - viaTf[i][k])).toBeLessThan(1e-5));
        expect(p.prediction).toBe(['low', 'mid', 'high'][viaTf[i].indexOf(Math.max(...viaTf[i]))]);
      }
    });
  });

  it('predicts the same on the JS fallback (MLSTACK_FORWARD=js) as on the WebAssembly path', async () => {
    const dir = makeTempDir();
    await writeTestPackage(dir, { task: 'multiclass', hidden: [33, 7] });
    const pkg = await readModelPackage(new LocalObjectStore(dir), '');
    const rows = sampleRows(150);
    const viaWasm = predictorFromPackage(pkg, 'v1').predict(rows);
    const before = process.env.MLSTACK_FORWARD;
    let viaJs;
    try {
      process.env.MLSTACK_FORWARD = 'js';
      viaJs = predictorFromPackage(pkg, 'v1').predict(rows);
    } finally {
      if (before === undefined) delete process.env.MLSTACK_FORWARD;
      else process.env.MLSTACK_FORWARD = before;
    }
    viaJs.forEach((p, i) => {
      expect(p.prediction).toBe(viaWasm[i].prediction);
      for (const c of ['low', 'mid', 'high']) expect(Math.abs(p.probabilities![c] - viaWasm[i].probabilities![c])).toBeLessThan(1e-5);
    });
  });

  it('answers a plain JSON body on the fast path exactly as predict answers the parsed rows, and declines the rest', async () => {
    const dir = makeTempDir();
    await writeTestPackage(dir, { task: 'multiclass', hidden: [16] });
    const pkg = await readModelPackage(new LocalObjectStore(dir), '');
    const predictor = predictorFromPackage(pkg, 'v1');
    const rows = [...sampleRows(150), { age: null, plan: 'unseen-plan', active: null }, { age: 41.5, plan: ' pro ', active: false }];
    const fast = predictor.predictJson!(Buffer.from(JSON.stringify({ instances: rows })), 1000);
    expect(fast).toEqual(predictor.predict(rows));
    // Strings for numbers and booleans are valid for predict, but the fast path leaves them to the general path.
    expect(predictor.predictJson!(Buffer.from(JSON.stringify([{ age: '33', plan: 'pro', active: 'false' }])), 10)).toBeUndefined();
    expect(predictor.predictJson!(Buffer.from(JSON.stringify(rows)), 100)).toBeUndefined();
  });

  it('validates rows with the saved preprocessing and warms up on imputed rows', async () => {
    const dir = makeTempDir();
    await writeTestPackage(dir);
    const predictor = await loadPredictor(dir, { version: 'v7' });
    expect(predictor.version).toBe('v7');
    expect(predictor.features).toEqual(['age', 'plan', 'active']);
    expect(predictor.validateRow!({ age: 'abc', plan: 'pro', active: true })).toMatch(/"age" must be a number/);
    expect(predictor.validateRow!({ age: 3, plan: 'pro', active: 'maybe' })).toMatch(/"active" must be true or false/);
    expect(() => predictor.warmup!()).not.toThrow();
  });

  it('loads from a folder, a file:// URI and a folder that holds one package below it', async () => {
    const root = makeTempDir();
    const nested = path.join(root, 'churn', '3');
    fs.mkdirSync(nested, { recursive: true });
    await writeTestPackage(nested, { runId: 'run-42' });
    expect((await loadPredictor(root)).version).toBe('run-42');
    expect((await loadPredictor(pathToFileURL(nested).href)).version).toBe('run-42');
    expect(findPackageDir(root)).toBe(nested);
  });

  it('names the folder when no package or several packages are found', async () => {
    const empty = makeTempDir();
    await expect(loadPredictor(empty)).rejects.toThrow(/no model package in .*metadata.json/);
    const two = makeTempDir();
    for (const sub of ['a', 'b']) {
      fs.mkdirSync(path.join(two, sub));
      fs.writeFileSync(path.join(two, sub, 'metadata.json'), '{}');
    }
    expect(() => findPackageDir(two)).toThrow(/several model packages/);
  });

  it('rejects an inconsistent package (input width differs from preprocessing)', async () => {
    const dir = makeTempDir();
    await writeTestPackage(dir);
    const pkg = await readModelPackage(new LocalObjectStore(dir), '');
    pkg.preprocessing = { ...pkg.preprocessing, outputDim: pkg.preprocessing.outputDim + 1 };
    expect(() => predictorFromPackage(pkg, 'v')).toThrow(/inconsistent/);
    const bad = await readModelPackage(new LocalObjectStore(dir), '');
    bad.metadata = { ...bad.metadata, classes: ['only-one'] };
    expect(() => predictorFromPackage(bad, 'v')).toThrow(/needs 2 classes/);
  });
});

describe('loadPredictor with a registry version', () => {
  it('resolves the version through the registry under the workdir and reports it', async () => {
    await tf.setBackend('cpu');
    const workdir = makeTempDir();
    fs.mkdirSync(path.join(workdir, 'models', 'run-9'), { recursive: true });
    await writeTestPackage(path.join(workdir, 'models', 'run-9'), { runId: 'run-9' });
    const { ModelRegistry } = await import('../../runtime/registry/index');
    const record = await new ModelRegistry(new LocalObjectStore(workdir)).register({
      project: 'serving-test',
      packagePrefix: 'models/run-9/',
      metrics: { auc: 0.5 },
      lineage: { data_hash: 'd', config_hash: 'c', code_version: 't', run_id: 'run-9' },
    });
    const predictor = await loadPredictor(record.version, { workdir });
    expect(predictor.version).toBe(record.version);
    expect(predictor.predict(sampleRows(2))).toHaveLength(2);
    await expect(loadPredictor('v99', { workdir })).rejects.toThrow(/model version "v99" is not registered/);
  });
});
