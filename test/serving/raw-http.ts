import * as net from 'node:net';

/** One HTTP/1.1 response as it came off the wire (1xx interim responses left out). */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a connection gave back: every byte, and whether the server closed it (vs our own deadline). */
export interface RawExchange {
  raw: Buffer;
  closedByServer: boolean;
  /** A socket error on our side (a reset), if any. */
  error?: string;
}

/**
 * Opens a connection, writes `parts` in order, half-closes (unless `halfClose: false`), and resolves with
 * everything the server sent once it closes the connection, or at `deadlineMs` (then closedByServer is false).
 */
export function exchange(port: number, parts: (string | Buffer)[], opts: { halfClose?: boolean; deadlineMs?: number } = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let deadlineHit = false;
    const deadline = setTimeout(() => {
      deadlineHit = true;
      socket.destroy();
    }, opts.deadlineMs ?? 5_000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve({ raw: Buffer.concat(chunks), closedByServer: !deadlineHit, error });
    });
    socket.on('connect', () => {
      for (const part of parts) socket.write(part);
      if (opts.halfClose !== false) socket.end();
    });
  });
}

/** Splits a byte stream into HTTP/1.1 responses (Content-Length framed, as the server always sends); throws on anything else. */
export function parseResponses(raw: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`incomplete response head: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`);
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    if (!m) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`malformed header line: ${JSON.stringify(line)}`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(m[1]);
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) continue;
    if (headers['content-length'] === undefined) throw new Error(`response ${status} without Content-Length: ${JSON.stringify(headers)}`);
    const length = Number(headers['content-length']);
    if (rest.length < length) throw new Error(`response ${status} body cut short: ${rest.length} of ${length} bytes`);
    responses.push({ status, headers, body: rest.subarray(0, length).toString('utf8') });
    rest = rest.subarray(length);
  }
  return responses;
}

/** A JSON error body in the server's shape: `{"error": string, "message": string, ...}`; throws otherwise. */
export function errorBody(res: RawResponse): { error: string; message: string } {
  if (!/^application\/json/.test(res.headers['content-type'] ?? '')) throw new Error(`response ${res.status} is not JSON: ${JSON.stringify(res.headers)} ${res.body}`);
  const body = JSON.parse(res.body) as { error?: unknown; message?: unknown };
  if (typeof body.error !== 'string' || typeof body.message !== 'string') throw new Error(`response ${res.status} lacks error/message: ${res.body}`);
  return body as { error: string; message: string };
}
