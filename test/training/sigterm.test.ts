/** SageMaker's StopTrainingJob sends SIGTERM: the job stops after the current batch, keeps its checkpoints and writes no failure. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { latestCheckpointEpoch } from '../../runtime/training/checkpoint';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const repo = path.resolve(__dirname, '..', '..');

it('stops on SIGTERM with exit code 143, keeping the last checkpoint', async () => {
  const root = makeTempDir('mlstack-sigterm-');
  fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
  fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ epochs: '200', early_stopping_patience: '200' }));
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'part-0.csv'), churnCsv(2000, 4));
  const proc = spawn(process.execPath, [path.join(repo, 'bin', 'run-ts.js'), path.join(repo, 'runtime', 'training', 'entrypoint.ts'), 'train'], {
    cwd: repo,
    env: { ...process.env, MLSTACK_SM_ROOT: root, TRAINING_JOB_NAME: 'stop-1', MLSTACK_LOG_LEVEL: 'warn', MLSTACK_CONFIG_DIR: path.join(repo, 'config') },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const checkpoints = new LocalObjectStore(path.join(root, 'checkpoints'));
  const deadline = Date.now() + 60000;
  while (((await latestCheckpointEpoch(checkpoints, '', 'stop-1')) ?? 0) < 1) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`no checkpoint before exit/timeout (exit ${proc.exitCode})`);
    await new Promise((r) => setTimeout(r, 25));
  }
  proc.kill('SIGTERM');
  expect(await exited).toBe(143);
  expect(await latestCheckpointEpoch(checkpoints, '', 'stop-1')).toBeGreaterThanOrEqual(1);
  expect(fs.existsSync(path.join(root, 'output', 'failure'))).toBe(false);
  expect(fs.existsSync(path.join(root, 'model', 'metadata.json'))).toBe(false);
});
