/**
 * Model quality on a real dataset: trains the docs/examples/adult config on ../shared/data/adult.csv
 * (80/20 stratified split, seed 42, every column but `income` as a feature, positive class >50K)
 * and prints the test AUC next to scikit-learn's figures on the same kind of split.
 *
 *   node bin/run-ts.js bench/quality.ts [--runs 3] [--data ../shared/data/adult.csv] [--params '{"batch_size":256}']
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../config/load';
import { LocalObjectStore } from '../runtime/storage/local-store';
import { train } from '../runtime/training';
import * as os from 'node:os';

const SKLEARN_REFERENCE = { logistic_regression: 0.909, mlp_128: 0.914, hist_gradient_boosting: 0.929 };
const TARGET_AUC = 0.914;

function parseFlag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const repo = path.resolve(__dirname, '..');
  const dataFile = path.resolve(parseFlag('--data') ?? path.join(repo, '..', 'shared', 'data', 'adult.csv'));
  if (!fs.existsSync(dataFile)) throw new Error(`adult.csv not found at ${dataFile}: pass --data <path>`);
  const runs = Number(parseFlag('--runs') ?? '1');
  const project = loadProjectConfig(path.join(repo, 'docs', 'examples', 'adult'));
  const dataStore = new LocalObjectStore(path.dirname(dataFile));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-quality-'));
  const overrides = JSON.parse(parseFlag('--params') ?? '{}') as Record<string, unknown>;
  const aucs: number[] = [];
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const store = new LocalObjectStore(path.join(work, `run-${i}`));
    const started = process.hrtime.bigint();
    const result = await train({
      project,
      store,
      dataStore,
      dataKeys: [path.basename(dataFile)],
      runId: `adult-${i}`,
      modelsPrefix: 'models/',
      checkpointsPrefix: 'checkpoints/',
      progress: 'none',
      overrides,
      metricsOut: fs.createWriteStream('/dev/null'),
    });
    seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
    aucs.push(result.metrics.auc);
    process.stdout.write(
      `run ${i + 1}/${runs}: test auc ${result.metrics.auc.toFixed(4)} accuracy ${result.metrics.accuracy.toFixed(4)} f1 ${result.metrics.f1.toFixed(4)} ` +
        `log_loss ${result.metrics.log_loss.toFixed(4)} epochs ${result.epochs} (best ${result.bestEpoch}) backend ${result.backend} ${seconds[i].toFixed(1)} s\n`,
    );
  }
  const sorted = [...aucs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  process.stdout.write(`\nadult.csv test AUC (median of ${runs}): ${median.toFixed(4)}   target >= ${TARGET_AUC}: ${median >= TARGET_AUC ? 'MET' : 'NOT MET'}\n`);
  for (const [name, auc] of Object.entries(SKLEARN_REFERENCE)) {
    process.stdout.write(`  vs scikit-learn ${name.padEnd(24)} ${auc.toFixed(3)}  delta ${(median - auc >= 0 ? '+' : '') + (median - auc).toFixed(4)}\n`);
  }
  process.stdout.write(`  training time median ${[...seconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)].toFixed(1)} s\n`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`bench/quality: ${(err as Error).message}\n`);
  process.exit(1);
});
