/**
 * The in-flight gauge tells the truth (issue 20): it returns to zero when clients abandon requests
 * mid-body (abort, half-close, garbage, silence until the request timeout, requests pipelined behind a
 * slow one on a connection that then closes), and requests_total does not count an abandoned request
 * as answered.
 */
import * as net from 'node:net';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import { echoPredictor } from './fixtures';

const HEAD = 'POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n';
const PARTIAL = `${HEAD}Content-Length: 200\r\n\r\n[{"age": 3, "plan": "pro",`;

/** One metric's value in a /metrics text (0 when the series is absent). */
function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Scrapes /metrics until `done` holds for its text, at most `deadlineMs`; returns the last text. */
async function scrapeUntil(server: RunningServer, done: (text: string) => boolean, what: string, deadlineMs = 10_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  let text = '';
  while (Date.now() < until) {
    text = await (await fetch(`${server.url}/metrics`)).text();
    if (done(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 25)); // pacing between scrapes, not a synchronisation
  }
  throw new Error(`/metrics never showed ${what} within ${deadlineMs} ms; last:\n${text.split('\n').filter((l) => l.startsWith('mlstack_http_')).join('\n')}`);
}

/** A connection that sends `bytes` and is then left to the caller. */
function open(port: number, bytes: string): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      resolve(socket);
    });
    socket.on('error', () => undefined);
  });
}

const inFlight = (text: string): number => metric(text, 'mlstack_http_requests_in_flight');

describe('the in-flight gauge returns to zero whatever the clients do', () => {
  let server: RunningServer;
  const held: (() => void)[] = [];
  let holdScrape = false;

  beforeAll(async () => {
    server = await startServer({
      predictor: echoPredictor(),
      port: 0,
      host: '127.0.0.1',
      requestTimeoutMs: 600,
      // A scrape can be held open (a slow response with requests pipelined behind it).
      renderMetrics: (registry) =>
        holdScrape ? new Promise<string>((resolve) => held.push(() => resolve(registry.metrics()))) : registry.metrics(),
    });
    await server.whenReady;
  });
  afterAll(() => server.close());

  it('reads 0 when idle: the scrape does not count itself', async () => {
    expect(inFlight(await (await fetch(`${server.url}/metrics`)).text())).toBe(0);
  });

  it('after aborts, half-closes, garbage and silence mid-body', async () => {
    const closed = await Promise.all(Array.from({ length: 5 }, () => open(server.port, PARTIAL)));
    const reset = await Promise.all(Array.from({ length: 5 }, () => open(server.port, PARTIAL)));
    const halfClosed = await Promise.all(Array.from({ length: 5 }, () => open(server.port, PARTIAL)));
    const garbled = await Promise.all(Array.from({ length: 5 }, () => open(server.port, `${HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\n[{"ag\r\n`)));
    const silent = await Promise.all(Array.from({ length: 5 }, () => open(server.port, PARTIAL)));
    await scrapeUntil(server, (t) => inFlight(t) === 25, '25 requests in flight', 5_000);

    // A client that closes (FIN) mid-body is answered 400 (its side may still read); one that resets is gone: 499.
    closed.forEach((s) => s.destroy());
    reset.forEach((s) => s.resetAndDestroy());
    halfClosed.forEach((s) => s.end());
    garbled.forEach((s) => s.write('zz\r\n'));
    // The silent ones are answered 408 by the server's request timeout (600 ms here).
    const text = await scrapeUntil(server, (t) => inFlight(t) === 0, 'in-flight back to 0');
    expect(metric(text, 'mlstack_http_requests_total{route="sagemaker_invocations",code="499"}')).toBe(5);
    expect(metric(text, 'mlstack_http_requests_total{route="sagemaker_invocations",code="400"}')).toBe(15);
    expect(metric(text, 'mlstack_http_requests_total{route="sagemaker_invocations",code="408"}')).toBe(5);
    expect(metric(text, 'mlstack_http_requests_total{route="sagemaker_invocations",code="200"}')).toBe(0);
    [...halfClosed, ...garbled, ...silent].forEach((s) => s.destroy());
  });

  it('after connections close with requests pipelined behind a slow response', async () => {
    holdScrape = true;
    const pipelined = await Promise.all(
      Array.from({ length: 5 }, () =>
        open(server.port, `GET /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n${HEAD}Content-Length: 11\r\n\r\n{"age": 30}`),
      ),
    );
    // 5 held scrapes (left out of the gauge) and 10 requests queued behind them.
    const until = Date.now() + 5_000;
    while (server.inFlight < 15 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.inFlight).toBe(15);
    const closed = pipelined.map((s) => new Promise((resolve) => s.once('close', resolve)));
    pipelined.forEach((s) => s.destroy());
    await Promise.all(closed);
    holdScrape = false;
    held.splice(0).forEach((release) => release());
    const text = await scrapeUntil(server, (t) => inFlight(t) === 0 && server.inFlight === 0, 'in-flight back to 0');
    expect(metric(text, 'mlstack_http_requests_total{route="sagemaker_ping",code="499"}')).toBe(5);
  });
});
