/**
 * What `mlstack train` prints into a pipe, run as a person would (bin/mlstack.js in a child process, so
 * pino's writes to fd 2 are seen): one line per epoch, the test metrics once, and no JSON logs unless
 * MLSTACK_LOG_LEVEL asks for them; the CLI logs at warn by default, containers at info.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createLogger, DEFAULT_LOG_LEVEL, logLevelFor } from '../../runtime/common/logger';
import { churnCsv } from '../training/synthetic';
import { makeTempDir } from '../helpers/tmp';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/mlstack.js');

describe('log levels', () => {
  it('warn on the CLI and info in containers unless MLSTACK_LOG_LEVEL says otherwise', () => {
    expect(DEFAULT_LOG_LEVEL).toEqual({ cli: 'warn', container: 'info' });
    expect(logLevelFor('cli', {})).toBe('warn');
    expect(logLevelFor('container', {})).toBe('info');
    expect(logLevelFor('cli', { MLSTACK_LOG_LEVEL: 'debug' })).toBe('debug');
    expect(logLevelFor('container', { MLSTACK_LOG_LEVEL: 'silent' })).toBe('silent');
    expect(logLevelFor('container', { MLSTACK_LOG_LEVEL: '' })).toBe('info');
    expect(createLogger('x', 'cli', {}).level).toBe('warn');
    expect(createLogger('x', 'container', {}).level).toBe('info');
    expect(createLogger('x', 'cli', { MLSTACK_LOG_LEVEL: 'info' }).level).toBe('info');
  });
});

function gpuPackageInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}

describe('mlstack train into a pipe', () => {
  const dir = makeTempDir('mlstack-pipe-');
  const data = path.join(dir, 'churn.csv');
  beforeAll(() => fs.writeFileSync(data, churnCsv(900, 11)));

  /** Runs `mlstack train` with stdout and stderr both pipes; MLSTACK_LOG_LEVEL only when given. */
  async function train(epochs: number, logLevel?: string): Promise<{ stdout: string; stderr: string }> {
    const env = { ...process.env };
    delete env.MLSTACK_LOG_LEVEL;
    if (logLevel) env.MLSTACK_LOG_LEVEL = logLevel;
    const args = [BIN, 'train', '--env', 'dev', '--cloud', 'local', '--workdir', path.join(dir, `wd-${epochs}-${logLevel ?? 'default'}`), '--data', data, '--epochs', String(epochs)];
    return run(process.execPath, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
  }

  it('prints one line per epoch, the test metrics once, and no logs by default', async () => {
    const { stdout, stderr } = await train(3);
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('mlstack-epoch '))).toHaveLength(3);
    // SageMaker's scrape lines belong to its training container only.
    expect(lines.filter((l) => l.startsWith('metrics '))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('mlstack-test '))).toEqual([]);
    const auc = /^ {2}test: auc (\S+)/m.exec(stdout)?.[1];
    expect(auc).toBeDefined();
    expect((stdout + stderr).split(auc as string)).toHaveLength(2);
    // Three epoch lines, then the summary (run, test, package, report): nothing else.
    expect(lines).toHaveLength(3 + 4);
    expect(stderr).not.toMatch(/"level":/);
    expect(stderr).not.toMatch(/Cannot find module/);
  });

  it('shows the logs MLSTACK_LOG_LEVEL asks for; the backend choice reads as information', async () => {
    const { stderr } = await train(1, 'info');
    const logs = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logs.map((l) => l.msg)).toContain('training finished');
    const backend = logs.find((l) => /backend/.test(l.msg));
    expect(backend?.level).toBe(30);
    if (!gpuPackageInstalled()) expect(backend?.msg).toMatch(/^GPU backend not installed; using (tensorflow|wasm|cpu)$/);
    expect(stderr).not.toMatch(/Cannot find module/);
  });
});
