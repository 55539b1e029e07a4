/**
 * `npm run bench [-- name ...]`: runs the benchmarks one after another, each in its own process
 * (so one's memory does not skew the next). Names: pipeline, ingest, train, quality, serve, serve-models, serve-input, forward, synth,
 * cli-startup, install (install runs `npm ci` twice in temporary folders), tar, monitor.
 * Each prints its own figures; run one alone with `node bin/run-ts.js bench/<name>.ts [flags]`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const BENCHMARKS = ['pipeline', 'ingest', 'train', 'quality', 'serve', 'serve-models', 'serve-input', 'forward', 'synth', 'cli-startup', 'install', 'tar', 'monitor'] as const;

function main(): number {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s) ${unknown.join(', ')}: choose from ${BENCHMARKS.join(', ')}`);
    return 2;
  }
  let failed = 0;
  for (const name of asked.length > 0 ? asked : BENCHMARKS) {
    const file = path.join(__dirname, `${name}.ts`);
    if (!fs.existsSync(file)) throw new Error(`bench/${name}.ts is missing`);
    console.log(`\n=== bench/${name}`);
    const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'run-ts.js'), file], { stdio: 'inherit' });
    if (run.status !== 0) failed += 1;
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
