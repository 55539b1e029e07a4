/**
 * Training throughput per available TF.js backend on the same networks (the default
 * config's [32,16] at batch 64, and the adult example's [128] at batch 128), with the
 * training loop train() uses. Prints the median samples/s of 3 epochs and the ratio to cpu; then
 * gradient boosting's fit time on adult beside scikit-learn's (bench/lib/tree-fit-time.ts; --trees-only for that alone).
 *
 *   node bin/run-ts.js bench/train.ts [--rows 20000] [--epochs 3]
 */
import * as tf from '../runtime/model/tf';
import { trainingParamsSchema, type TrainingParams } from '../config/schema';
import { selectBackend, type BackendName } from '../runtime/training/backend';
import { runEpoch } from '../runtime/training';
import { buildModel } from '../runtime/training/model';
import { seededRandom, shuffledIndices } from '../runtime/training/data';
import { treeFitTimes } from './lib/tree-fit-time';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const NETWORKS: { name: string; inputDim: number; params: Partial<TrainingParams> }[] = [
  { name: 'default config: 14 -> [32,16] -> 1, batch 64', inputDim: 14, params: { hidden_layers: [32, 16], batch_size: 64, dropout: 0.1 } },
  { name: 'adult example: 104 -> [128] -> 1, batch 128', inputDim: 104, params: { hidden_layers: [128], batch_size: 128, dropout: 0.2 } },
];
const BACKENDS: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

async function samplesPerSecond(inputDim: number, params: TrainingParams, rows: number, epochs: number): Promise<number> {
  const x = tf.randomNormal([rows, inputDim], 0, 1, 'float32', 1) as tf.Tensor2D;
  const y = tf.round(tf.randomUniform([rows, 1], 0, 1, 'float32', 2)) as tf.Tensor2D;
  const model = buildModel({ task: 'binary', inputDim, outputUnits: 1 }, params, 42);
  const rates: number[] = [];
  for (let e = 0; e <= epochs; e++) {
    const order = shuffledIndices(rows, seededRandom(e));
    const start = process.hrtime.bigint();
    await runEpoch(model, model.optimizer, { x, y, labels: new Float64Array(0) }, order, params, 'binary');
    // Epoch 0 warms up kernels and is not counted.
    if (e > 0) rates.push(rows / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  tf.dispose([x, y]);
  model.dispose();
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

async function main(): Promise<void> {
  const rows = flag('--rows', 20000);
  const epochs = flag('--epochs', 3);
  const results: Record<string, Record<string, number>> = {};
  for (const backend of process.argv.includes('--trees-only') ? [] : BACKENDS) {
    try {
      await selectBackend({ only: backend });
    } catch (err) {
      process.stdout.write(`${backend.padEnd(15)} not available (${(err as Error).message.split(': ').slice(-1)[0].slice(0, 80)})\n`);
      continue;
    }
    for (const net of NETWORKS) {
      const params = trainingParamsSchema.parse({ epochs: 1, learning_rate: 0.002, ...net.params });
      (results[net.name] ??= {})[backend] = await samplesPerSecond(net.inputDim, params, rows, epochs);
    }
  }
  for (const [net, byBackend] of Object.entries(results)) {
    process.stdout.write(`\n${net} (${rows} rows, median of ${epochs} epochs)\n`);
    const base = byBackend.cpu;
    for (const [backend, rate] of Object.entries(byBackend)) {
      process.stdout.write(`  ${backend.padEnd(15)} ${Math.round(rate).toString().padStart(8)} samples/s${base ? `   x${(rate / base).toFixed(2)} vs cpu` : ''}\n`);
    }
  }
  await treeFitTimes();
}

main().catch((err) => {
  process.stderr.write(`bench/train: ${(err as Error).message}\n`);
  process.exit(1);
});
