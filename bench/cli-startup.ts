/**
 * How long `mlstack` takes to answer before doing any work: the median wall time of fresh processes
 * running `node bin/mlstack.js --help` (target: under 0.3 s) and `node bin/mlstack.js config validate`
 * (which loads and checks the config, zod included), beside `node -e 0` as the floor and `--help`
 * through tsx's require hook (what bin/mlstack.js ran before bin/ts-require.js), interleaved in the
 * same run so all of them see the same machine load.
 *
 *   node bin/run-ts.js bench/cli-startup.ts [--runs 15]
 */
import { parseArgs } from 'node:util';
import { timeCommand } from './lib/run-node';
import { median } from './lib/stats';

const TARGET_HELP_MS = 300;

export interface StartupCase {
  name: string;
  args: string[];
}

// The same program through tsx's require hook, which bin/mlstack.js used before bin/ts-require.js.
const VIA_TSX = "require('tsx/cjs'); require('./runtime/cli/main.ts').main(['node', 'mlstack', '--help']).then((code) => (process.exitCode = code));";

export const STARTUP_CASES: readonly StartupCase[] = [
  { name: 'node -e 0 (floor)', args: ['-e', '0'] },
  { name: 'mlstack --help', args: ['bin/mlstack.js', '--help'] },
  { name: 'mlstack config validate', args: ['bin/mlstack.js', 'config', 'validate'] },
  { name: 'mlstack --help via tsx', args: ['-e', VIA_TSX] },
];

/** Median milliseconds per case over `runs` rounds; each round runs every case once, in order. */
export async function benchCliStartup(runs: number, cases: readonly StartupCase[] = STARTUP_CASES): Promise<Map<string, number>> {
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  // One untimed round first: tsx fills its transpile cache, as any earlier run on this checkout would have.
  for (const c of cases) await timeCommand(process.execPath, c.args, process.env);
  for (let round = 0; round < runs; round++) {
    for (const c of cases) times.get(c.name)!.push(await timeCommand(process.execPath, c.args, process.env));
  }
  return new Map([...times].map(([name, ms]) => [name, median(ms)]));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs "${values.runs}": expected a positive integer`);
  const medians = await benchCliStartup(runs);
  const floor = medians.get(STARTUP_CASES[0].name)!;
  console.log(`CLI start-up, median of ${runs} fresh processes (wall time)`);
  for (const [name, ms] of medians) {
    const over = name === STARTUP_CASES[0].name ? '' : `  (+${(ms - floor).toFixed(0)} ms over the floor)`;
    console.log(`  ${name.padEnd(26)} ${(ms / 1000).toFixed(3)} s${over}`);
  }
  const help = medians.get('mlstack --help')!;
  console.log(`  --help target: under ${TARGET_HELP_MS / 1000} s: ${help < TARGET_HELP_MS ? 'met' : 'NOT met'}`);
}

if (require.main === module || process.argv[1] === __filename) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exitCode = 1;
  });
}
