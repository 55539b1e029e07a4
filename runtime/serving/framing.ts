/**
 * Requests the server can parse only in part, and how their connections end. Every request node:http
 * can read at all gets an HTTP answer with the same JSON body as every other 4xx
 * (`{"error", "message", "expected"?}`), and its connection closes after that answer:
 *
 * - framing errors (malformed chunked encoding, a Content-Length that disagrees with the body, an
 *   overflowing chunk size, an unknown Transfer-Encoding, garbage after a good request): 400, on
 *   node:http's 'clientError' event, once every response before it on the connection has gone out;
 * - request headers over node:http's limit: 431; a request that has not arrived in full within the
 *   request timeout: 408;
 * - an `Expect` other than `100-continue`: 417; an HTTP/1.1 request without `Host`: 400.
 *
 * Closing after such an answer is a lingering close (linger.ts).
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { httpStatusOf } from '../common/errors';
import { sendError, type ServerContext } from './handlers';
import { closeAfterResponse, lingeringClose } from './linger';

/** What node:http's own handling of `Expect` accepts: the server sends 100 Continue and reads the body. */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/** node:http's parser and the response owning the socket: what 'clientError' needs to know about a connection. */
interface HttpSocket extends net.Socket {
  _httpMessage?: http.ServerResponse | null;
  parser?: { incoming?: http.IncomingMessage | null } | null;
}

/** Set on a socket once its framing error is answered (node:http may report the same broken stream again). */
const ANSWERED = Symbol('mlstack.framingAnswered');
/** Set on a request whose body never ended but whose response went out (so a later framing error on it gets no second answer). */
const REQUEST_ANSWERED = Symbol('mlstack.requestAnswered');

type Marked<T> = T & { [ANSWERED]?: true; [REQUEST_ANSWERED]?: true };

/** An answer to a request that cannot be used as sent. */
interface FramingRefusal {
  status: number;
  reason: string;
  message: string;
  expected?: string;
}

/** Called when a request's response is over: remembers a request whose body never ended (see REQUEST_ANSWERED). */
export function markAnswered(req: http.IncomingMessage): void {
  if (!req.complete) (req as Marked<http.IncomingMessage>)[REQUEST_ANSWERED] = true;
}

/**
 * The answer to a request that node:http passed on but that cannot be served as sent: an HTTP/1.1 request
 * without `Host` (400), or an `Expect` other than `100-continue` (417; node:http hands those to
 * 'checkExpectation'). Answers it and returns true, or returns false for a request to route.
 */
export function refuseUnanswerable(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const { host, expect } = req.headers;
  let refusal: FramingRefusal | undefined;
  if (host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
    refusal = { status: httpStatusOf('INPUT_INVALID'), reason: 'malformed_http', message: 'an HTTP/1.1 request must carry a Host header', expected: 'a Host header' };
  } else if (expect !== undefined && !CONTINUE.test(expect)) {
    refusal = {
      status: httpStatusOf('EXPECTATION_FAILED'),
      reason: 'expectation_failed',
      message: `Expect: ${truncate(expect)} is not supported; send no Expect header, or Expect: 100-continue`,
      expected: '100-continue',
    };
  }
  if (!refusal) return false;
  closeAfterResponse(req, res);
  sendError(ctx, res, refusal.status, refusal.reason, refusal.message, { expected: refusal.expected });
  return true;
}

/** What a 'clientError' is answered with; undefined for a socket error (the client is gone: nobody to answer). */
function refusalFor(err: NodeJS.ErrnoException & { reason?: string }, requestTimeoutMs: number): FramingRefusal | undefined {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: httpStatusOf('HEADERS_TOO_LARGE'), reason: 'headers_too_large', message: `request headers over ${http.maxHeaderSize} bytes`, expected: `at most ${http.maxHeaderSize} bytes of headers` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: httpStatusOf('PAYLOAD_TOO_LARGE'), reason: 'body_too_large', message: 'chunk extensions over node:http\'s limit', expected: 'chunks without extensions' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: httpStatusOf('REQUEST_TIMEOUT'), reason: 'request_timeout', message: `the request did not arrive in full within ${requestTimeoutMs} ms` };
    case 'HPE_INVALID_EOF_STATE':
      return { status: httpStatusOf('INPUT_INVALID'), reason: 'malformed_http', message: 'malformed HTTP request: the client closed its side before the request was complete', expected: 'the whole body, as Content-Length or the chunks announce it' };
    default:
      if (!err.code?.startsWith('HPE_')) return undefined;
      return { status: httpStatusOf('INPUT_INVALID'), reason: 'malformed_http', message: `malformed HTTP request: ${err.reason ?? err.message} (${err.code})` };
  }
}

function rawResponse({ status, reason, message, expected }: FramingRefusal): string {
  const body = JSON.stringify(expected === undefined ? { error: reason, message } : { error: reason, message, expected });
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * node:http's 'clientError' listener: answers a framing error once every response before it on the
 * connection has gone out (a good request followed by garbage gets its own answer first). A request
 * whose body is broken is answered on its own response object, so its handler, the in-flight count and
 * the metrics see the answer; an error outside any request is answered with a raw response.
 */
export function answerClientError(ctx: ServerContext, requestTimeoutMs: number): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, duplex) => {
    const socket = duplex as Marked<HttpSocket>;
    if (socket[ANSWERED]) return;
    const refusal = refusalFor(err, requestTimeoutMs);
    if (!refusal || !socket.writable) {
      socket.destroy();
      return;
    }
    socket[ANSWERED] = true;
    const current = socket.parser?.incoming as Marked<http.IncomingMessage> | null | undefined;
    const broken = current && !current.complete ? current : undefined;
    let brokenAnswered = broken?.[REQUEST_ANSWERED] === true;
    const answer = (): void => {
      if (socket.destroyed || !socket.writable) return;
      const pending = socket._httpMessage;
      if (pending && pending.req === broken) {
        if (!pending.headersSent) {
          closeAfterResponse(pending.req, pending);
          sendError(ctx, pending, refusal.status, refusal.reason, refusal.message, { expected: refusal.expected });
          return;
        }
        // Answered before its body went wrong (a 415 while the body was being discarded): no second answer.
        brokenAnswered = true;
      }
      if (pending) {
        // A response is still going out; node:http hands the socket to the next one when it finishes.
        pending.once('finish', answer);
      } else if (brokenAnswered) {
        lingeringClose(socket);
      } else {
        ctx.metrics.error(refusal.status, refusal.reason);
        socket.write(rawResponse(refusal));
        lingeringClose(socket);
      }
    };
    answer();
  };
}

function truncate(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}
