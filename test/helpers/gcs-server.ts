import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A test double for Google Cloud Storage: no GCS emulator installs on these machines, so this loopback
 * server speaks ONLY the JSON-API calls GcsObjectStore makes (multipart upload with ifGenerationMatch,
 * object metadata, media download, list with prefix and page tokens, delete). It keeps objects in memory
 * and is deliberately thin: anything else answers 501 so an unexpected call shows up in a test.
 */
export interface FakeGcs {
  endpoint: string;
  /** "METHOD path" of every request, to see what the client called. */
  calls: string[];
  close(): Promise<void>;
}

interface StoredObject {
  data: Buffer;
  contentType: string;
  generation: number;
  updated: string;
}

export async function startFakeGcs(pageSize = 1000): Promise<FakeGcs> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  let generation = 1;
  const calls: string[] = [];
  const bucket = (name: string) => {
    let b = buckets.get(name);
    if (!b) buckets.set(name, (b = new Map()));
    return b;
  };
  const resource = (bucketName: string, name: string, o: StoredObject) => ({
    kind: 'storage#object',
    bucket: bucketName,
    name,
    size: String(o.data.length),
    generation: String(o.generation),
    contentType: o.contentType,
    updated: o.updated,
    md5Hash: createHash('md5').update(o.data).digest('base64'),
    crc32c: crc32cBase64(o.data),
  });
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const notFound = (res: http.ServerResponse) => json(res, 404, { error: { code: 404, message: 'No such object' } });

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    calls.push(`${req.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const q = url.searchParams;
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname)) && q.get('uploadType') === 'multipart') {
      const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
      if (!boundary) return json(res, 400, { error: { code: 400, message: 'multipart boundary missing' } });
      const parts = splitMultipart(body, boundary);
      const meta = JSON.parse(parts[0].body.toString('utf8')) as { name?: string; contentType?: string };
      const name = q.get('name') ?? meta.name;
      if (!name) return json(res, 400, { error: { code: 400, message: 'object name missing' } });
      const objects = bucket(m[1]);
      if (q.get('ifGenerationMatch') === '0' && objects.has(name)) return json(res, 412, { error: { code: 412, message: 'Precondition Failed' } });
      const stored = { data: parts[1].body, contentType: meta.contentType ?? parts[1].contentType ?? 'application/octet-stream', generation: generation++, updated: new Date().toISOString() };
      objects.set(name, stored);
      return json(res, 200, resource(m[1], name, stored));
    }
    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname))) {
      const objects = bucket(m[1]);
      const name = decodeURIComponent(m[2]);
      const stored = objects.get(name);
      if (req.method === 'DELETE') {
        if (!stored) return notFound(res);
        objects.delete(name);
        return res.writeHead(204).end();
      }
      if (req.method === 'GET') {
        if (!stored || (q.has('generation') && q.get('generation') !== String(stored.generation))) return notFound(res);
        if (q.get('alt') === 'media') {
          res.writeHead(200, {
            'content-type': stored.contentType,
            'content-length': String(stored.data.length),
            'x-goog-hash': `crc32c=${crc32cBase64(stored.data)},md5=${createHash('md5').update(stored.data).digest('base64')}`,
            'x-goog-generation': String(stored.generation),
          });
          return res.end(stored.data);
        }
        return json(res, 200, resource(m[1], name, stored));
      }
    }
    if (req.method === 'GET' && (m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname))) {
      const prefix = q.get('prefix') ?? '';
      const names = [...bucket(m[1]).keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = Number(q.get('pageToken') ?? 0);
      const page = names.slice(start, start + pageSize);
      const next = start + pageSize < names.length ? String(start + pageSize) : undefined;
      return json(res, 200, { kind: 'storage#objects', items: page.map((n) => resource(m![1], n, bucket(m![1]).get(n)!)), ...(next ? { nextPageToken: next } : {}) });
    }
    json(res, 501, { error: { code: 501, message: `fake GCS does not implement ${req.method} ${url.pathname}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function splitMultipart(body: Buffer, boundary: string): { contentType?: string; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { contentType?: string; body: Buffer }[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const content = part.subarray(headerEnd + 4, part.length - 2); // drop the CRLF before the next delimiter
      parts.push({ contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1], body: content });
    }
    start = next;
  }
  return parts;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), big-endian, base64: the form GCS puts in `crc32c` and x-goog-hash. */
function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i += 1) crc = CRC32C_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}
