import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { silentLogger, type Logger } from '../common/logger';
import { bodyFormat, parseRows, validateRows, type BodyFormat } from './input';
import { ServerMetrics } from './metrics';
import { InputError, type Prediction, type Predictor } from './predictor';
import { predictionsBody } from './response';
import { buildRouteTable, type RouteKind } from './routes';

export const DEFAULT_MAX_BATCH_SIZE = 1000;
/** Vertex AI's request limit; SageMaker allows 6 MB, so this default is safe everywhere. */
export const DEFAULT_MAX_BODY_BYTES = 1_500_000;
/** SageMaker sends SIGKILL 30 s after SIGTERM: finish draining before that. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;

export interface ServerOptions {
  /** The model; a promise lets the server listen (answering 503 on readiness) while the model loads. */
  predictor: Predictor | Promise<Predictor>;
  /** TCP port; 0 picks a free one. @default AIP_HTTP_PORT, PORT, AML_PORT from env, else 8080 */
  port?: number;
  /** @default '0.0.0.0' (Vertex AI requires all interfaces) */
  host?: string;
  logger?: Logger;
  /** Rows per request. @default 1000 (config pipeline.serving.max_batch_size) */
  maxBatchSize?: number;
  /** Request body bytes. @default 1_500_000 (config pipeline.serving.max_body_bytes) */
  maxBodyBytes?: number;
  /** Where route and port overrides are read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Longest wait for in-flight requests on close() before connections are cut. @default 25000 */
  drainTimeoutMs?: number;
  /** Renders /metrics from this server's registry; a cluster worker sums every worker's. @default the registry alone */
  renderMetrics?: (registry: Registry) => Promise<string>;
  /** Readiness also waits for this: a cluster worker's is "every worker's model is loaded". @default always open */
  readinessGate?: () => boolean;
}

export interface RunningServer {
  /** Base URL reachable from this machine, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** True once the model is loaded and warmed, false again while draining. */
  readonly ready: boolean;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** This server's Prometheus registry (what /metrics renders, unless renderMetrics says otherwise). */
  readonly registry: Registry;
  /** Resolves when ready; rejects when the model fails to load. */
  whenReady: Promise<void>;
  /** Stops accepting, lets in-flight requests finish (up to drainTimeoutMs), then resolves. */
  close(): Promise<void>;
}

interface JsonBody {
  [key: string]: unknown;
}

