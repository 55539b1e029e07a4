import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A clean customer record (every value passes config/parser.json's validation), as the sample API names its fields. */
export function cleanRow(id: number): Record<string, unknown> {
  return {
    customer_id: id,
    customer_age: 20 + (id % 60),
    monthly_spend: 10 + (id % 50),
    tenure_months: id % 120,
    plan_name: ['basic', 'standard', 'premium'][id % 3],
    region: ['north', 'south', 'east', 'west'][id % 4],
    support_tickets: id % 5,
    signup_ts: '2024-01-01T00:00:00.000Z',
    churned: id % 2 === 0 ? 'yes' : 'no',
    email: `customer${id}@example.com`,
  };
}

export interface PagingRequest {
  url: URL;
  /** The query's cursor (style cursor), or null. */
  cursor: string | null;
}

export interface PageAnswer {
  records: unknown[];
  /** Body fields beside `data` (next_cursor, has_more). */
  extra?: Record<string, unknown>;
  /** A Link header's rel="next" target (a path on this server). */
  next?: string;
  /** Answer with this status instead (a permanent failure mid-run). */
  status?: number;
}

export interface PagingApi {
  url: string;
  requests: PagingRequest[];
  close(): Promise<void>;
}

/**
 * A loopback JSON API whose pages `answer` decides: overlapping pages, cursors that repeat, links that loop. After
 * `maxRequests` requests it answers 410, so a client that loops fails its test quickly instead of filling the disk.
 */
export async function startPagingApi(answer: (request: PagingRequest, index: number) => PageAnswer, maxRequests = 200): Promise<PagingApi> {
  const requests: PagingRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const request: PagingRequest = { url, cursor: url.searchParams.get('cursor') };
    requests.push(request);
    const page = requests.length > maxRequests ? { records: [], status: 410 } : answer(request, requests.length - 1);
    if (page.status !== undefined) {
      res.writeHead(page.status, { 'content-type': 'application/json' }).end(`{"error":"injected ${page.status}"}`);
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (page.next !== undefined) headers.link = `<${page.next}>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ data: page.records, ...page.extra }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/records`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Ids above `since` (the watermark parameter), 1..rows. */
export function idsAbove(url: URL, rows: number): number[] {
  const since = Number(url.searchParams.get('since') ?? 0);
  return Array.from({ length: Math.max(0, rows - since) }, (_, i) => since + i + 1);
}
