/**
 * Serving benchmark: our server (node:http + lean forward pass, one worker per core) beside the seeds'
 * reference design (FastAPI + uvicorn + scikit-learn, bench/reference/server.py), both serving an
 * adult-shaped MLP with hidden layers 64-64, and beside a floor (bench/reference/floor.js: bare node:http
 * answering a constant of our response's size with as many processes), all measured in the same run.
 *
 *   apt-get install -y python3-fastapi python3-uvicorn python3-sklearn python3-pandas wrk   (once; the bench installs nothing)
 *   node bin/run-ts.js bench/serve.ts [--seconds 5] [--runs 3] [--workers auto] [--memory-seconds 60] [--memory-only] [--data ../shared/data/adult.csv]
 *
 * Prints, per cell (concurrency 1, 16 and 64; single rows and 100-row batches), the median over --runs
 * interleaved runs of requests/s, p50 and p99 for ours, the floor and the reference, and the ratio
 * ours/reference; then the RSS of our server (all its processes) over a run at twice the rated load
 * (rated: 16 connections, the p99 < 5 ms rating; the memory run uses 32), with the RSS at every tenth of the
 * run so a sawtooth can be told from a climb; --memory-only skips the latency cells. Load comes from wrk when
 * installed, else from a Node keep-alive generator (then every server shares the generator's CPU cost alike).
 */
import * as tf from '../runtime/model/tf';
import { parse } from 'csv-parse/sync';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeModelPackage, type ModelMetadata } from '../runtime/model/package';
import { csvCell } from '../runtime/serving/input';
import { LocalObjectStore } from '../runtime/storage/local-store';
import { fitPreprocessing } from '../runtime/model/preprocessing';
import { usableCores } from '../runtime/serving/cluster';
import { freePort, waitForPort } from '../test/helpers/moto';

const repo = path.resolve(__dirname, '..');
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const SECONDS = Number(flag('--seconds') ?? 5);
const RUNS = Number(flag('--runs') ?? 3);
const WORKERS = flag('--workers') ?? 'auto';
const MEMORY_SECONDS = Number(flag('--memory-seconds') ?? 60);
const MEMORY_ONLY = process.argv.includes('--memory-only');
const DATA = path.resolve(flag('--data') ?? path.join(repo, '..', 'shared', 'data', 'adult.csv'));
const PYTHON = '/usr/bin/python3';
const TARGET = 'income';

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx answers plus socket errors (wrk counts a reply slower than 2 s as a timeout). */
  errors: number;
  detail?: string;
}

async function buildPackage(dir: string, rows: Record<string, unknown>[], features: string[]): Promise<void> {
  await tf.setBackend('cpu');
  const preprocessing = fitPreprocessing(rows, { features });
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [preprocessing.outputDim], units: 64, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 64, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  const metadata: ModelMetadata = {
    format_version: 1, project: 'bench', task: 'binary', features, target: TARGET, classes: ['<=50K', '>50K'], positive_class: '>50K',
    threshold: 0.5, input_dim: preprocessing.outputDim,
    layers: [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }, { units: 1, activation: 'sigmoid' }],
    created_at: new Date().toISOString(), run_id: 'bench', data_hash: '', config_hash: '', code_version: 'bench', backend: 'cpu',
  };
  await writeModelPackage(new LocalObjectStore(dir), '', { model, preprocessing, metadata, metrics: {} });
}

async function waitReady(url: string, proc: ChildProcess, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${url}: server exited with ${proc.exitCode}`);
    const ok = await fetch(url).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

function hasWrk(): boolean {
  return spawnSync('sh', ['-c', 'command -v wrk']).status === 0;
}

/** wrk in a child process (async, so the RSS sampler keeps running during the memory run). */
async function wrkMeasure(url: string, body: string, connections: number, seconds: number): Promise<Measurement> {
  const script = path.join(os.tmpdir(), `mlstack-bench-${process.pid}.lua`);
  fs.writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`);
  const out = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    // One wrk thread: it drives over 25,000 req/s here, and on 2 cores a second one only takes CPU from the server measured.
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  if (out.status !== 0) throw new Error(`wrk failed: ${out.stderr}`);
  const ms = (label: string): number => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out.stdout);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out.stdout)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out.stdout);
  const errs = socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, p50: ms('50'), p99: ms('99'), errors: non2xx + errs, detail: errs || non2xx ? `non-2xx ${non2xx}, ${socketErrors?.[0] ?? ''}` : undefined };
}

