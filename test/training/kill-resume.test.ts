/**
 * A real training process killed with SIGKILL resumes from its last checkpoint and reaches the
 * quality of an uninterrupted run. The child runs the container entrypoint in a temp /opt/ml.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { train } from '../../runtime/training';
import { latestCheckpointEpoch } from '../../runtime/training/checkpoint';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const repo = path.resolve(__dirname, '..', '..');
const hyper = { epochs: 10, batch_size: 64, dropout: 0, early_stopping_patience: 20 };

function startJob(root: string): { proc: ChildProcess; stdout: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [path.join(repo, 'bin', 'run-ts.js'), path.join(repo, 'runtime', 'training', 'entrypoint.ts'), 'train'], {
    cwd: repo,
    env: { ...process.env, MLSTACK_SM_ROOT: root, TRAINING_JOB_NAME: 'kill-1', MLSTACK_LOG_LEVEL: 'warn', MLSTACK_CONFIG_DIR: path.join(repo, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, stdout: () => `${out}\n--- stderr ---\n${err}`, exited };
}

async function waitFor(condition: () => Promise<boolean>, what: string, job: { proc: ChildProcess; stdout: () => string }, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    if (job.proc.exitCode !== null) throw new Error(`training exited (${job.proc.exitCode}) before ${what}:\n${job.stdout()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('resume after SIGKILL (real process)', () => {
  it('resumes from the last checkpoint and matches an uninterrupted run', async () => {
    const root = makeTempDir('mlstack-kill-');
    fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
    fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
    fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(Object.fromEntries(Object.entries(hyper).map(([k, v]) => [k, String(v)]))));
    const csv = churnCsv(3000, 11);
    fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'part-0.csv'), csv);
    const checkpoints = new LocalObjectStore(path.join(root, 'checkpoints'));

    const first = startJob(root);
    await waitFor(async () => ((await latestCheckpointEpoch(checkpoints, '', 'kill-1')) ?? 0) >= 2, 'the second checkpoint', first);
    first.proc.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    const killedAt = (await latestCheckpointEpoch(checkpoints, '', 'kill-1')) as number;
    expect(killedAt).toBeLessThan(hyper.epochs);
    expect(fs.existsSync(path.join(root, 'model', 'metadata.json'))).toBe(false);

    const second = startJob(root);
    expect(await second.exited).toBe(0);
    const line = second.stdout().split('\n').find((l) => l.startsWith('mlstack-result '));
    expect(line).toBeDefined();
    const resumed = JSON.parse(line!.slice('mlstack-result '.length));
    expect(resumed.resumedFromEpoch).toBeGreaterThanOrEqual(killedAt);
    expect(resumed.epochs).toBe(hyper.epochs);

    const store = new LocalObjectStore(makeTempDir('mlstack-straight-'));
    await store.put('d/part-0.csv', csv);
    const straight = await train({
      project: loadProjectConfig(path.join(repo, 'config')),
      store,
      dataKeys: ['d/part-0.csv'],
      runId: 'straight',
      modelsPrefix: 'models/',
      checkpointsPrefix: 'checkpoints/',
      progress: 'none',
      overrides: hyper,
    });
    expect(resumed.dataHash).toBe(straight.dataHash);
    expect(Math.abs(resumed.metrics.auc - straight.metrics.auc)).toBeLessThan(0.01);
    expect(Math.abs(resumed.metrics.log_loss - straight.metrics.log_loss)).toBeLessThan(0.01);
  });
});
