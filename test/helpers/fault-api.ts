import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleRow } from '../../runtime/ingestion/sample-data';

/** What the fault API does with one request instead of answering normally. */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'stall' }
  | { kind: 'reset' }
  | { kind: 'truncate' };

export interface FaultRequest {
  /** 0-based, in arrival order. */
  index: number;
  page: number;
  pageSize: number;
  since: number;
  at: number;
  fault?: Fault['kind'];
  headers: http.IncomingHttpHeaders;
}

export interface FaultApiOptions {
  rows: number;
  pageSize?: number;
  /** Decides a fault for a request (called before it is answered); undefined answers normally. */
  fault?: (request: FaultRequest) => Fault | undefined;
  /** Replaces the record for an id (malformed rows): return a value to serve instead of the generated row. */
  replaceRow?: (id: number) => unknown;
}

export interface FaultApi {
  url: string;
  requests: FaultRequest[];
  setRows(rows: number): void;
  close(): Promise<void>;
}

/**
 * A loopback API serving the sample dataset page by page (?page=&page_size=&since=) that injects faults
 * on chosen requests: HTTP errors (5xx, 429 + Retry-After), stalls past the client's timeout, connection
 * resets, and bodies cut off mid-way.
 */
export async function startFaultApi(options: FaultApiOptions): Promise<FaultApi> {
  let rows = options.rows;
  const requests: FaultRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const pageSize = Number(url.searchParams.get('page_size') ?? options.pageSize ?? 100);
    const page = Number(url.searchParams.get('page') ?? 1);
    const since = Number(url.searchParams.get('since') ?? 0);
    const request: FaultRequest = { index: requests.length, page, pageSize, since, at: Date.now(), headers: req.headers };
    requests.push(request);
    const fault = options.fault?.(request);
    request.fault = fault?.kind;
    const first = since + (page - 1) * pageSize + 1;
    const last = Math.min(rows, first + pageSize - 1);
    const records: string[] = [];
    for (let id = first; id <= last; id += 1) {
      const replaced = options.replaceRow?.(id);
      records.push(JSON.stringify(replaced !== undefined ? replaced : sampleRow(id)));
    }
    const body = `{"data":[${records.join(',')}],"page":${page}}`;
    if (!fault) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    switch (fault.kind) {
      case 'status':
        res
          .writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) })
          .end(fault.body ?? `{"error":"injected ${fault.status}"}`);
        return;
      case 'stall':
        return; // never answers; the client's timeout must fire
      case 'reset':
        req.socket.destroy();
        return;
      case 'truncate':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
        res.write(body.slice(0, Math.floor(body.length / 2)), () => req.socket.destroy());
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/records`,
    requests,
    setRows: (n) => {
      rows = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
