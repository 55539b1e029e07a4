/**
 * `mlstack serve` as a platform runs it, for every worker count (issues 20 and 21):
 * - a model that cannot load ends the whole server promptly with the documented exit code (2, as with
 *   --workers 1) and one message, leaving no worker behind;
 * - SIGTERM under load drains every in-flight request, then the primary exits 0 promptly.
 * Each run is a child process in its own process group, so "no worker survives" is "the group is empty".
 */
import * as tf from '../../runtime/model/tf';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { usableCores } from '../../runtime/serving/cluster';
import { freePort } from '../helpers/moto';
import { groupMembers } from '../helpers/process-group';
import { makeTempDir } from '../helpers/tmp';
import { holdRequests, sampleRows, writeTestPackage } from '../serving/fixtures';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'mlstack.js');

interface ServeRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code and the time of exit (performance.now()). */
  exited: Promise<{ code: number | null; at: number }>;
  /** Resolves once stdout or stderr matches `pattern` (rejects if the process exits first). */
  saw: (pattern: RegExp, stream?: 'stdout' | 'stderr') => Promise<string>;
}

/** `mlstack serve ...args` in its own process group, from an empty folder, with the default log level and worker count. */
function serve(args: string[], env: Record<string, string> = {}): ServeRun {
  const base = { ...process.env };
  delete base.MLSTACK_LOG_LEVEL;
  delete base.MLSTACK_WORKERS;
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: makeTempDir(), env: { ...base, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  const waiters: (() => void)[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.on('data', (c: Buffer) => {
      text[stream] += c.toString();
      waiters.forEach((w) => w());
    });
  }
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: performance.now() })));
  const saw = (pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(text[stream]);
        if (m) resolve(m[0]);
      };
      waiters.push(check);
      void exited.then(({ code }) => reject(new Error(`serve exited ${code} before printing ${pattern}:\n${text.stdout}\n${text.stderr}`)));
      check();
    });
  return { child, stdout: () => text.stdout, stderr: () => text.stderr, exited, saw };
}

/** The copies of `mlstack serve` still alive in the child's group (workers outliving their primary). */
function survivors(run: ServeRun): string[] {
  return groupMembers(run.child.pid as number, 'mlstack.js serve');
}

/** The run's exit, or a failure after `ms` (then the whole group is killed). */
async function exitWithin(run: ServeRun, ms: number): Promise<{ code: number | null; at: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`serve still running ${ms} ms later:\n${run.stdout()}\n${run.stderr()}`)), ms);
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

function killGroup(run: ServeRun): void {
  try {
    process.kill(-(run.child.pid as number), 'SIGKILL');
  } catch {
    // the group is gone
  }
}

const WORKER_COUNTS = ['1', '2', 'auto'];
/** What --workers auto runs here. */
const AUTO = usableCores();
const workerCount = (w: string): number => (w === 'auto' ? AUTO : Number(w));

/** Exit timings measured by the tests below, printed once at the end. */
const timings: string[] = [];
afterAll(() => {
  if (timings.length) process.stdout.write(`serve fault timings (auto = ${AUTO} workers):\n  ${timings.join('\n  ')}\n`);
});

describe('mlstack serve with a model that cannot load', () => {
  it.each(WORKER_COUNTS)('--workers %s: exits 2 with one message, promptly, leaving no worker', async (workers) => {
    const started = performance.now();
    const run = serve(['--model', 'v99', '--workdir', makeTempDir(), '--port', '0', '--host', '127.0.0.1', '--workers', workers]);
    try {
      const { code, at } = await exitWithin(run, 30_000);
      timings.push(`missing model, --workers ${workers}: exit ${code} after ${Math.round(at - started)} ms (start-up included)`);
      expect(code).toBe(2);
      expect(at - started).toBeLessThan(15_000);
      const lines = run.stderr().split('\n').filter((l) => l.trim() !== '');
      expect(lines).toEqual([expect.stringMatching(/^mlstack: cannot load model "v99": model version "v99" is not registered/)]);
      expect(run.stdout()).toBe('');
      expect(survivors(run)).toEqual([]);
    } finally {
      killGroup(run);
    }
  }, 60_000);
});

describe('mlstack serve stopped by SIGTERM under load', () => {
  let modelDir: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    modelDir = makeTempDir();
    await writeTestPackage(modelDir, { runId: 'run-faults' });
  });

  it.each(WORKER_COUNTS)('--workers %s: drains every in-flight request, then exits 0 within a second or so', async (workers) => {
    const port = await freePort();
    const run = serve(['--model', modelDir, '--port', String(port), '--host', '127.0.0.1', '--workers', workers], { MLSTACK_LOG_LEVEL: 'info' });
    const count = workerCount(workers);
    let held: ReturnType<typeof holdRequests> | undefined;
    try {
      const url = (await run.saw(/at (http:\/\/\S+)/)).slice(3);
      held = holdRequests(`${url}/invocations`, JSON.stringify(sampleRows(20)), 12);
      // Every held request is on a worker (headers read, body incomplete) before the signal.
      for (let i = 0; ; i++) {
        const text = await (await fetch(`${url}/metrics`)).text();
        if (Number(/^mlstack_http_requests_in_flight (\d+)/m.exec(text)?.[1]) >= 12) break;
        if (i > 2_000) throw new Error(`the 12 held requests never showed in flight:\n${text}`);
      }
      const draining = new RegExp(`(?:"signal received: draining"[^]*){${count}}`);
      const signalled = performance.now();
      run.child.kill('SIGTERM');
      await run.saw(draining, 'stderr');
      held.finish();
      expect(await held.statuses).toEqual(new Array(12).fill(200));
      const drained = performance.now();
      const { code, at } = await exitWithin(run, 10_000);
      timings.push(
        `SIGTERM with 12 in flight, --workers ${workers} (${count}): drained ${Math.round(drained - signalled)} ms after the signal, exit ${code} ${Math.round(at - drained)} ms after the last answer (${Math.round(at - signalled)} ms after the signal)`,
      );
      expect(code).toBe(0);
      expect(at - drained).toBeLessThan(2_500);
      expect(survivors(run)).toEqual([]);
    } finally {
      held?.close();
      killGroup(run);
    }
  }, 90_000);
});
