/**
 * Reading a request body under a byte limit (the shape of fastify's rawBody): a declared
 * Content-Length over the limit is refused before a byte is read; a body without one (chunked) is
 * refused as soon as it crosses the limit; either way the connection closes after the 413 (lingering,
 * see linger.ts), and a client that keeps sending long past the limit has its socket cut.
 */
import type * as http from 'node:http';
import { httpStatusOf } from '../common/errors';

/** Why the server will not use a request body: what the predict route answers instead. */
export interface BodyRefusal {
  /** PAYLOAD_TOO_LARGE's HTTP status (413). */
  status: number;
  reason: 'body_too_large';
  message: string;
  details: { field: 'body'; expected: string };
  /** Answer and close the connection: the client may still be sending the body. Always true. */
  closeConnection: true;
}

/** Past this multiple of the limit the client is not waiting for our 413: cut the socket. */
const CUT_OFF_FACTOR = 4;

/**
 * The body limit as one function: the refusal for a body of `bytes` (as Content-Length declares it,
 * or as counted so far), or null when it fits. A missing or unreadable length fits.
 */
export function bodyLimitRefusal(bytes: number, limit: number, declared: boolean): BodyRefusal | null {
  if (!(bytes > limit)) return null;
  return {
    status: httpStatusOf('PAYLOAD_TOO_LARGE'),
    reason: 'body_too_large',
    message: declared ? `request body is ${bytes} bytes, at most ${limit} allowed` : `request body is over ${limit} bytes`,
    details: { field: 'body', expected: `at most ${limit} bytes` },
    closeConnection: true,
  };
}

/**
 * Collects the body of `req` and calls `done` with it, or with the refusal as soon as it is over `limit`.
 * After a refusal the rest of the body is read and dropped; past CUT_OFF_FACTOR times the limit the socket is cut.
 */
export function readBody(req: http.IncomingMessage, limit: number, done: (body: Buffer | BodyRefusal) => void): void {
  const declared = bodyLimitRefusal(Number(req.headers['content-length'] ?? 0), limit, true);
  if (declared) {
    // Answer at once: reading a body we will refuse only wastes both sides' time.
    req.resume();
    return done(declared);
  }
  const chunks: Buffer[] = [];
  let received = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received <= limit) chunks.push(chunk);
    else if (!refused) {
      refused = true;
      chunks.length = 0;
      done(bodyLimitRefusal(received, limit, false) as BodyRefusal);
    } else if (received > limit * CUT_OFF_FACTOR) req.destroy();
  });
  req.on('error', () => undefined);
  req.on('end', () => {
    if (!refused) done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
}
