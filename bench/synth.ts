/**
 * cdk synth of the AWS stacks (MlStack-<env>-registry and MlStack-<env> per
 * environment with an aws section, eight with the shipped config; cdk-nag
 * included): wall time and peak memory, median of fresh `node` processes running
 * infra/aws/app.ts (what cdk.json's "app" starts). The baseline is the same
 * process loading tsx only, measured in the same command. When
 * bench/synth-cdktf.ts exists, the cdktf synth (GCP + Azure) is measured too
 * and printed beside it.
 *
 *   node bin/run-ts.js bench/synth.ts [--runs 3] [--cli]
 *   --cli also times `npx cdk synth --quiet` once (CLI start-up included).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './lib/stats';
import { runAgainstBaseline, timeCommand } from './lib/run-node';

const ROOT = path.resolve(__dirname, '..');
const TARGET_MS = 10_000;

export interface SynthBench {
  medianMs: number;
  /** Median CPU time (only measured by this file's runs). */
  medianCpuMs?: number;
  peakRssMb: number;
  runsMs: number[];
  baselineMs: number;
  stacks: number;
}

export async function benchCdkSynth(options: { runs?: number } = {}): Promise<SynthBench> {
  const runs = options.runs ?? 3;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-cdk-'));
  try {
    const env = { ...process.env, CDK_OUTDIR: outdir };
    const app = path.join(ROOT, 'infra', 'aws', 'app.ts');
    const { runs: synth, baselineMs: baseline } = await runAgainstBaseline(app, env, runs);
    return {
      medianMs: median(synth.map((r) => r.ms)),
      medianCpuMs: median(synth.map((r) => r.cpuMs)),
      peakRssMb: Math.max(...synth.map((r) => r.maxRssMb)),
      runsMs: synth.map((r) => r.ms),
      baselineMs: median(baseline),
      stacks: fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json')).length,
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

const timeCli = (outdir: string): Promise<number> => timeCommand('npx', ['cdk', 'synth', '--quiet', '--output', outdir], { ...process.env, CI: '1' });

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsArg = args.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 3;
  const rows: [string, SynthBench][] = [['cdk (AWS)', await benchCdkSynth({ runs })]];

  const cdktfBench = path.join(__dirname, 'synth-cdktf.ts');
  if (fs.existsSync(cdktfBench)) {
    // require, not import(): tsx's CommonJS hook is what loads .ts here.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { benchCdktfSynth } = require(cdktfBench) as { benchCdktfSynth: (o: { runs?: number }) => Promise<SynthBench> };
    rows.push(['cdktf (GCP+Azure)', await benchCdktfSynth({ runs })]);
  }

  console.log(`synth benchmark, ${runs} runs each, fresh node + tsx per run, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
  console.log(`${'tool'.padEnd(20)}${'stacks'.padStart(7)}${'median'.padStart(10)}${'peak RSS'.padStart(11)}${'baseline'.padStart(10)}${'x base'.padStart(8)}  runs`);
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(20)}${String(r.stacks).padStart(7)}${fmt(r.medianMs).padStart(10)}${`${r.peakRssMb.toFixed(0)} MB`.padStart(11)}` +
        `${fmt(r.baselineMs).padStart(10)}${`${(r.medianMs / r.baselineMs).toFixed(1)}x`.padStart(8)}  ${r.runsMs.map(fmt).join(', ')}`,
    );
  }
  const cpu = rows[0][1].medianCpuMs;
  if (cpu !== undefined) console.log(`cdk (AWS) median CPU time ${fmt(cpu)} (user + system; wall time includes waiting for a shared CPU)`);
  if (rows.length === 2) console.log(`cdk/cdktf median ratio: ${(rows[0][1].medianMs / rows[1][1].medianMs).toFixed(2)}x`);
  const aws = rows[0][1];
  console.log(`AWS target < ${fmt(TARGET_MS)}: ${aws.medianMs < TARGET_MS ? 'met' : 'MISSED'}`);
  if (args.includes('--cli')) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-cdk-cli-'));
    try {
      const cliMs = await timeCli(outdir);
      console.log(`npx cdk synth --quiet: ${fmt(cliMs)} (one run, CLI start-up included); cli/direct = ${(cliMs / aws.medianMs).toFixed(1)}x`);
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
