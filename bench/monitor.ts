/**
 * bench/monitor: the monitor's cost on captured traffic. Writes N captured requests (mlstack's capture
 * format, adult.csv rows cycled, default 1 000 000) to a temp folder, then in separate child processes
 * (so each peak RSS is its own): `read` parses the same records and only counts them; `monitor` also counts
 * every feature on the baseline's bins (drift, the report's bins). Prints rows, seconds and peak RSS of each.
 *
 *   node bin/run-ts.js bench/monitor.ts [--rows 1000000]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { fitPreprocessing } from '../runtime/model/preprocessing';
import { trainingBaseline } from '../runtime/monitoring/baseline';
import { DriftAccumulator } from '../runtime/monitoring/drift';
import { readLive } from '../runtime/monitoring/source';
import { LocalObjectStore } from '../runtime/storage/local-store';

const ADULT = path.resolve(__dirname, '..', '..', 'shared', 'data', 'adult.csv');
const FEATURES = ['age', 'type_employer', 'fnlwgt', 'education', 'education_num', 'marital', 'occupation', 'relationship', 'race', 'sex', 'capital_gain', 'capital_loss', 'hr_per_week', 'country'];

function adultRows(): Record<string, string>[] {
  return parse(fs.readFileSync(ADULT), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
}

function writeCapture(dir: string, rows: number): void {
  const source = adultRows();
  const fd = fs.openSync(path.join(dir, 'capture.jsonl'), 'w');
  let chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    const row = source[i % source.length];
    const instance = Object.fromEntries(FEATURES.map((f) => [f, row[f]]));
    chunk.push(JSON.stringify({ request_id: `r${i}`, time: '2026-01-01T00:00:00Z', model_version: 'v1', instances: [instance], predictions: [{ prediction: '<=50K', probabilities: { '<=50K': 0.7, '>50K': 0.3 } }] }));
    if (chunk.length === 10_000) (fs.writeSync(fd, chunk.join('\n') + '\n'), (chunk = []));
  }
  if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  fs.closeSync(fd);
}

async function child(mode: string, dir: string): Promise<void> {
  const rows = adultRows();
  const baseline = trainingBaseline({ rows, indices: rows.map((_, i) => i), preprocessing: fitPreprocessing(rows, { features: FEATURES }), task: 'binary', predictions: [0.3, 0.7], classes: ['<=50K', '>50K'] });
  const acc = new DriftAccumulator(baseline);
  const start = performance.now();
  let n = 0;
  for await (const r of readLive({ store: new LocalObjectStore(dir), keys: ['capture.jsonl'] }, FEATURES)) {
    n++;
    if (mode === 'monitor') acc.add({ features: r.features, prediction: 0.3 });
  }
  const drifted = mode === 'monitor' ? acc.result().drifted_features.length : 0;
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ mode, rows: n, seconds: Number(seconds.toFixed(2)), peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), drifted }));
}

function main(): void {
  const at = process.argv.indexOf('--rows');
  const rows = at > 0 ? Number(process.argv[at + 1]) : 1_000_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-monitor-'));
  try {
    const t = performance.now();
    writeCapture(dir, rows);
    console.log(`wrote ${rows} captured rows (${(fs.statSync(path.join(dir, 'capture.jsonl')).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    for (const mode of ['read', 'monitor']) {
      const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'run-ts.js'), __filename, '--child', mode, dir], { stdio: 'inherit' });
      if (run.status !== 0) process.exitCode = 1;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) void child(process.argv[childAt + 1], process.argv[childAt + 2]);
else main();
