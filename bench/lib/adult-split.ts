/**
 * The adult example's exact split (mlstack's stratified train/test, seed 42) written as train.csv and
 * test.csv for the scikit-learn reference (bench/reference/sklearn_adult.py), and a runner for it.
 * The reference runs under Debian's python3 (apt-get install python3-sklearn python3-pandas).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PipelineConfig } from '../../config/schema';
import { silentLogger } from '../../runtime/common/logger';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { disposePrepared, prepareData } from '../../runtime/training/prepare';

const PYTHONS = ['/usr/bin/python3', 'python3'];

function csvLine(values: unknown[]): string {
  return values.map((v) => (v === null || v === undefined ? '' : /[",\n]/.test(String(v)) ? JSON.stringify(String(v)) : String(v))).join(',');
}

/** Writes <dir>/train.csv (the train split: fit + validation) and <dir>/test.csv. */
export async function writeAdultSplit(pipeline: PipelineConfig, dataFile: string, dir: string): Promise<void> {
  const prepared = await prepareData({ pipeline, params: pipeline.training_params, dataStore: new LocalObjectStore(path.dirname(dataFile)), dataKeys: [path.basename(dataFile)], runId: 'split', logger: silentLogger });
  const columns = [...pipeline.features, pipeline.target];
  const write = (name: string, indices: number[]) =>
    fs.writeFileSync(path.join(dir, name), [columns.join(','), ...indices.map((i) => csvLine(columns.map((c) => prepared.data.rows[i][c])))].join('\n') + '\n');
  write('train.csv', prepared.splits.train);
  write('test.csv', prepared.splits.test);
  disposePrepared(prepared);
}

/** Runs the reference in `mode`; null (with the reason printed) when no python with scikit-learn is found. */
export function runSklearn(mode: 'quality' | 'fit-time', dir: string, pipeline: PipelineConfig, extra: (string | number)[] = []): Record<string, unknown> | null {
  const script = path.join(__dirname, '..', 'reference', 'sklearn_adult.py');
  const args = [script, mode, dir, pipeline.target, String(pipeline.positive_class), (pipeline.categorical_features ?? []).join(','), ...extra.map(String)];
  for (const python of PYTHONS) {
    const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status === 0) return JSON.parse(run.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    if (python === PYTHONS[PYTHONS.length - 1]) process.stdout.write(`  scikit-learn reference not run: ${(run.stderr || String(run.error)).trim().split('\n').pop()}\n`);
  }
  return null;
}
