import * as tf from '../../runtime/model/tf';
import * as http from 'node:http';
import { writeModelPackage, type ModelMetadata, type TaskKind } from '../../runtime/model/package';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { fitPreprocessing } from '../../runtime/model/preprocessing';
import type { Predictor } from '../../runtime/serving/predictor';

export type Row = Record<string, unknown>;

export const FEATURES = ['age', 'plan', 'active'];
export const PLANS = ['basic', 'pro', 'team'];

/** Deterministic rows with a numeric, a categorical and a boolean feature. */
export function sampleRows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({ age: 18 + ((i * 7) % 60), plan: PLANS[i % 3], active: i % 2 === 0 }));
}

const CLASSES: Record<TaskKind, string[]> = { binary: ['no', 'yes'], multiclass: ['low', 'mid', 'high'], regression: [] };

/**
 * Writes a real model package (TF.js artifacts + preprocessing + metadata) with seeded random
 * weights into `dir`, through the training module's writeModelPackage. Returns the tf model too.
 */
export async function writeTestPackage(
  dir: string,
  opts: { task?: TaskKind; hidden?: number[]; runId?: string; /** write here instead of a folder */ store?: ObjectStore; prefix?: string } = {},
): Promise<{ model: tf.LayersModel; rows: Row[] }> {
  const task = opts.task ?? 'binary';
  const hidden = opts.hidden ?? [8, 4];
  const rows = sampleRows(60);
  const preprocessing = fitPreprocessing(rows, { features: FEATURES, categorical: ['plan'] });
  const outputs = task === 'multiclass' ? 3 : 1;
  const last = task === 'multiclass' ? 'softmax' : task === 'binary' ? 'sigmoid' : 'linear';
  const model = tf.sequential();
  hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 7 + i }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 3 + i }),
        ...(i === 0 ? { inputShape: [preprocessing.outputDim] } : {}),
      }),
    );
    model.add(tf.layers.dropout({ rate: 0.1 }));
  });
  model.add(tf.layers.dense({ units: outputs, activation: last, kernelInitializer: tf.initializers.glorotUniform({ seed: 99 }) }));
  const metadata: ModelMetadata = {
    format_version: 1,
    project: 'serving-test',
    task,
    features: FEATURES,
    target: 'churned',
    classes: CLASSES[task],
    positive_class: task === 'binary' ? 'yes' : null,
    threshold: 0.5,
    input_dim: preprocessing.outputDim,
    layers: [...hidden.map((units) => ({ units, activation: 'relu' as const })), { units: outputs, activation: last }],
    created_at: new Date(0).toISOString(),
    run_id: opts.runId ?? 'run-test',
    data_hash: 'd',
    config_hash: 'c',
    code_version: 'test',
    backend: tf.getBackend(),
  };
  await writeModelPackage(opts.store ?? new LocalObjectStore(dir), opts.prefix ?? '', { model, preprocessing, metadata, metrics: { auc: 0.5 } });
  return { model, rows };
}

/** A tiny in-memory predictor for server tests that do not need a real model. */
export function echoPredictor(overrides: Partial<Predictor> = {}): Predictor {
  return {
    version: 'v-test',
    features: FEATURES,
    validateRow: (row) => (typeof row.age === 'number' || row.age === null ? null : `feature "age" must be a number, found ${JSON.stringify(row.age)}`),
    predict: (rows) => rows.map((r) => ({ prediction: Number(r.age ?? 0) > 40 ? 'yes' : 'no', probabilities: { no: 0.25, yes: 0.75 } })),
    ...overrides,
  };
}

/**
 * `count` POSTs to `url`, each on its own keep-alive connection with its headers and the first bytes of
 * its body sent, so the server holds them in flight; `finish()` sends the rest. `statuses` resolves with
 * every response code; `close()` frees the connections.
 */
export function holdRequests(url: string, body: string, count: number): { finish(): void; statuses: Promise<number[]>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: count + 16 });
  const finishers: (() => void)[] = [];
  const split = Math.min(50, body.length - 1);
  const responses = Array.from({ length: count }, () =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(body.slice(0, split));
      finishers.push(() => req.end(body.slice(split)));
    }),
  );
  return { finish: () => finishers.forEach((f) => f()), statuses: Promise.all(responses), close: () => agent.destroy() };
}
