/**
 * Every request the server can parse at all gets an HTTP answer (issue 20): framing errors 400, oversize
 * chunked bodies 413 as soon as the limit is crossed, unknown Expect 417, missing Host 400, oversized
 * headers 431, each with the JSON error body every other 4xx carries, and the connection closed after it.
 * Property-based over raw sockets: fast-check generates valid and broken framings of a predict request.
 */
import fc from 'fast-check';
import * as net from 'node:net';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import { echoPredictor, sampleRows } from './fixtures';
import { errorBody, exchange, parseResponses, type RawResponse } from './raw-http';

const LIMIT = 4_000;
const HEAD = 'POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n';

/** A framing to send, and what it must get: 'ok' (one 200 with predictions) or the status of the last answer. */
interface Case {
  name: string;
  parts: string[];
  expect: 'ok' | number;
}

/** Splits `body` into chunks at the given cut points, as a chunked body (sizes in hex, any case, optional extensions). */
function chunked(body: string, cuts: number[], upper: boolean, extension: boolean): string {
  const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let at = 0;
  for (const p of [...points, body.length]) {
    if (p > at) pieces.push(body.slice(at, p));
    at = Math.max(at, p);
  }
  const size = (n: number): string => (upper ? n.toString(16).toUpperCase() : n.toString(16)) + (extension ? ';ext=1' : '');
  return pieces.map((p) => `${size(Buffer.byteLength(p))}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
}

const rowsBody = fc.integer({ min: 1, max: 5 }).map((n) => JSON.stringify(sampleRows(n)));
const cuts = fc.array(fc.nat({ max: 600 }), { maxLength: 6 });
const garbage = fc.string({ minLength: 1, maxLength: 40 }).map((s) => `{${s}\r\n\r\n`);

const validCase: fc.Arbitrary<Case> = fc.oneof(
  rowsBody.map((b): Case => ({ name: 'content-length', parts: [`${HEAD}Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`], expect: 'ok' })),
  fc.tuple(rowsBody, cuts, fc.boolean(), fc.boolean()).map(([b, c, upper, ext]): Case => ({ name: 'chunked', parts: [`${HEAD}Transfer-Encoding: chunked\r\n\r\n`, chunked(b, c, upper, ext)], expect: 'ok' })),
  rowsBody.map((b): Case => ({ name: 'expect 100-continue', parts: [`${HEAD}Expect: 100-continue\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`], expect: 'ok' })),
);

const brokenCase: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(rowsBody, fc.constantFrom('zz', 'g1', '-1', 'x', '0x5', 'q')).map(([b, size]): Case => ({
    name: `bad chunk size ${size}`,
    parts: [`${HEAD}Transfer-Encoding: chunked\r\n\r\n`, `${size}\r\n${b}\r\n0\r\n\r\n`],
    expect: 400,
  })),
  fc.tuple(rowsBody, fc.integer({ min: 17, max: 40 })).map(([b, digits]): Case => ({
    name: 'overflowing chunk size',
    parts: [`${HEAD}Transfer-Encoding: chunked\r\n\r\n`, `${'f'.repeat(digits)}\r\n${b}\r\n0\r\n\r\n`],
    expect: 400,
  })),
  fc.tuple(rowsBody, fc.integer({ min: 1, max: 8 })).map(([b, short]): Case => ({
    name: 'content-length shorter than the body',
    parts: [`${HEAD}Content-Length: ${Buffer.byteLength(b) - short}\r\n\r\n${b}`],
    expect: 400,
  })),
  fc.tuple(rowsBody, fc.integer({ min: 1, max: 500 })).map(([b, more]): Case => ({
    name: 'content-length longer than the body, then close',
    parts: [`${HEAD}Content-Length: ${Buffer.byteLength(b) + more}\r\n\r\n${b}`],
    expect: 400,
  })),
  fc.tuple(rowsBody, fc.constantFrom('gzip', 'deflate', 'br', 'compress', 'chunked, gzip')).map(([b, te]): Case => ({
    name: `transfer-encoding ${te}`,
    parts: [`${HEAD}Transfer-Encoding: ${te}\r\n\r\n${b}`],
    expect: 400,
  })),
  rowsBody.map((b): Case => ({
    name: 'content-length and chunked together',
    parts: [`${HEAD}Content-Length: ${Buffer.byteLength(b)}\r\nTransfer-Encoding: chunked\r\n\r\n`, chunked(b, [], false, false)],
    expect: 400,
  })),
  fc.tuple(rowsBody, garbage).map(([b, g]): Case => ({
    name: 'a good request, then garbage',
    parts: [`${HEAD}Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`, g],
    expect: 400,
  })),
  fc.tuple(rowsBody, cuts, fc.integer({ min: 1, max: 3 })).map(([b, c, k]): Case => {
    const big = JSON.stringify(sampleRows(150 * k));
    return { name: 'chunked body over the limit', parts: [`${HEAD}Transfer-Encoding: chunked\r\n\r\n`, chunked(big, c, false, false)], expect: 413 };
  }),
  fc.tuple(rowsBody, fc.stringMatching(/^[a-z0-9]{1,8}-[a-z0-9]{1,8}$/)).map(([b, token]): Case => ({
    name: `expect ${token}`,
    parts: [`${HEAD}Expect: ${token === '100-continue' ? '200-ok' : token}\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`],
    expect: 417,
  })),
  rowsBody.map((b): Case => ({
    name: 'no Host header',
    parts: [`POST /invocations HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`],
    expect: 400,
  })),
  fc.integer({ min: 17_000, max: 40_000 }).map((n): Case => ({ name: 'headers over the limit', parts: [`${HEAD}X-Big: ${'a'.repeat(n)}\r\nContent-Length: 2\r\n\r\n{}`], expect: 431 })),
  fc.constantFrom('Bad Header Line', 'X Y: z', ': no-name').map((line): Case => ({ name: `header line "${line}"`, parts: [`${HEAD}${line}\r\nContent-Length: 2\r\n\r\n{}`], expect: 400 })),
  fc.constantFrom('HTTP/1.x', 'HTTP/9.9', 'HTTQ/1.1').map((version): Case => ({ name: `version ${version}`, parts: [`POST /invocations ${version}\r\nHost: test\r\nContent-Length: 2\r\n\r\n{}`], expect: 400 })),
);

/** The answers a case got, checked against what it expects; throws with the case named. */
function check(c: Case, responses: RawResponse[], closedByServer: boolean): void {
  const where = `${c.name}: ${JSON.stringify(responses.map((r) => `${r.status} ${r.body.slice(0, 120)}`))}`;
  if (!closedByServer) throw new Error(`${where}: the server did not close the connection`);
  if (c.expect === 'ok') {
    if (responses.length !== 1 || responses[0].status !== 200) throw new Error(`${where}: expected one 200`);
    expect((JSON.parse(responses[0].body) as { predictions: unknown[] }).predictions.length).toBeGreaterThan(0);
    return;
  }
  if (responses.length === 0) throw new Error(`${where}: no answer`);
  for (const res of responses) {
    if (res.status !== 200) errorBody(res);
  }
  const last = responses[responses.length - 1];
  if (last.status !== c.expect) throw new Error(`${where}: expected the last answer to be ${c.expect}`);
  expect(last.headers.connection).toBe('close');
}

describe('framing errors get an HTTP answer with a JSON body, and the connection closes', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ predictor: echoPredictor(), port: 0, host: '127.0.0.1', maxBodyBytes: LIMIT });
    await server.whenReady;
  });
  afterAll(() => server.close());

  it('answers every generated framing: 200 for a valid one, else 400/413/417/431 with {"error","message"}', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(validCase, brokenCase, brokenCase), async (c) => {
        const { raw, closedByServer } = await exchange(server.port, c.parts);
        check(c, parseResponses(raw), closedByServer);
      }),
      { numRuns: 200, seed: 20261204 },
    );
    expect(server.inFlight).toBe(0);
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });

  it('answers a good request before the garbage that follows it on the same connection', async () => {
    const body = JSON.stringify(sampleRows(2));
    const { raw } = await exchange(server.port, [`GET /ping HTTP/1.1\r\nHost: t\r\n\r\n${HEAD}Content-Length: ${body.length}\r\n\r\n${body}`, '\x01\x02garbage\r\n\r\n']);
    const responses = parseResponses(raw);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 400]);
    expect(errorBody(responses[2])).toMatchObject({ error: 'malformed_http', message: expect.stringMatching(/malformed HTTP request/) });
  });

  it('refuses a chunked body with 413 as soon as it crosses the limit, while the client is still sending', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    const chunk = 'a'.repeat(16_384);
    const total = 64 * 1024 * 1024;
    let sent = 0;
    let answer = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.write(`${HEAD}Transfer-Encoding: chunked\r\n\r\n`);
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (sent < total && answer === '') {
          sent += chunk.length;
          if (!socket.write(`4000\r\n${chunk}\r\n`)) return void socket.once('drain', pump);
        }
        resolve();
      };
      socket.on('data', () => resolve());
      socket.on('close', () => resolve());
      pump();
    });
    await closed;
    expect(sent).toBeLessThan(total);
    const [res] = parseResponses(Buffer.from(answer));
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(errorBody(res)).toMatchObject({ error: 'body_too_large', message: `request body is over ${LIMIT} bytes` });
  });

  it('answers an unknown Expect with 417 and a missing Host with 400, both in JSON', async () => {
    const expectation = parseResponses((await exchange(server.port, [`${HEAD}Expect: teapot\r\nContent-Length: 2\r\n\r\n{}`])).raw);
    expect(expectation.map((r) => r.status)).toEqual([417]);
    expect(errorBody(expectation[0])).toMatchObject({ error: 'expectation_failed', message: expect.stringContaining('teapot') });
    const noHost = parseResponses((await exchange(server.port, ['GET /ping HTTP/1.1\r\n\r\n'])).raw);
    expect(noHost.map((r) => r.status)).toEqual([400]);
    expect(errorBody(noHost[0])).toMatchObject({ error: 'malformed_http', message: expect.stringContaining('Host') });
    // HTTP/1.0 has no Host requirement.
    expect(parseResponses((await exchange(server.port, ['GET /ping HTTP/1.0\r\n\r\n'])).raw).map((r) => r.status)).toEqual([200]);
  });
});
