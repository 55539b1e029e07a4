/**
 * Ingestion benchmark: rows/s and peak RSS from the local paginated sample API to processed CSV.
 *   node bin/run-ts.js bench/ingest.ts [--rows 1000000,10000000] [--page-size 5000] [--repeats 1]
 * The API runs in its own child process; each measurement runs in a fresh child so its peak RSS
 * (process.resourceUsage().maxRSS) is its own. Baselines in the same run:
 *   - http-read: fetch + JSON.parse every page and drop it (the ceiling any ingester on this API has);
 *   - naive: fetch all pages into memory, then write one CSV (only at the smallest size: it grows with the data).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProjectConfig } from '../config/load';
import { runIngestion } from '../runtime/ingestion';
import { startSampleApi } from '../runtime/ingestion/sample-api';
import { LocalObjectStore } from '../runtime/storage/local-store';

/** The API serves rows from this many pre-serialised sample rows (ids spliced in), so generating them costs little. */
const ROW_POOL = 10_000;
/**
 * The config's default rate limit (50 requests/s) would cap a 1000-row page at 50k rows/s, which measures the limiter:
 * the bench lifts it explicitly. Everything else (validation, quality stats, raw parts, checkpoints) runs as configured.
 */
const BENCH_RATE_LIMIT = { per_second: 1_000_000, burst: 1000 };
const BENCH_RAW_PART_ROWS = 200_000;
const RUN_TS = path.resolve(__dirname, '..', 'bin', 'run-ts.js');

interface Measurement {
  mode: string;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  peakRssMb: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function worker(mode: string, url: string, rows: number, pageSize: number): Promise<void> {
  const started = performance.now();
  let counted = 0;
  if (mode === 'ingest') {
    const project = loadProjectConfig(path.resolve(__dirname, '..', 'config'));
    const ing = project.parser.ingestion;
    ing.pagination.page_size = pageSize;
    ing.rate_limit = BENCH_RATE_LIMIT;
    ing.raw_part_rows = BENCH_RAW_PART_ROWS;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-ingest-'));
    try {
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store: new LocalObjectStore(dir), source: url, runId: 'bench' });
      counted = result.rows.fetched;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else {
    const all: unknown[] = [];
    for (let page = 1; ; page += 1) {
      const response = await fetch(`${url}?page=${page}&page_size=${pageSize}`);
      const body = (await response.json()) as { data: Record<string, unknown>[]; has_more: boolean };
      counted += body.data.length;
      if (mode === 'naive') all.push(...body.data);
      if (!body.has_more) break;
    }
    if (mode === 'naive') {
      const file = path.join(os.tmpdir(), `mlstack-bench-naive-${process.pid}.csv`);
      const header = Object.keys(all[0] as object);
      fs.writeFileSync(file, [header.join(','), ...all.map((r) => header.map((h) => String((r as Record<string, unknown>)[h] ?? '')).join(','))].join('\n'));
      fs.rmSync(file);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (counted !== rows) throw new Error(`${mode}: expected ${rows} rows, got ${counted}`);
  const m: Measurement = { mode, rows, seconds, rowsPerSec: rows / seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(m) + '\n');
}

async function serve(rows: number, pageSize: number): Promise<void> {
  const api = await startSampleApi({ rows, pageSize, rowPool: ROW_POOL });
  process.stdout.write(api.url + '\n');
}

function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [RUN_TS, __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c) => (out += String(c)));
    proc.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

async function startServer(rows: number, pageSize: number): Promise<{ url: string; stop: () => void }> {
  const proc = spawn(process.execPath, [RUN_TS, __filename, '--serve', String(rows), '--page-size', String(pageSize)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.once('data', (c) => resolve(String(c).trim()));
    proc.once('exit', (code) => reject(new Error(`sample API exited ${code}`)));
  });
  return { url, stop: () => proc.kill('SIGTERM') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const pageSize = Number(arg('page-size', '5000'));
  if (process.argv.includes('--serve')) return serve(Number(arg('serve', '0')), pageSize);
  if (process.argv.includes('--worker')) return worker(arg('worker', ''), arg('url', ''), Number(arg('rows', '0')), pageSize);
  const sizes = arg('rows', '1000000,10000000').split(',').map(Number);
  const repeats = Number(arg('repeats', '1'));
  console.log(`ingestion benchmark: page size ${pageSize}, ${repeats} repeat(s), node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(
    `  rate limit ${BENCH_RATE_LIMIT.per_second} req/s (burst ${BENCH_RATE_LIMIT.burst}), raw parts of ${BENCH_RAW_PART_ROWS} rows, ` +
      `API in its own process serving ${ROW_POOL} pre-serialised rows with ids spliced in`,
  );
  for (const rows of sizes) {
    const server = await startServer(rows, pageSize);
    try {
      const modes = rows === Math.min(...sizes) ? ['http-read', 'naive', 'ingest'] : ['http-read', 'ingest'];
      const results: Record<string, Measurement[]> = {};
      for (let r = 0; r < repeats; r += 1) {
        for (const mode of modes) {
          const m = JSON.parse(await child(['--worker', mode, '--url', server.url, '--rows', String(rows), '--page-size', String(pageSize)])) as Measurement;
          (results[mode] ??= []).push(m);
        }
      }
      const base = median(results['http-read'].map((m) => m.rowsPerSec));
      for (const mode of modes) {
        const rps = median(results[mode].map((m) => m.rowsPerSec));
        const rss = median(results[mode].map((m) => m.peakRssMb));
        const secs = median(results[mode].map((m) => m.seconds));
        console.log(
          `${String(rows).padStart(9)} rows  ${mode.padEnd(9)}  ${Math.round(rps).toLocaleString('en-US').padStart(9)} rows/s  ` +
            `${secs.toFixed(1).padStart(6)} s  peak RSS ${rss.toFixed(0).padStart(5)} MB  ${(rps / base).toFixed(2)}x http-read`,
        );
      }
      const ingest = results.ingest;
      const ok = median(ingest.map((m) => m.rowsPerSec)) >= 100_000 && median(ingest.map((m) => m.peakRssMb)) < 256;
      console.log(`${String(rows).padStart(9)} rows  targets (>= 100k rows/s, peak RSS < 256 MB): ${ok ? 'met' : 'NOT met'}  (load now ${os.loadavg()[0].toFixed(1)})`);
    } finally {
      server.stop();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
