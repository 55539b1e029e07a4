import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleRow } from './sample-data';

export interface SampleApiOptions {
  /** Rows in the dataset (ids 1..rows). Default 20,000. */
  rows?: number;
  /** Default and largest page size. Default 1000. */
  pageSize?: number;
  seed?: number;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** When set, requests need `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Benchmarks: serve row `id` as pooled row `(id - 1) % rowPool`, pre-serialised once, with its own id and
   * email spliced in. Keeps the API cheap enough that a benchmark measures the ingester, not the generator.
   */
  rowPool?: number;
}

/** Pre-serialises `size` sample rows once; returns a function that renders any id from the pool in one concatenation. */
export function pooledRowRenderer(size: number, seed: number): (id: number) => string {
  const middles: string[] = [];
  for (let k = 1; k <= size; k += 1) {
    const text = JSON.stringify(sampleRow(k, seed));
    const head = `{"customer_id":${k}`;
    const tail = `"customer${k}@example.com"}`;
    if (!text.startsWith(head) || !text.endsWith(tail)) throw new Error(`sample row ${k} does not start with customer_id and end with email`);
    middles.push(text.slice(head.length, text.length - tail.length));
  }
  return (id) => `{"customer_id":${id}${middles[(id - 1) % size]}"customer${id}@example.com"}`;
}

export interface SampleApi {
  /** Base URL of the records listing, e.g. http://127.0.0.1:41234/customers. */
  url: string;
  /** Grows (or shrinks) the dataset, so an incremental rerun has new records to fetch. */
  setRows(rows: number): void;
  /** Requests served so far. */
  readonly requests: number;
  close(): Promise<void>;
}

function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  return Number.isFinite(value) ? Math.floor(value) : NaN;
}

/** The rows a request asks for: ids above `since`, `size` of them from `offset`; null when a parameter is bad. */
function pageWindow(q: URLSearchParams, maxPage: number): { since: number; size: number; offset: number } | null {
  const since = intParam(q, 'since', 0);
  const size = Math.min(maxPage, intParam(q, 'page_size', intParam(q, 'limit', maxPage)));
  const cursor = q.get('cursor');
  const offset = cursor ? Number(Buffer.from(cursor, 'base64url').toString('utf8')) : q.has('offset') ? intParam(q, 'offset', 0) : (intParam(q, 'page', 1) - 1) * size;
  if (![since, size, offset].every(Number.isFinite) || size < 1 || offset < 0 || since < 0) return null;
  return { since, size, offset };
}

/** The Link header of the next page: this request's URL with the cursor instead of page or offset. */
function nextLink(url: URL, nextCursor: string): string {
  const next = new URL(url.toString());
  next.searchParams.delete('page');
  next.searchParams.delete('offset');
  next.searchParams.set('cursor', nextCursor);
  return `<${next.pathname}${next.search}>; rel="next"`;
}

/**
 * A loopback HTTP API serving the deterministic sample dataset, ordered by customer_id. It answers every
 * pagination style the ingester supports: ?page=&page_size= (pages from 1), ?offset=&limit= (or page_size),
 * ?cursor= (from the body's next_cursor) and a Link rel="next" header; ?since=<id> returns ids above it.
 * Body: {"data":[...], "page", "page_size", "total", "has_more", "next_cursor"}.
 */
export async function startSampleApi(opts: SampleApiOptions = {}): Promise<SampleApi> {
  let rows = opts.rows ?? 20_000;
  const maxPage = opts.pageSize ?? 1000;
  const seed = opts.seed ?? 42;
  let requests = 0;
  const renderRow = opts.rowPool !== undefined ? pooledRowRenderer(opts.rowPool, seed) : (id: number) => JSON.stringify(sampleRow(id, seed));
  const server = http.createServer((req, res) => {
    requests += 1;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"missing or wrong bearer token"}');
      return;
    }
    const window = pageWindow(url.searchParams, maxPage);
    if (window === null) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad page, page_size, offset, cursor or since"}');
      return;
    }
    const { since, size, offset } = window;
    const total = Math.max(0, rows - since);
    const first = since + offset + 1;
    const last = Math.min(rows, first + size - 1);
    let data = '';
    for (let id = first; id <= last; id += 1) data += (id === first ? '' : ',') + renderRow(id);
    const nextOffset = offset + size;
    const hasMore = nextOffset < total;
    const nextCursor = hasMore ? Buffer.from(String(nextOffset)).toString('base64url') : null;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (hasMore) headers.link = nextLink(url, nextCursor as string);
    const page = Math.floor(offset / size) + 1;
    res.writeHead(200, headers);
    res.end(`{"data":[${data}],"page":${page},"page_size":${size},"total":${total},"has_more":${hasMore},"next_cursor":${JSON.stringify(nextCursor)}}`);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/customers`,
    setRows: (n: number) => {
      rows = n;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
