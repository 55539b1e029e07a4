/**
 * The ingestion image's bundle, run with node from a temp folder without node_modules:
 * one scheduled run against the built-in sample API (loopback) into a local store.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../helpers/tmp';
import { buildIsolatedBundle, containerEnv, startNode } from './bundle-helpers';

let dir: string;

beforeAll(async () => {
  ({ dir } = await buildIsolatedBundle('ingestion'));
}, 120_000);

function listFiles(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(root, f)).isFile());
}

test('`node main.js ingest` writes raw and processed data and prints the result', async () => {
  const workdir = makeTempDir('mlstack-ingest-workdir-');
  const proc = startNode(
    dir,
    ['ingest'],
    containerEnv({ MLSTACK_ENV: 'dev', MLSTACK_CLOUD: 'local', MLSTACK_CONFIG_DIR: path.join(dir, 'config'), MLSTACK_WORKDIR: workdir, MLSTACK_RUN_ID: 'bundle-run' }),
  );
  const { code } = await proc.exited;
  expect({ code, output: code === 0 ? '' : proc.output() }).toEqual({ code: 0, output: '' });
  const resultLine = proc.output().split('\n').find((line) => line.startsWith('{'));
  expect(resultLine).toBeDefined();
  const result = JSON.parse(resultLine as string);
  expect(result.runId ?? result.run_id).toBe('bundle-run');
  const files = listFiles(workdir);
  expect(files.some((f) => f.startsWith('data/raw/') && f.includes('bundle-run'))).toBe(true);
  expect(files.some((f) => f.startsWith('data/processed/') && f.includes('bundle-run') && f.endsWith('.csv'))).toBe(true);
});

test('a bad environment exits 2 naming it', async () => {
  const proc = startNode(dir, ['ingest'], containerEnv({ MLSTACK_ENV: 'nope', MLSTACK_CONFIG_DIR: path.join(dir, 'config') }));
  expect((await proc.exited).code).toBe(2);
  expect(proc.output()).toContain('unknown environment "nope"');
});