/** Closed-loop keep-alive load: `connections` loops, each sends the next request when the last answered. */
async function nodeMeasure(url: string, body: string, connections: number, seconds: number): Promise<Measurement> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t = performance.now();
      const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(performance.now() - t);
          resolve();
        });
      });
      req.on('error', () => (errors++, resolve()));
      req.end(body);
    });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < end) await one();
  }));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { rps: latencies.length / seconds, p50: q(0.5), p99: q(0.99), errors };
}

/** RSS of a process and all its descendants (the serving primary and its workers). */
function treeRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  let mb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const children = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    for (const child of children ? children.split(' ') : []) mb += treeRssMb(Number(child));
  }
  return mb;
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function medianOf(ms: Measurement[]): Measurement {
  const errors = ms.reduce((a, m) => a + m.errors, 0);
  const details = ms.map((m) => m.detail).filter(Boolean);
  return { rps: median(ms.map((m) => m.rps)), p50: median(ms.map((m) => m.p50)), p99: median(ms.map((m) => m.p99)), errors, detail: details.length ? details.join('; ') : undefined };
}

const cell = (m: Measurement | undefined): string =>
  m ? `${f(m.rps, 0).padStart(9)} ${f(m.p50).padStart(7)} ${f(m.p99).padStart(7)} ${String(m.errors).padStart(4)}` : `${'n/a'.padStart(9)} ${''.padStart(7)} ${''.padStart(7)} ${''.padStart(4)}`;

function slopePerMinute(samples: { t: number; mb: number }[]): number {
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mm = samples.reduce((a, s) => a + s.mb, 0) / n;
  const cov = samples.reduce((a, s) => a + (s.t - mt) * (s.mb - mm), 0);
  const vt = samples.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return (cov / vt) * 60;
}

const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

