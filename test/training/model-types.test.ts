/**
 * Every model type through the one package format and the one serving path: trained on the synthetic
 * churn data, read back (manifest verified), and predicting the same in-process, over HTTP and in batch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadProjectConfig } from '../../config/load';
import type { ModelType, ProjectConfig } from '../../config/schema';
import { createModelForward } from '../../runtime/model/model-forward';
import { PACKAGE_FILES, readModelPackage } from '../../runtime/model/package';
import { transformRows } from '../../runtime/model/preprocessing';
import { batchTransform } from '../../runtime/serving/batch';
import { loadPredictor } from '../../runtime/serving/load';
import { startServer } from '../../runtime/serving/server';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { resolveTrainingParams, train, type TrainResult } from '../../runtime/training';
import { planStudy, tune } from '../../runtime/training/tuning';
import { evaluatePackage } from '../../runtime/training/evaluate';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const base = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));

function projectOf(modelType: ModelType, edit: (p: ProjectConfig['pipeline']) => void = () => undefined): ProjectConfig {
  const copy = JSON.parse(JSON.stringify(base)) as ProjectConfig;
  copy.pipeline.model_type = modelType;
  edit(copy.pipeline);
  return copy;
}

const rows = [
  { age: 30, spend: 20.5, tenure: 3, plan: 'basic', region: 'apac', tickets: 7 },
  { age: 55, spend: null, tenure: 100, plan: 'premium', region: 'eu', tickets: 0 },
  { age: 41, spend: 70, tenure: 40, plan: 'never-seen', region: 'mars', tickets: 2 },
];

describe.each(['gradient_boosting', 'logistic_regression'] as const)('model_type %s', (modelType) => {
  let store: LocalObjectStore;
  let result: TrainResult;
  let dir: string;

  beforeAll(async () => {
    dir = makeTempDir('mlstack-types-');
    store = new LocalObjectStore(dir);
    await store.put('data/part-0.csv', churnCsv(3000, 11));
    result = await train({ project: projectOf(modelType), store, dataKeys: ['data/part-0.csv'], runId: 'r1', modelsPrefix: 'models/', checkpointsPrefix: 'ck/', progress: 'none' });
  }, 60_000);

  it('learns the signal and records its type, importance and validation metrics', async () => {
    expect(result.modelType).toBe(modelType);
    expect(result.metrics.auc).toBeGreaterThan(0.7);
    expect(result.validation.val_auc).toBeGreaterThan(0.65);
    // tickets carries the strongest signal in the synthetic data; id-like noise features carry none.
    expect(result.importance[0].feature).toMatch(/tickets|tenure/);
    const pkg = await readModelPackage(store, result.packagePrefix);
    expect(pkg.metadata.model_type).toBe(modelType);
    expect((pkg.metrics as { feature_importance: unknown[] }).feature_importance).toHaveLength(6);
    if (modelType === 'gradient_boosting') {
      expect(pkg.trees?.trees.length).toBeGreaterThan(0);
      expect(result.importance.every((f) => f.split_gain !== undefined)).toBe(true);
      expect(fs.existsSync(path.join(dir, result.packagePrefix, PACKAGE_FILES.modelJson))).toBe(false);
    }
    expect(fs.readFileSync(path.join(dir, result.reportKey), 'utf8')).toContain('id="importance"');
  });

  it('predicts the same in-process, through the HTTP server and in batch (missing and unseen values included)', async () => {
    const pkg = await readModelPackage(store, result.packagePrefix);
    const direct = createModelForward(pkg)(transformRows(pkg.preprocessing, rows), rows.length);
    const predictor = await loadPredictor(path.join(dir, result.packagePrefix));
    const local = predictor.predict(rows);
    local.forEach((p, i) => expect(p.probabilities!.yes).toBeCloseTo(direct[i], 6));
    const server = await startServer({ predictor, port: 0, host: '127.0.0.1', env: {} });
    try {
      const res = await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rows) });
      const body = (await res.json()) as { predictions: { probabilities: Record<string, number> }[] };
      body.predictions.forEach((p, i) => expect(p.probabilities.yes).toBeCloseTo(direct[i], 6));
    } finally {
      await server.close();
    }
    const input = path.join(dir, 'in.csv');
    fs.writeFileSync(input, ['age,spend,tenure,plan,region,tickets', ...rows.map((r) => Object.values(r).map((v) => v ?? '').join(','))].join('\n') + '\n');
    await batchTransform({ predictor, input, output: path.join(dir, 'out.csv') });
    const out = parse(fs.readFileSync(path.join(dir, 'out.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(out).toHaveLength(rows.length);
    out.forEach((r, i) => expect(Number(r.probability_yes)).toBeCloseTo(direct[i], 6));
  });

  it('evaluates the package like serving predicts', async () => {
    const pkg = await readModelPackage(store, result.packagePrefix);
    const labelled = rows.map((r, i) => Object.fromEntries(Object.entries({ ...r, churned: i === 0 ? 'yes' : 'no' }).map(([k, v]) => [k, v === null ? '' : String(v)])));
    const evaluation = evaluatePackage(pkg, labelled);
    expect(evaluation.rows).toBe(3);
    expect(evaluation.metrics.auc).toBeGreaterThanOrEqual(0);
  });
});

describe('regression and multiclass with trees and linear models', () => {
  it.each(['gradient_boosting', 'linear'] as const)('%s predicts a number in the target units', async (modelType) => {
    const folder = makeTempDir('mlstack-types-');
    const store = new LocalObjectStore(folder);
    await store.put('data/part-0.csv', churnCsv(1500, 12));
    const project = projectOf(modelType, (p) => {
      p.task = 'regression';
      p.target = 'tenure';
      p.features = ['age', 'spend', 'plan', 'region', 'tickets'];
      p.positive_class = undefined;
      p.promotion_gates = {};
    });
    const result = await train({ project, store, dataKeys: ['data/part-0.csv'], runId: 'reg', modelsPrefix: 'models/', checkpointsPrefix: 'ck/', progress: 'none' });
    expect(result.metrics.rmse).toBeGreaterThan(0);
    const predictor = await loadPredictor(path.join(folder, result.packagePrefix));
    const [p] = predictor.predict([rows[0]]);
    expect(typeof p.prediction).toBe('number');
    expect(p.prediction as number).toBeGreaterThan(0);
    expect(p.prediction as number).toBeLessThan(120);
  }, 60_000);

  it('gradient_boosting trains one tree per class for a multiclass target', async () => {
    const folder = makeTempDir('mlstack-types-');
    const store = new LocalObjectStore(folder);
    await store.put('data/part-0.csv', churnCsv(1500, 13));
    const project = projectOf('gradient_boosting', (p) => {
      p.task = 'multiclass';
      p.target = 'plan';
      p.features = ['age', 'spend', 'tenure', 'region', 'tickets'];
      p.categorical_features = ['region'];
      p.positive_class = undefined;
      p.promotion_gates = {};
      p.training_params.gradient_boosting = { ...p.training_params.gradient_boosting, num_trees: 5 };
    });
    const result = await train({ project, store, dataKeys: ['data/part-0.csv'], runId: 'multi', modelsPrefix: 'models/', checkpointsPrefix: 'ck/', progress: 'none' });
    const pkg = await readModelPackage(store, result.packagePrefix);
    expect(pkg.trees!.outputs).toBe(3);
    const [p] = (await loadPredictor(path.join(folder, result.packagePrefix))).predict([rows[0]]);
    expect(Object.values(p.probabilities!).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  }, 60_000);
});

describe('tuning a gradient_boosting model', () => {
  it('samples the tree parameters into training_params.gradient_boosting and keeps the best trial', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-tune-trees-'));
    await store.put('data/part-0.csv', churnCsv(1200, 14));
    const project = projectOf('gradient_boosting', (p) => {
      p.tuning = { strategy: 'random', trials: 3, metric: 'auc', eta: 3, min_epochs: 2, search_space: { num_leaves: { min: 4, max: 16, log: false, integer: true }, learning_rate: { min: 0.05, max: 0.3, log: true, integer: false } } };
    });
    const plan = planStudy(project.pipeline, undefined);
    const params = resolveTrainingParams(project.pipeline.training_params, plan.configs[0], 'gradient_boosting');
    const sampled = plan.configs[0] as Record<string, number>;
    expect(params.gradient_boosting.num_leaves).toBe(sampled.num_leaves);
    expect(params.gradient_boosting.learning_rate).toBe(sampled.learning_rate);
    expect(params.learning_rate).toBe(project.pipeline.training_params.learning_rate);
    const study = await tune({ project, store, dataKeys: ['data/part-0.csv'], studyId: 's1', modelsPrefix: 'models/', checkpointsPrefix: 'ck/' });
    expect(study.trials.map((t) => t.status)).toEqual(['complete', 'complete', 'complete']);
    const best = await readModelPackage(store, study.best!.package_prefix);
    expect(best.metadata.model_type).toBe('gradient_boosting');
  }, 60_000);
});

describe('model_type auto', () => {
  it('trains every candidate on the same split, packages the best by validation AUC and records them all', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-auto-'));
    await store.put('data/part-0.csv', churnCsv(2000, 15));
    const result = await train({ project: projectOf('auto'), store, dataKeys: ['data/part-0.csv'], runId: 'auto', modelsPrefix: 'models/', checkpointsPrefix: 'ck/', progress: 'none', overrides: { epochs: 3 } });
    const candidates = result.candidates!;
    expect(candidates.map((c) => c.model_type)).toEqual(['gradient_boosting', 'logistic_regression', 'neural_network']);
    const best = Math.max(...candidates.map((c) => c.validation.val_auc));
    const selected = candidates.filter((c) => c.selected);
    expect(selected).toHaveLength(1);
    expect(selected[0].validation.val_auc).toBe(best);
    expect(result.modelType).toBe(selected[0].model_type);
    const pkg = await readModelPackage(store, result.packagePrefix);
    expect(pkg.metadata.model_type).toBe(selected[0].model_type);
    expect((pkg.metrics as { candidates: unknown[] }).candidates).toHaveLength(3);
  }, 60_000);
});