/** One node:http server answering the SageMaker, Vertex AI and Azure ML routes (see routes.ts). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? silentLogger;
  const maxBatchSize = opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const drainTimeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const routes = buildRouteTable(env, opts.port);
  let predictor: Predictor | undefined;
  let draining = false;
  let inFlight = 0;
  const metrics = new ServerMetrics(() => inFlight);
  let onIdle: (() => void) | undefined;

  const whenReady = Promise.resolve(opts.predictor).then((loaded) => {
    loaded.warmup?.();
    predictor = loaded;
    logger.info({ version: loaded.version, features: loaded.features.length }, 'model loaded and warmed; ready');
  });
  whenReady.catch((err: Error) => logger.error({ err: err.message }, 'model failed to load; readiness stays 503'));

  const send = (res: http.ServerResponse, status: number, body: string | JsonBody, contentType = 'application/json'): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) };
    if (draining) headers.Connection = 'close';
    if (predictor) headers['X-Model-Version'] = predictor.version;
    res.writeHead(status, headers);
    res.end(text);
  };

  const sendError = (res: http.ServerResponse, status: number, reason: string, message: string, details: object = {}): void => {
    metrics.error(status, reason);
    send(res, status, { error: reason, message, ...details });
  };

  const predictBody = (res: http.ServerResponse, model: Predictor, body: Buffer, contentType: string | undefined): void => {
    const format = bodyFormat(contentType);
    const predictions = (format === 'json' ? model.predictJson?.(body, maxBatchSize) : undefined) ?? predictParsed(model, body.toString('utf8'), format);
    metrics.predicted(predictions.length);
    send(res, 200, predictionsBody(predictions, model.version));
  };

  /** The general path: parse, validate (naming any problem in an InputError), predict. */
  const predictParsed = (model: Predictor, body: string, format: BodyFormat): Prediction[] => {
    const rows = parseRows(body, format, model.features);
    validateRows(rows, model, maxBatchSize);
    return model.predict(rows);
  };

  const handlePredict = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return sendError(res, 405, 'method_not_allowed', `use POST for ${req.url} (got ${req.method})`, { expected: 'POST' });
    }
    const contentType = req.headers['content-type'];
    try {
      bodyFormat(contentType);
    } catch (err) {
      req.resume();
      const e = err as InputError;
      return sendError(res, e.status, 'unsupported_media_type', e.message, e.details);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) {
      // Answer at once and close: reading a body we will refuse only wastes both sides' time.
      res.setHeader('Connection', 'close');
      req.resume();
      return sendError(res, 413, 'body_too_large', `request body is ${declared} bytes, at most ${maxBodyBytes} allowed`, {
        field: 'body',
        expected: `at most ${maxBodyBytes} bytes`,
      });
    }
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= maxBodyBytes) chunks.push(chunk);
      else if (received > maxBodyBytes * 4) req.destroy();
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (received > maxBodyBytes) {
        return sendError(res, 413, 'body_too_large', `request body is over ${maxBodyBytes} bytes`, {
          field: 'body',
          expected: `at most ${maxBodyBytes} bytes`,
        });
      }
      if (!predictor) return sendError(res, 503, 'not_ready', 'the model is still loading; retry shortly');
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      try {
        predictBody(res, predictor, body, contentType);
      } catch (err) {
        if (err instanceof InputError) {
          logger.info({ path: req.url, status: err.status, msg: err.message }, 'rejected request');
          return sendError(res, err.status, err.status === 413 ? 'too_many_rows' : 'bad_request', err.message, err.details);
        }
        logger.error({ err: (err as Error).message, stack: (err as Error).stack }, 'prediction failed');
        sendError(res, 500, 'internal_error', 'the model failed on valid input; this is a server fault and has been logged');
      }
    });
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, kind: RouteKind | undefined): void => {
    switch (kind) {
      case 'predict':
        return handlePredict(req, res);
      case 'liveness':
        req.resume();
        return send(res, 200, { status: 'alive' });
      case 'readiness':
        req.resume();
        if (predictor && !draining && (opts.readinessGate?.() ?? true)) return send(res, 200, { status: 'ready', model_version: predictor.version });
        return send(res, 503, { status: draining ? 'draining' : predictor ? 'waiting for the other workers' : 'loading' });
      case 'metrics':
        req.resume();
        (opts.renderMetrics ? opts.renderMetrics(metrics.registry) : metrics.render()).then(
          (text) => send(res, 200, text, metrics.registry.contentType),
          (err: Error) => sendError(res, 500, 'internal_error', `metrics failed: ${err.message}`),
        );
        return;
      default:
        req.resume();
        return sendError(res, 404, 'not_found', `no route ${truncatePath(req.url)}; see docs/serving.md for the routes`, {
          expected: [...routes.byPath.keys()].join(', '),
        });
    }
  };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = routes.byPath.get(q === -1 ? url : url.slice(0, q));
    const label = route?.name ?? 'unmatched';
    inFlight++;
    res.once('close', () => {
      inFlight--;
      metrics.observe(label, res.statusCode, (performance.now() - started) / 1000);
      if (inFlight === 0 && onIdle) onIdle();
    });
    try {
      handle(req, res, route?.kind);
    } catch (err) {
      logger.error({ err: (err as Error).message, stack: (err as Error).stack }, 'request handler failed');
      if (!res.headersSent) sendError(res, 500, 'internal_error', 'unexpected server fault; it has been logged');
      else res.destroy();
    }
  });
  // Load balancers reuse connections for up to 60 s; outlive them so they never hit a closed socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    metrics.error(400, 'malformed_http');
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const body = JSON.stringify({ error: 'malformed_http', message: `malformed HTTP request: ${err.code ?? err.message}` });
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    } else {
      socket.destroy();
    }
  });

  const host = opts.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(routes.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  logger.info({ url, routes: Object.fromEntries([...routes.byPath].map(([p, r]) => [r.name, p])) }, 'serving');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      draining = true;
      logger.info({ inFlight }, 'draining: no new connections; finishing in-flight requests');
      const cutoff = setTimeout(() => {
        logger.warn({ inFlight }, 'drain timeout: closing remaining connections');
        server.closeAllConnections();
      }, drainTimeoutMs);
      cutoff.unref();
      const idle = (): void => server.closeIdleConnections();
      onIdle = idle;
      server.close(() => {
        clearTimeout(cutoff);
        logger.info('drained; server closed');
        resolve();
      });
      idle();
    });
    return closing;
  };

  return {
    url,
    port,
    get ready() {
      return predictor !== undefined && !draining;
    },
    get inFlight() {
      return inFlight;
    },
    registry: metrics.registry,
    whenReady,
    close,
  };
}

function truncatePath(url: string | undefined): string {
  const text = url ?? '/';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
