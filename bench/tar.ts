/**
 * model.tar.gz benchmark: the hand-written tar code this project used to carry (bench/baseline/hand-tar.ts,
 * whole archive in memory) beside runtime/model/archive.ts (tar-stream, streaming), on a realistic 20 MB
 * package: float32 weights (which barely compress), model.json, preprocessing.json, metadata, metrics, report.
 *
 *   node bin/run-ts.js bench/tar.ts [--runs 7] [--mb 20]
 *
 * Each pack (folder -> model.tar.gz) and unpack (model.tar.gz -> folder) runs in a fresh process, old and new
 * interleaved so both see the same load; prints the median milliseconds of the operation itself and the
 * median peak RSS of the process and how much of it the operation added.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractTarGz, packDirectoryToFile } from '../runtime/model/archive';
import * as handTar from './baseline/hand-tar';
import { runTsEntry } from './lib/run-node';
import { median } from './lib/stats';

type Implementation = 'hand-written' | 'tar-stream';
type Operation = 'pack' | 'unpack';

const CHILD = 'MLSTACK_TAR_BENCH_CHILD';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

/** A package folder whose weights make it about `mb` megabytes. */
function writePackage(dir: string, mb: number): void {
  fs.mkdirSync(path.join(dir, 'model'), { recursive: true });
  const weights = new Float32Array((mb * 1024 * 1024) / 4);
  // Trained weights have full mantissas: small values, but little for gzip to find.
  const noise = new Uint32Array(randomBytes(weights.length * 4).buffer);
  for (let i = 0; i < weights.length; i++) weights[i] = (noise[i] / 2 ** 32 - 0.5) * 0.2;
  fs.writeFileSync(path.join(dir, 'model', 'weights.bin'), Buffer.from(weights.buffer));
  const layers = Array.from({ length: 4 }, (_, i) => ({ class_name: 'Dense', config: { name: `dense_${i}`, units: 512, activation: 'relu' } }));
  fs.writeFileSync(path.join(dir, 'model', 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: { config: { layers } }, weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }));
  const features = Array.from({ length: 120 }, (_, i) => ({ name: `f${i}`, kind: 'categorical', categories: Array.from({ length: 20 }, (_, c) => `value-${c}`) }));
  fs.writeFileSync(path.join(dir, 'preprocessing.json'), JSON.stringify({ format_version: 1, features }));
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ format_version: 1, project: 'bench', run_id: 'bench-run' }));
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify({ auc: 0.9, accuracy: 0.85 }));
  fs.writeFileSync(path.join(dir, 'report.html'), `<html><body>${'<tr><td>row</td></tr>'.repeat(2000)}</body></html>`);
}

async function operate(impl: Implementation, op: Operation, packageDir: string, archive: string, outDir: string): Promise<void> {
  if (impl === 'tar-stream') {
    if (op === 'pack') await packDirectoryToFile(packageDir, archive);
    else await extractTarGz(archive, outDir);
  } else if (op === 'pack') {
    fs.writeFileSync(archive, handTar.packDirectoryTarGz(packageDir));
  } else {
    handTar.extractTarGz(fs.readFileSync(archive), outDir);
  }
}

/**
 * This process's peak RSS in MB. Linux's getrusage maxrss (process.resourceUsage) survives fork and exec, so
 * a child spawned by a parent holding the 20 MB package would report the parent's size; VmHWM belongs to
 * this process image alone.
 */
function peakRssMb(): number {
  const status = fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '';
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024;
}

/** Child mode: one operation; its milliseconds, the RSS before it and the peak go to the file the parent named. */
async function child(spec: string): Promise<void> {
  const { impl, op, packageDir, archive, outDir, resultFile } = JSON.parse(spec) as Record<string, string>;
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  const started = performance.now();
  await operate(impl as Implementation, op as Operation, packageDir, archive, outDir);
  fs.writeFileSync(resultFile, JSON.stringify({ ms: performance.now() - started, rssBeforeMb, peakMb: peakRssMb() }));
}

interface Sample {
  ms: number;
  /** Peak RSS of the whole process. */
  rssMb: number;
  /** Peak RSS minus the RSS just before the operation: what the operation itself added. */
  growthMb: number;
}

async function measure(impl: Implementation, op: Operation, work: string, packageDir: string, archive: string): Promise<Sample> {
  const outDir = fs.mkdtempSync(path.join(work, 'out-'));
  const resultFile = path.join(work, 'result');
  const target = op === 'pack' ? path.join(work, `${impl}.tar.gz`) : archive;
  const spec = JSON.stringify({ impl, op, packageDir, archive: target, outDir, resultFile });
  await runTsEntry(__filename, { ...process.env, [CHILD]: spec }, `${impl} ${op}`);
  const { ms, rssBeforeMb, peakMb } = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as { ms: number; rssBeforeMb: number; peakMb: number };
  const sample = { ms, rssMb: peakMb, growthMb: peakMb - rssBeforeMb };
  fs.rmSync(outDir, { recursive: true, force: true });
  return sample;
}

async function main(): Promise<void> {
  const runs = option('runs', 7);
  const mb = option('mb', 20);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-tar-'));
  try {
    const packageDir = path.join(work, 'package');
    writePackage(packageDir, mb);
    const archive = path.join(work, 'model.tar.gz');
    await packDirectoryToFile(packageDir, archive);
    // Both readers must agree before their speed means anything.
    const check = [fs.mkdtempSync(path.join(work, 'check-')), fs.mkdtempSync(path.join(work, 'check-'))];
    handTar.extractTarGz(fs.readFileSync(archive), check[0]);
    await extractTarGz(archive, check[1]);
    if (!fs.readFileSync(path.join(check[0], 'model', 'weights.bin')).equals(fs.readFileSync(path.join(check[1], 'model', 'weights.bin')))) throw new Error('the two readers disagree');
    const samples = new Map<string, Sample[]>();
    for (let i = 0; i < runs; i++) {
      for (const op of ['pack', 'unpack'] as const) {
        for (const impl of ['hand-written', 'tar-stream'] as const) {
          const key = `${op} ${impl}`;
          samples.set(key, [...(samples.get(key) ?? []), await measure(impl, op, work, packageDir, archive)]);
        }
      }
    }
    const packageMb = fs.statSync(path.join(packageDir, 'model', 'weights.bin')).size / 2 ** 20;
    console.log(`package: ${packageMb.toFixed(1)} MB of weights + JSON/HTML; archive ${(fs.statSync(archive).size / 2 ** 20).toFixed(1)} MB; ${runs} runs each`);
    console.log('operation  implementation  median ms  median peak RSS MB  median RSS added by the operation MB');
    for (const [key, list] of samples) {
      const [op, impl] = key.split(' ');
      const column = (pick: (s: Sample) => number, width: number) => median(list.map(pick)).toFixed(0).padStart(width);
      console.log(`${op.padEnd(10)} ${impl.padEnd(15)} ${column((s) => s.ms, 9)}  ${column((s) => s.rssMb, 18)}  ${column((s) => s.growthMb, 37)}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const spec = process.env[CHILD];
(spec ? child(spec) : main()).catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exitCode = 1;
});
