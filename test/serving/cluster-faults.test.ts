/**
 * A worker that cannot load the model stops the whole server promptly (issue 21), even while a sibling
 * is still starting: the primary's SIGTERM reaches that sibling before its server exists, and it must
 * still stop (before, it waited for a second SIGTERM that never came, and the primary with it).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { groupMembers } from '../helpers/process-group';

const ROOT = path.resolve(__dirname, '..', '..');

describe('a serving worker that fails while a sibling is still starting', () => {
  it('stops every worker and exits with the failure, promptly, printing it once', async () => {
    const child = spawn(process.execPath, ['bin/run-ts.js', 'test/serving/late-sibling.ts'], {
      cwd: ROOT,
      env: { ...process.env, MLSTACK_LOG_LEVEL: 'warn' },
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const code = await Promise.race([
        new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`still running 15 s later:\n${stderr}`)), 15_000);
        }),
      ]);
      expect(code).toBe(1);
      expect(stderr.split('\n').filter((l) => l.trim() !== '')).toEqual(['late-sibling: no model package here']);
      expect(performance.now() - started).toBeLessThan(15_000);
      expect(groupMembers(child.pid as number, 'late-sibling.ts')).toEqual([]);
    } finally {
      clearTimeout(timer);
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
  }, 30_000);
});
