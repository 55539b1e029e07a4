import * as tf from '../../runtime/model/tf';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWorkers, usableCores } from '../../runtime/serving/cluster';
import { freePort } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { holdRequests, sampleRows, writeTestPackage } from './fixtures';

const ROOT = path.resolve(__dirname, '..', '..');

interface LogLine {
  msg: string;
  pid: number;
  [key: string]: unknown;
}

/** The real entry point with MLSTACK_WORKERS workers, its JSON log lines collected as they come. */
function startEntrypoint(env: Record<string, string>): { child: ChildProcess; lines: LogLine[]; waitFor: (pred: (l: LogLine[]) => boolean, what: string) => Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/run-ts.js', 'runtime/serving/entrypoint.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, MLSTACK_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: LogLine[] = [];
  let raw = '';
  const waiters: (() => void)[] = [];
  child.stderr?.on('data', (c: Buffer) => {
    raw += c.toString();
    const parts = raw.split('\n');
    raw = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        lines.push({ msg: part, pid: 0 });
      }
    }
    waiters.forEach((w) => w());
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (pred: (l: LogLine[]) => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred(lines)) resolve();
      };
      waiters.push(check);
      void exited.then((code) => reject(new Error(`entrypoint exited ${code} before ${what}:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)));
      check();
    });
  return { child, lines, waitFor, exited };
}

const readyPids = (lines: LogLine[]): number[] => lines.filter((l) => l.msg === 'model loaded and warmed; ready').map((l) => l.pid);

function post(url: string, body: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const metricValue = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);

describe('serving with several workers (node:cluster)', () => {
  let modelDir: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    modelDir = makeTempDir();
    await writeTestPackage(modelDir, { runId: 'run-cluster' });
  });

  it('two workers share the port, /metrics sums them, a killed worker is replaced, SIGTERM drains every in-flight request', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = startEntrypoint({ MLSTACK_SM_MODEL_DIR: modelDir, PORT: String(port), MLSTACK_WORKERS: '2' });
    try {
      await server.waitFor((l) => l.some((x) => x.msg === 'all workers ready'), 'all workers ready');
      const firstPids = readyPids(server.lines);
      expect(new Set(firstPids).size).toBe(2);
      expect(firstPids).not.toContain(server.child.pid);

      const body = JSON.stringify(sampleRows(3));
      // A new connection per request: the primary hands connections to the workers in turn.
      const statuses = await Promise.all(Array.from({ length: 20 }, () => post(`${base}/invocations`, body, false)));
      expect(statuses).toEqual(new Array(20).fill(200));
      const scraped = await (await fetch(`${base}/metrics`)).text();
      expect(metricValue(scraped, /mlstack_http_requests_total\{route="sagemaker_invocations",code="200"\} (\d+)/)).toBe(20);
      expect(metricValue(scraped, /mlstack_predicted_rows_total (\d+)/)).toBe(60);

      process.kill(firstPids[0], 'SIGKILL');
      await server.waitFor((l) => readyPids(l).length === 3, 'a replacement worker loaded the model');
      expect(server.lines.some((l) => l.msg === 'worker died: starting a new one' && l.signal === 'SIGKILL')).toBe(true);
      const replacement = readyPids(server.lines)[2];
      expect(firstPids).not.toContain(replacement);

      // 48 requests held open (headers read, body incomplete) over 48 connections, spread over both workers.
      const held = holdRequests(`${base}/invocations`, JSON.stringify(sampleRows(50)), 48);
      // Only the sum over both workers reaches 48 (the scrape leaves itself out); one worker alone sees about half.
      for (;;) {
        const text = await (await fetch(`${base}/metrics`)).text();
        if (metricValue(text, /mlstack_http_requests_in_flight (\d+)/) >= 48) break;
      }
      const draining = server.waitFor((l) => l.filter((x) => x.msg === 'signal received: draining').length >= 2, 'both workers draining');
      server.child.kill('SIGTERM');
      await draining;
      held.finish();
      expect(await held.statuses).toEqual(new Array(48).fill(200));
      expect(await server.exited).toBe(0);
      held.close();
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 90_000);

  it('stops with exit 1 and the reason when the workers cannot load the model', async () => {
    const server = startEntrypoint({ MLSTACK_SM_MODEL_DIR: makeTempDir(), PORT: '0', MLSTACK_WORKERS: '2' });
    expect(await server.exited).toBe(1);
    const text = server.lines.map((l) => `${l.msg} ${String(l.err ?? '')}`).join('\n');
    expect(text).toMatch(/no model package in/);
    expect(text).toMatch(/a worker could not load the model: stopping the server/);
    // The primary prints the reason once (the workers report it to the primary and print nothing).
    expect(server.lines.filter((l) => l.msg.startsWith('mlstack-serve: '))).toEqual([expect.objectContaining({ msg: expect.stringMatching(/no model package in/) })]);
  }, 60_000);

  it('reads the worker count from a number or auto, capped by the cgroup CPU quota', () => {
    const cores = os.availableParallelism();
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers(undefined)).toBe(usableCores());
    expect(parseWorkers('auto')).toBe(usableCores());
    expect(() => parseWorkers('0')).toThrow(/MLSTACK_WORKERS="0" must be a positive integer or "auto"/);
    expect(() => parseWorkers('two', '--workers')).toThrow(/--workers="two"/);
    const dir = makeTempDir();
    const quota = (text: string): number => {
      fs.writeFileSync(path.join(dir, 'cpu.max'), text);
      return usableCores(path.join(dir, 'cpu.max'));
    };
    expect(quota('50000 100000\n')).toBe(1);
    expect(quota('150000 100000\n')).toBe(Math.min(cores, 2));
    expect(quota('max 100000\n')).toBe(cores);
    expect(usableCores(path.join(dir, 'missing'))).toBe(cores);
  });
});