async function main(): Promise<void> {
  if (!fs.existsSync(DATA)) throw new Error(`adult.csv not found at ${DATA}: pass --data <path>`);
  const reference = spawnSync(PYTHON, ['-c', 'import fastapi, uvicorn, sklearn, pandas']).status === 0;
  if (!reference) process.stderr.write(`reference server skipped: ${PYTHON} lacks fastapi/uvicorn/sklearn/pandas (apt-get install -y python3-fastapi python3-uvicorn python3-sklearn python3-pandas)\n`);
  const records = parse(fs.readFileSync(DATA, 'utf8'), { columns: true, trim: true }) as Record<string, string>[];
  const rows = records.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, csvCell(v)])));
  const features = Object.keys(rows[0]).filter((c) => c !== TARGET);
  const inputs = rows.map((r) => Object.fromEntries(features.map((k) => [k, r[k]])));
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-model-'));
  await buildPackage(modelDir, rows, features);

  const ourPort = await freePort();
  const ours = spawn(process.execPath, ['bin/run-ts.js', 'runtime/serving/entrypoint.ts', 'serve'], {
    cwd: repo,
    env: { ...process.env, MLSTACK_MODEL: modelDir, PORT: String(ourPort), MLSTACK_LOG_LEVEL: 'warn', MLSTACK_WORKERS: WORKERS },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const refPort = await freePort();
  const ref = reference && !MEMORY_ONLY
    ? spawn(PYTHON, [path.join(repo, 'bench/reference/server.py'), DATA, String(refPort)], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
    : undefined;
  const floors: ChildProcess[] = [];
  try {
    await waitReady(`http://127.0.0.1:${ourPort}/ping`, ours);
    if (ref) {
      await waitForPort(refPort, 180_000, ref);
      await waitReady(`http://127.0.0.1:${refPort}/ping`, ref);
    }
    const shapes = [
      { name: 'single row', rows: 1, body: JSON.stringify(inputs[0]) },
      { name: '100-row batch', rows: 100, body: JSON.stringify({ instances: inputs.slice(0, 100) }) },
    ];
    const cellShapes = MEMORY_ONLY ? [] : shapes;
    // The floor answers with as many bytes as ours does for each shape, from as many processes.
    const responseBytes = await Promise.all(
      cellShapes.map(async (s) => (await fetch(`http://127.0.0.1:${ourPort}/invocations`, { method: 'POST', body: s.body, headers: { 'Content-Type': 'application/json' } })).text()),
    ).then((texts) => texts.map((t) => Buffer.byteLength(t)));
    const workers = WORKERS === 'auto' ? usableCores() : Number(WORKERS);
    const floorPorts = await Promise.all(cellShapes.map(() => freePort()));
    floors.push(...cellShapes.map((_, i) =>
      spawn(process.execPath, [path.join(repo, 'bench/reference/floor.js'), String(floorPorts[i]), String(workers), String(responseBytes[i])], { stdio: ['ignore', 'ignore', 'inherit'] }),
    ));
    await Promise.all(floorPorts.map((port, i) => waitForPort(port, 30_000, floors[i])));

    const useWrk = hasWrk();
    const measure = (url: string, body: string, c: number, s: number) => (useWrk ? wrkMeasure(url, body, c, s) : nodeMeasure(url, body, c, s));
    console.log(
      `serving bench: ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${workers} worker(s), ` +
        `${MEMORY_ONLY ? 'memory run only' : `median of ${RUNS} interleaved runs of ${SECONDS} s per cell`}, generator: ${useWrk ? 'wrk' : 'node keep-alive'}`,
    );
    console.log(`model: adult MLP ${features.length} features -> 64 -> 64 -> 1; reference: FastAPI + uvicorn + scikit-learn MLP (64, 64); floor: bare node:http, constant answer`);
    if (!MEMORY_ONLY) console.log('shape          conc |      ours req/s  p50 ms  p99 ms  err |     floor req/s  p50 ms  p99 ms  err | reference req/s  p50 ms  p99 ms  err | ours/ref');
    for (const [si, shape] of cellShapes.entries()) {
      for (const c of [1, 16, 64]) {
        const runs: { a: Measurement; fl: Measurement; b?: Measurement }[] = [];
        for (let r = 0; r < RUNS; r++) {
          const a = await measure(`http://127.0.0.1:${ourPort}/invocations`, shape.body, c, SECONDS);
          const fl = await measure(`http://127.0.0.1:${floorPorts[si]}/`, shape.body, c, SECONDS);
          const b = ref ? await measure(`http://127.0.0.1:${refPort}/predict`, shape.body, c, SECONDS) : undefined;
          runs.push({ a, fl, b });
        }
        const a = medianOf(runs.map((r) => r.a));
        const fl = medianOf(runs.map((r) => r.fl));
        const b = ref ? medianOf(runs.map((r) => r.b as Measurement)) : undefined;
        console.log(`${shape.name.padEnd(14)} ${String(c).padStart(4)} |      ${cell(a)} |      ${cell(fl)} |      ${cell(b)} | ${b ? `${f(a.rps / b.rps, 1)}x` : 'n/a'}`);
        for (const [who, m] of [['ours', a], ['reference', b]] as const) if (m?.detail) console.log(`    ${who} errors: ${m.detail}`);
      }
    }
    if (ref) ref.kill('SIGTERM');
    for (const fl of floors) fl.kill('SIGTERM');
    if (MEMORY_SECONDS > 0) {
      const samples: { t: number; mb: number }[] = [];
      const started = Date.now();
      const sampler = setInterval(() => samples.push({ t: (Date.now() - started) / 1000, mb: treeRssMb(ours.pid as number) }), 1000);
      const load = await measure(`http://127.0.0.1:${ourPort}/invocations`, shapes[0].body, 32, MEMORY_SECONDS);
      clearInterval(sampler);
      const steady = samples.filter((s) => s.t >= 5);
      const mbs = steady.map((s) => s.mb);
      console.log(
        `memory, ${MEMORY_SECONDS} s at 32 connections (2x rated 16), single rows: ${f(load.rps, 0)} req/s, p99 ${f(load.p99)} ms, errors ${load.errors}; ` +
          `RSS of all ${workers + (workers > 1 ? 1 : 0)} processes at 5 s ${f(mbs[0], 1)} MB, end ${f(mbs[mbs.length - 1], 1)} MB, min ${f(Math.min(...mbs), 1)} MB, max ${f(Math.max(...mbs), 1)} MB, slope ${f(slopePerMinute(steady))} MB/min`,
      );
      const trace = Array.from({ length: 10 }, (_, i) => steady[Math.round(((i + 1) * (steady.length - 1)) / 10)]);
      if (steady.length > 0) console.log(`RSS trace (s: MB): ${trace.map((s) => `${f(s.t, 0)}: ${f(s.mb, 0)}`).join(', ')}`);
    }
  } finally {
    ours.kill('SIGTERM');
    ref?.kill('SIGTERM');
    for (const fl of floors) fl.kill('SIGTERM');
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench/serve failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
