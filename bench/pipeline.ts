/**
 * bench/pipeline: wall time and peak memory of `npm start` (mlstack pipeline --env dev --cloud local),
 * beside a baseline measured in the same run: the CLI's own start-up (`mlstack config validate`).
 * Targets: under 2 minutes and under 1 GiB on 2 cores.
 *   node bin/run-ts.js bench/pipeline.ts [--runs 3]
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './lib/stats';

const ROOT = path.resolve(__dirname, '..');
const HOOK = path.join(__dirname, 'lib', 'peak-rss-hook.js');

interface Measured {
  seconds: number;
  peakRssMb: number;
  stdout: string;
}

/** Runs the CLI in a child process; the preloaded hook records the child's peak RSS when it exits. */
export function runCli(args: string[]): Promise<Measured> {
  const rssFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-')), 'rss');
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', HOOK, path.join(ROOT, 'bin', 'mlstack.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, MLSTACK_PEAK_RSS_FILE: rssFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`mlstack ${args.join(' ')} exited with ${code}`));
      const peakKb = Number(fs.readFileSync(rssFile, 'utf8'));
      resolve({ seconds, peakRssMb: peakKb / 1024, stdout });
    });
  });
}

export async function benchPipeline(runs: number): Promise<void> {
  const baseline: Measured[] = [];
  const pipeline: Measured[] = [];
  for (let i = 0; i < runs; i++) {
    baseline.push(await runCli(['config', 'validate']));
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-workdir-'));
    pipeline.push(await runCli(['pipeline', '--env', 'dev', '--cloud', 'local', '--json', '--workdir', workdir]));
    fs.rmSync(workdir, { recursive: true, force: true });
  }
  const summary = JSON.parse(pipeline[pipeline.length - 1].stdout.trim().split('\n').pop()!);
  const b = { s: median(baseline.map((m) => m.seconds)), mb: median(baseline.map((m) => m.peakRssMb)) };
  const p = { s: median(pipeline.map((m) => m.seconds)), mb: median(pipeline.map((m) => m.peakRssMb)) };
  console.log(`bench/pipeline (${runs} runs, medians; ${os.cpus().length} cores)`);
  console.log(`  baseline  mlstack config validate   ${b.s.toFixed(2)} s   peak RSS ${b.mb.toFixed(0)} MB`);
  console.log(`  npm start (pipeline dev/local)     ${p.s.toFixed(2)} s   peak RSS ${p.mb.toFixed(0)} MB   (${(p.s / b.s).toFixed(1)}x baseline time)`);
  console.log(`  targets: < 120 s (${p.s < 120 ? 'met' : 'MISSED'}), < 1024 MB (${p.mb < 1024 ? 'met' : 'MISSED'})`);
  console.log(`  last run: ${summary.rows.fetched} rows fetched, AUC ${summary.metrics.auc?.toFixed(4)}, invoke p50 ${summary.latency_ms.p50.toFixed(2)} ms p99 ${summary.latency_ms.p99.toFixed(2)} ms`);
  console.log(`  stage seconds: ${JSON.stringify(summary.stage_seconds)}`);
}

if (require.main === module || process.argv[1] === __filename) {
  const i = process.argv.indexOf('--runs');
  benchPipeline(i > 0 ? Number(process.argv[i + 1]) : 3).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
