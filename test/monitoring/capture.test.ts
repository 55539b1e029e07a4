/**
 * Capture through a real HTTP server: sampled requests and their predictions land as JSONL parts in a real
 * local store, each with the request id the response carried, and read back by the monitor's reader. A store
 * that cannot be written, or a full buffer, never fails or slows a prediction: the loss is counted and logged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { CaptureWriter, partKey } from '../../runtime/monitoring/capture';
import type { CapturedRecord } from '../../runtime/monitoring/records';
import { liveKeys, readLive } from '../../runtime/monitoring/source';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { echoPredictor } from '../serving/fixtures';
import { makeTempDir } from '../helpers/tmp';

const PREFIX = 'data-capture/local/mlstack/';

function logSink(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

async function serveWith(capture: CaptureWriter | undefined): Promise<RunningServer> {
  const server = await startServer({ predictor: echoPredictor(), port: 0, host: '127.0.0.1', capture, env: {} });
  await server.whenReady;
  return server;
}

async function post(server: RunningServer, rows: unknown[], headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ instances: rows }) });
}

async function readAll(store: LocalObjectStore): Promise<CapturedRecord[]> {
  return collect(readLive({ store, keys: await liveKeys(store, PREFIX) }, ['age', 'plan', 'active']));
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('capture in the serving runtime', () => {
  it('GIVEN capture at 100 % WHEN requests are served and the server closes THEN every request is in the store under the id its response carried', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-capture-'));
    const capture = new CaptureWriter({ store, prefix: PREFIX, percent: 100, flushMs: 3_600_000, logger: logSink().logger });
    const server = await serveWith(capture);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await post(server, [{ age: 30 + i, plan: 'basic', active: true }], i === 0 ? { 'X-Request-Id': 'caller-id-0' } : {});
      expect(res.status).toBe(200);
      ids.push(res.headers.get('x-request-id') as string);
      await res.text();
    }
    await capture.flush(); // a flush while serving: a first part
    const batch = await post(server, [{ age: 50, plan: 'pro', active: false }, { age: 20, plan: 'team', active: true }]);
    const batchId = batch.headers.get('x-request-id') as string;
    await batch.text();
    await server.close(); // the last part
    expect(ids[0]).toBe('caller-id-0');
    expect(new Set(ids).size).toBe(10);
    const records = await readAll(store);
    expect(records.map((r) => r.id)).toEqual([...ids, `${batchId}#0`, `${batchId}#1`]);
    expect(records[1]).toMatchObject({ features: { age: 31, plan: 'basic', active: true }, prediction: { prediction: 'no', probabilities: { yes: 0.75 } } });
    expect(records[11]).toMatchObject({ features: { age: 20 }, prediction: { prediction: 'no' } });
    expect(capture.stats).toEqual({ captured: 11, written: 11, dropped: 0, failedWrites: 0 });
    expect((await liveKeys(store, PREFIX)).length).toBe(2);
  });

  it('GIVEN capture at 0 % WHEN requests are served THEN nothing is written and no request id is added', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-capture-'));
    const capture = new CaptureWriter({ store, prefix: PREFIX, percent: 0, flushMs: 3_600_000, logger: logSink().logger });
    const server = await serveWith(capture);
    const res = await post(server, [{ age: 30, plan: 'basic', active: true }]);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeNull();
    await res.text();
    await server.close();
    expect(fs.existsSync(path.join(store.root, 'data-capture'))).toBe(false);
  });

  it('GIVEN a store that cannot be written WHEN requests are served THEN every prediction answers 200 and the loss is logged', async () => {
    const file = path.join(makeTempDir('mlstack-capture-'), 'not-a-folder');
    fs.writeFileSync(file, 'x');
    const sink = logSink();
    const capture = new CaptureWriter({ store: new LocalObjectStore(file), prefix: PREFIX, percent: 100, flushMs: 3_600_000, logger: sink.logger });
    const server = await serveWith(capture);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(server, [{ age: i, plan: 'basic', active: true }]);
      statuses.push(res.status);
      await res.text();
    }
    await server.close();
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(capture.stats).toEqual({ captured: 5, written: 0, dropped: 5, failedWrites: 1 });
    expect(sink.lines).toEqual([expect.objectContaining({ msg: 'capture: writing a part failed; its records are dropped', records: 5 })]);
  });

  it('GIVEN a full buffer or rows that cannot be read WHEN more requests are recorded THEN they are dropped and counted, never thrown', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-capture-'));
    const sink = logSink();
    const capture = new CaptureWriter({ store, prefix: PREFIX, percent: 100, flushMs: 3_600_000, logger: sink.logger, maxBuffered: 2 });
    for (let i = 0; i < 3; i++) capture.record(`r${i}`, 'v1', () => [{ age: i }], [{ prediction: 'no' }]);
    await capture.close();
    expect(capture.stats).toEqual({ captured: 2, written: 2, dropped: 1, failedWrites: 0 });
    const other = new CaptureWriter({ store, prefix: PREFIX, percent: 100, flushMs: 3_600_000, logger: sink.logger });
    expect(() =>
      other.record('bad', 'v1', () => {
        throw new Error('unparsable body');
      }, []),
    ).not.toThrow();
    await other.close();
    expect(other.stats).toEqual({ captured: 0, written: 0, dropped: 1, failedWrites: 0 });
    expect(sink.lines).toEqual([expect.objectContaining({ requestId: 'bad', err: 'unparsable body' })]);
  });

  it('samples with one draw per request against the percent, and names parts by UTC hour', () => {
    const draws = [0.05, 0.5, 0.2499, 0.25];
    const capture = new CaptureWriter({ store: new LocalObjectStore(makeTempDir()), prefix: PREFIX, percent: 25, flushMs: 3_600_000, logger: logSink().logger, random: () => draws.shift() as number });
    expect([capture.sample(), capture.sample(), capture.sample(), capture.sample()]).toEqual([true, false, true, false]);
    void capture.close();
    expect(partKey('p/', new Date('2026-03-04T05:06:07Z'), 7)).toBe(`p/2026/03/04/05/part-${Date.parse('2026-03-04T05:06:07Z')}-${process.pid}-7.jsonl`);
  });
});
