import fc from 'fast-check';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tf from '../../runtime/model/tf';
import { loadPredictor } from '../../runtime/serving/load';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import { makeTempDir } from '../helpers/tmp';
import { FEATURES, writeTestPackage } from './fixtures';

const PREDICT_PATHS = ['/invocations', '/predict', '/score'];

function request(server: RunningServer, agent: http.Agent, path: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method: 'POST', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Raw bytes on a fresh TCP connection; resolves with the status line's code (or 0 if closed without one). */
function rawExchange(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (c) => (data += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    });
    socket.end(bytes);
  });
}

const scalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('NaN', 'Infinity', '-1e999', '', ' ', 'true', 'pro'),
);
const rowLike = fc.dictionary(fc.oneof(fc.constantFrom(...FEATURES), fc.string()), fc.oneof(scalar, fc.jsonValue()), { maxKeys: 5 });
const jsonBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  rowLike.map((r) => JSON.stringify(r)),
  fc.array(rowLike, { maxLength: 4 }).map((rows) => JSON.stringify({ instances: rows, parameters: {} })),
  fc.array(fc.array(scalar, { maxLength: 4 }), { maxLength: 3 }).map((rows) => JSON.stringify({ instances: rows })),
  fc.string({ unit: 'binary' }),
);
const csvBody = fc
  .tuple(fc.array(fc.array(fc.oneof(fc.string(), scalar.map(String)), { maxLength: 4 }), { maxLength: 4 }), fc.constantFrom('\n', '\r\n'))
  .map(([lines, eol]) => lines.map((cells) => cells.join(',')).join(eol));
const headerToken = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).filter((h) => !['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade'].includes(h.toLowerCase()));
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const contentType = fc.oneof(
  fc.constantFrom('application/json', 'text/csv', 'application/json; charset=utf-8', 'text/csv;header=present', 'text/plain', 'application/octet-stream', ''),
  headerValue,
);

describe('fuzzing the server (every answer is 2xx or 4xx, the server stays up)', () => {
  let server: RunningServer;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const dir = makeTempDir();
    await writeTestPackage(dir);
    server = await startServer({ predictor: await loadPredictor(dir), port: 0, host: '127.0.0.1', env: {}, maxBatchSize: 3, maxBodyBytes: 2000 });
    await server.whenReady;
  });
  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  it('bodies, content types and extra headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PREDICT_PATHS),
        contentType,
        fc.oneof(jsonBody, csvBody),
        fc.dictionary(headerToken, headerValue, { maxKeys: 3 }),
        async (path, type, body, extra) => {
          const headers: Record<string, string> = { ...extra };
          if (type !== '') headers['Content-Type'] = type;
          const status = await request(server, agent, path, headers, body);
          expect(status >= 200 && status < 500).toBe(true);
        },
      ),
      { numRuns: 400, seed: 20261123 },
    );
    expect((await fetch(`${server.url}/live`)).status).toBe(200);
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });

  it('raw bytes and malformed HTTP on fresh connections', async () => {
    const requestLine = fc.tuple(fc.constantFrom('POST', 'GET', 'PUT', 'X'), fc.constantFrom(...PREDICT_PATHS, '/ping', '/%%', '*'), headerValue, fc.string({ unit: 'binary' }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), requestLine.map(([m, p, h, b]) => Buffer.from(`${m} ${p} HTTP/1.1\r\nHost: x\r\nX-F: ${h}\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`))), async (bytes) => {
        const status = await rawExchange(server.port, bytes);
        // 0: the client's bytes ended before a complete request, so there is nothing to answer.
        expect(status === 0 || (status >= 200 && status < 500)).toBe(true);
      }),
      { numRuns: 150, seed: 7 },
    );
    expect((await fetch(`${server.url}/live`)).status).toBe(200);
  });
});
