/** Same data + config + seed -> the same weights and metrics on the same backend (dropout included). */
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { ProjectConfig } from '../../config/schema';
import { runPackagePrefix } from '../../runtime/contract/layout';
import { PACKAGE_FILES } from '../../runtime/model/package';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { train, type TrainResult } from '../../runtime/training';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const base = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));
const DATA = 'data/processed/r1/part-0.csv';
// Dropout on and several batches per epoch: the masks must be drawn from the seed, batch by batch.
const overrides = { epochs: 3, early_stopping_patience: 10, batch_size: 32, dropout: 0.3 };

function withSeed(seed: number): ProjectConfig {
  return { ...base, pipeline: { ...base.pipeline, seed } };
}

async function run(store: LocalObjectStore, runId: string, seed: number): Promise<{ result: TrainResult; weights: Buffer }> {
  const result = await train({ project: withSeed(seed), store, dataKeys: [DATA], runId, modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/', progress: 'none', overrides });
  const weights = await store.get(`${runPackagePrefix({ models: 'models/' }, runId)}${PACKAGE_FILES.weights}`);
  return { result, weights };
}

/** Metrics that depend on the model only (not on timing). */
function modelMetrics(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([k]) => k !== 'predict_latency_p99_ms'));
}

describe('determinism', () => {
  let store: LocalObjectStore;
  beforeAll(async () => {
    store = new LocalObjectStore(makeTempDir('mlstack-determinism-'));
    await store.put(DATA, churnCsv(600, 11));
  });

  it('trains twice with the same seed to identical weight bytes, validation and test metrics; another seed differs', async () => {
    const a = await run(store, 'det-a', 42);
    const b = await run(store, 'det-b', 42);
    expect(a.weights.length).toBeGreaterThan(0);
    expect(b.weights.equals(a.weights)).toBe(true);
    expect(modelMetrics(b.result.metrics)).toEqual(modelMetrics(a.result.metrics));
    expect(b.result.validation).toEqual(a.result.validation);
    expect(b.result.configHash).toBe(a.result.configHash);

    const c = await run(store, 'det-c', 43);
    expect(c.weights.equals(a.weights)).toBe(false);
  });
});
