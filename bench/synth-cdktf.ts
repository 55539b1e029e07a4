/**
 * cdktf synth of all eight stacks (gcp-<env>, azure-<env>): wall time and peak memory.
 * Each run is a fresh `node` process running infra/cdktf/main.ts (what `cdktf synth`
 * starts), so module loading counts; the baseline is the same process doing nothing
 * but loading tsx, measured in the same command.
 *
 *   node bin/run-ts.js bench/synth-cdktf.ts [--runs 5] [--cli]
 *   --cli also times `npx cdktf synth` once (the CLI adds its own start-up).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './lib/stats';
import { runAgainstBaseline, timeCommand } from './lib/run-node';

const ROOT = path.resolve(__dirname, '..');
const TARGET_MS = 10_000;

export interface CdktfSynthBench {
  medianMs: number;
  peakRssMb: number;
  runsMs: number[];
  /** Median of the same process loading tsx only. */
  baselineMs: number;
  stacks: number;
}

const timeCli = (outdir: string): Promise<number> => timeCommand('npx', ['cdktf', 'synth', '--output', outdir], { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1' });

/** Synthesizes the eight stacks `runs` times in fresh processes; the AWS bench imports this. */
export async function benchCdktfSynth(options: { runs?: number } = {}): Promise<CdktfSynthBench> {
  const runs = options.runs ?? 5;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-cdktf-'));
  try {
    const env = { ...process.env, CDKTF_OUTDIR: outdir };
    const main = path.join(ROOT, 'infra', 'cdktf', 'main.ts');
    const { runs: synth, baselineMs: baseline } = await runAgainstBaseline(main, env, runs);
    const stacks = fs.readdirSync(path.join(outdir, 'stacks')).length;
    return {
      medianMs: median(synth.map((r) => r.ms)),
      peakRssMb: Math.max(...synth.map((r) => r.maxRssMb)),
      runsMs: synth.map((r) => r.ms),
      baselineMs: median(baseline),
      stacks,
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsArg = args.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 5;
  const result = await benchCdktfSynth({ runs });
  const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`cdktf synth, ${result.stacks} stacks (node + tsx, deep provider imports), ${runs} runs`);
  console.log(`  median wall      ${fmt(result.medianMs)}  (runs: ${result.runsMs.map(fmt).join(', ')})`);
  console.log(`  peak RSS         ${result.peakRssMb.toFixed(0)} MB`);
  console.log(`  baseline         ${fmt(result.baselineMs)}  (node + tsx, no app); synth/baseline = ${(result.medianMs / result.baselineMs).toFixed(1)}x`);
  console.log(`  target           < ${fmt(TARGET_MS)}: ${result.medianMs < TARGET_MS ? 'met' : 'MISSED'}`);
  if (args.includes('--cli')) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-cdktf-cli-'));
    try {
      const cliMs = await timeCli(outdir);
      console.log(`  npx cdktf synth  ${fmt(cliMs)}  (one run; CLI start-up included); cli/direct = ${(cliMs / result.medianMs).toFixed(1)}x`);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  }
}

if (require.main === module || process.argv[1] === __filename) {
  main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
