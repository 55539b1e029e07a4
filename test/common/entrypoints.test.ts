/**
 * runMain in the containers: an entrypoint started as its image starts it (a child process) with a bad
 * input exits with the catalogue's exit code and prints one line, `<name>: <message>`.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ERROR_CODES } from '../../runtime/common/errors';
import { ENV } from '../../runtime/contract/env';
import { makeTempDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');

/** `node bin/run-ts.js <entry> ...args` with only `vars` (and PATH) set. */
function start(entry: string, args: string[], vars: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run-ts.js'), path.join(ROOT, entry), ...args], {
    cwd: makeTempDir('mlstack-entry-'),
    env: { PATH: process.env.PATH, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('container entrypoints report through runMain', () => {
  it.each([
    ['serving, a bad worker count', 'runtime/serving/entrypoint.ts', ['serve'], { [ENV.workers]: 'many' }, `mlstack-serve: ${ENV.workers}="many" must be a positive integer or "auto"`],
    ['serving, a command it does not run', 'runtime/serving/entrypoint.ts', ['train'], {}, 'mlstack-serve: usage: <image> serve (got "train"); the serving image only serves'],
    ['ingestion, an unknown cloud', 'runtime/ingestion/entrypoint.ts', [], { [ENV.cloud]: 'mars' }, `mlstack-ingest: unknown ${ENV.cloud} "mars": expected one of local, aws, gcp, azure`],
  ])('%s: exits with USAGE\'s code and one line', async (_what, entry, args, vars, line) => {
    const run = await start(entry, args, vars);
    expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({ code: ERROR_CODES.USAGE.exitCode, stdout: '', stderr: `${line}\n` });
  }, 30000);

  it('serving without a model exits with NOT_FOUND\'s code, naming where it looked', async () => {
    const dir = makeTempDir('mlstack-no-model-');
    const run = await start('runtime/serving/entrypoint.ts', ['serve'], { [ENV.sageMakerModelDir]: dir, PORT: '0', [ENV.workers]: '1', [ENV.logLevel]: 'silent' });
    expect(run.code).toBe(ERROR_CODES.NOT_FOUND.exitCode);
    expect(run.stderr.split('\n').filter((l) => l.startsWith('mlstack-serve: '))).toEqual([`mlstack-serve: no model package in ${dir}: no metadata.json there or up to 3 folders below`]);
  }, 30000);
});
