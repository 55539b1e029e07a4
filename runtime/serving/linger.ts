/**
 * Closing a connection after refusing a request whose client may still be sending (a 413 mid-body, a
 * framing error, a 417): a lingering close, as Apache and nginx do. Our side is half-closed at once,
 * but the descriptor stays open, reading and discarding, until the client closes its side or LINGER_MS
 * pass. Closing it at once while data is still arriving makes the kernel answer with a reset, which can
 * discard our answer before the client has read it.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';

/** The longest a refused connection stays open for the client to read our answer. */
export const LINGER_MS = 1_000;

/** Half-closes `socket` now and destroys it once the client has closed its side, or after LINGER_MS. */
export function lingeringClose(socket: net.Socket): void {
  if (socket.destroyed) return;
  socket.end();
  if (socket.readableEnded) {
    socket.once('finish', () => socket.destroy());
    return;
  }
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('end', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Answers on `res` with `Connection: close` and a lingering close: node:http ends a `Connection: close`
 * response with socket.destroySoon(), which closes the descriptor as soon as the answer is written.
 */
export function closeAfterResponse(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader('Connection', 'close');
  const socket = req.socket as net.Socket;
  socket.destroySoon = () => lingeringClose(socket);
}
