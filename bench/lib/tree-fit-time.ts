/**
 * Gradient-boosting fit time on adult (the docs/examples/adult features, mlstack's train split) beside
 * scikit-learn's HistGradientBoostingClassifier with the same trees, leaves and bins, early stopping off
 * on both, in the same run. Run by bench/train.ts after the network figures (`--trees-only` skips those):
 *
 *   node bin/run-ts.js bench/train.ts --trees-only [--trees 100] [--leaves 31] [--bins 255]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { gradientBoostingParamsSchema } from '../../config/schema';
import { silentLogger } from '../../runtime/common/logger';
import { treeColumnsOf, treeView } from '../../runtime/model/trees';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { boost } from '../../runtime/training/gbdt';
import { disposePrepared, prepareData, type Matrices } from '../../runtime/training/prepare';
import { runSklearn, writeAdultSplit } from './adult-split';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

export async function treeFitTimes(): Promise<void> {
  const [trees, leaves, bins] = [flag('--trees', 100), flag('--leaves', 31), flag('--bins', 255)];
  const repo = path.resolve(__dirname, '..', '..');
  const dataFile = path.join(repo, '..', 'shared', 'data', 'adult.csv');
  const { pipeline } = loadProjectConfig(path.join(repo, 'docs', 'examples', 'adult'));
  // Both fit on the whole train split (fit + validation rows) with early stopping off.
  const prepared = await prepareData({ pipeline, params: pipeline.training_params, dataStore: new LocalObjectStore(path.dirname(dataFile)), dataKeys: [path.basename(dataFile)], runId: 'bench', logger: silentLogger });
  const columns = treeColumnsOf(prepared.preprocessing);
  const dim = prepared.preprocessing.outputDim;
  const rowsOf = async (parts: Matrices[]) => {
    const x = Float32Array.from(parts.flatMap((m) => Array.from(m.x.dataSync())));
    const labels = Float64Array.from(parts.flatMap((m) => Array.from(m.labels)));
    return { view: treeView(columns, x, labels.length, dim), n: labels.length, labels };
  };
  const fit = await rowsOf([prepared.fit, prepared.validation]);
  const params = gradientBoostingParamsSchema.parse({ num_trees: trees, num_leaves: leaves, max_bins: bins, early_stopping_rounds: trees + 1 });
  // scikit-learn scores no validation rows with early stopping off: ours gets 100, so the rounds cost the same work.
  const validation = { view: treeView(columns, Float32Array.from(prepared.test.x.dataSync().subarray(0, 100 * dim)), 100, dim), n: 100, labels: prepared.test.labels.subarray(0, 100) };
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = process.hrtime.bigint();
    boost({ task: 'binary', outputs: 1, columns, fit, validation, params, seed: 42 });
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  disposePrepared(prepared);
  const ours = [...times].sort((a, b) => a - b)[1];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-trees-'));
  await writeAdultSplit(pipeline, dataFile, work);
  const sklearn = runSklearn('fit-time', work, pipeline, [trees, leaves, bins]) as { fit_s: number } | null;
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write(`\ngradient boosting fit on adult's train split (${fit.n} rows, ${columns.length} columns; ${trees} trees, ${leaves} leaves, ${bins} bins; median of 3)\n`);
  process.stdout.write(`  mlstack (TypeScript, one thread)          ${ours.toFixed(2)} s (with the training loss each round)\n`);
  if (sklearn) process.stdout.write(`  scikit-learn HistGradientBoostingClassifier ${sklearn.fit_s.toFixed(2)} s   ratio x${(ours / sklearn.fit_s).toFixed(2)} (target <= 3)\n`);
}
