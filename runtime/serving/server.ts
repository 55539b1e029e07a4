import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { httpStatusOf } from '../common/errors';
import { silentLogger, type Logger } from '../common/logger';
import { answerClientError, markAnswered, refuseUnanswerable } from './framing';
import { dispatch, sendError, type ServerContext } from './handlers';
import { ServerMetrics } from './metrics';
import type { Predictor } from './predictor';
import { buildRouteTable } from './routes';
import type { CaptureWriter } from '../monitoring/capture';

export const DEFAULT_MAX_BATCH_SIZE = 1000;
/** Vertex AI's request limit; SageMaker allows 6 MB, so this default is safe everywhere. */
export const DEFAULT_MAX_BODY_BYTES = 1_500_000;
/** SageMaker sends SIGKILL 30 s after SIGTERM: finish draining before that. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;
/** A request (headers and body) must arrive in full within this, else 408; as long as node:http gives the headers alone. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 66_000;
/** requests_total's code for a request whose client went away before its answer was written (nginx's "client closed request"). */
export const CLIENT_CLOSED_CODE = 499;

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
  /** Longest a request may take to arrive in full (headers and body); then 408 and the connection closes. @default 66000 */
  requestTimeoutMs?: number;
  /** Renders /metrics from this server's registry; a cluster worker sums every worker's. @default the registry alone */
  renderMetrics?: (registry: Registry) => Promise<string>;
  /** Readiness also waits for this: a cluster worker's is "every worker's model is loaded". @default always open */
  readinessGate?: () => boolean;
  /** Sampled requests and predictions to the store; flushed (and stopped) by close(). @default none */
  capture?: CaptureWriter;
}

export interface RunningServer {
  /** Base URL reachable from this machine, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** True once the model is loaded and warmed, false again while draining. */
  readonly ready: boolean;
  /** Requests being handled right now (the /metrics gauge leaves out the scrapes themselves). */
  readonly inFlight: number;
  /** This server's Prometheus registry (what /metrics renders, unless renderMetrics says otherwise). */
  readonly registry: Registry;
  /** Resolves when ready; rejects when the model fails to load. */
  whenReady: Promise<void>;
  /** Stops accepting, lets in-flight requests finish (up to drainTimeoutMs), then resolves. */
  close(): Promise<void>;
}

/** The server's context from its options: defaults applied, nothing loaded yet. */
function serverContext(opts: ServerOptions): ServerContext {
  const ctx: ServerContext = {
    logger: opts.logger ?? silentLogger,
    metrics: new ServerMetrics(() => ctx.inFlight - ctx.scrapes),
    routes: buildRouteTable(opts.env ?? process.env, opts.port),
    maxBatchSize: opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    readinessGate: opts.readinessGate ?? (() => true),
    renderMetrics: opts.renderMetrics ?? ((registry) => registry.metrics()),
    predictor: undefined,
    draining: false,
    inFlight: 0,
    scrapes: 0,
    onIdle: undefined,
    capture: opts.capture,
  };
  return ctx;
}

/** Waits for the model, warms it, and only then lets the handlers use it. */
function loadModel(ctx: ServerContext, predictor: Predictor | Promise<Predictor>): Promise<void> {
  const whenReady = Promise.resolve(predictor).then((loaded) => {
    loaded.warmup?.();
    ctx.predictor = loaded;
    ctx.logger.info({ version: loaded.version, features: loaded.features.length }, 'model loaded and warmed; ready');
  });
  // Info, not error: whoever awaits whenReady reports the failure (the CLI and the entrypoints print it once and exit).
  whenReady.catch((err: Error) => ctx.logger.info({ err: err.message }, 'model failed to load; readiness stays 503'));
  return whenReady;
}

/**
 * Routes each request, counts it in flight and in the metrics, and turns a handler's throw into a 500.
 * A request leaves the in-flight count exactly once: when its response closes, or when its connection
 * does (node:http never closes a response still queued behind another on a pipelined connection).
 * A request whose client went away before its answer was written counts under CLIENT_CLOSED_CODE.
 */
function requestListener(ctx: ServerContext): http.RequestListener {
  return (req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = ctx.routes.byPath.get(q === -1 ? url : url.slice(0, q));
    const label = route?.name ?? 'unmatched';
    const scrape = route?.kind === 'metrics';
    ctx.inFlight++;
    if (scrape) ctx.scrapes++;
    const socket = req.socket;
    const queued = res.socket === null;
    let open = true;
    const end = (): void => {
      if (!open) return;
      open = false;
      if (queued) socket.off('close', end);
      ctx.inFlight--;
      if (scrape) ctx.scrapes--;
      markAnswered(req);
      ctx.metrics.observe(label, res.writableFinished ? res.statusCode : CLIENT_CLOSED_CODE, (performance.now() - started) / 1000);
      if (ctx.inFlight === 0 && ctx.onIdle) ctx.onIdle();
    };
    res.once('close', end);
    if (queued) socket.once('close', end);
    try {
      if (!refuseUnanswerable(ctx, req, res)) dispatch(ctx, req, res, route?.kind);
    } catch (err) {
      ctx.logger.error({ err: (err as Error).message, stack: (err as Error).stack }, 'request handler failed');
      if (!res.headersSent) sendError(ctx, res, httpStatusOf('INTERNAL'), 'internal_error', 'unexpected server fault; it has been logged');
      else res.destroy();
    }
  };
}

/** The server factory: the node:http server for a context, not yet listening. */
function createServingServer(ctx: ServerContext, requestTimeoutMs: number): http.Server {
  const server = http.createServer(
    {
      // Answered by refuseUnanswerable with the JSON every other 4xx carries (node:http's own 400 has no body).
      requireHostHeader: false,
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(66_000, requestTimeoutMs),
      // How often node:http looks for requests past their timeout.
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(requestTimeoutMs / 4))),
    },
    requestListener(ctx),
  );
  // Load balancers reuse connections for up to 60 s; outlive them so they never hit a closed socket.
  server.keepAliveTimeout = 65_000;
  server.on('clientError', answerClientError(ctx, requestTimeoutMs));
  // An Expect other than 100-continue: the request listener answers 417 (node:http's own has no body).
  server.on('checkExpectation', requestListener(ctx));
  return server;
}

/** Listens on `port` (0: a free one) and resolves the port bound. */
async function listen(server: http.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** close(): stop accepting, let in-flight requests finish, cut what is left after drainTimeoutMs. Idempotent. */
function drainer(ctx: ServerContext, server: http.Server, drainTimeoutMs: number): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      ctx.draining = true;
      ctx.logger.info({ inFlight: ctx.inFlight }, 'draining: no new connections; finishing in-flight requests');
      const cutoff = setTimeout(() => {
        ctx.logger.warn({ inFlight: ctx.inFlight }, 'drain timeout: closing remaining connections');
        server.closeAllConnections();
      }, drainTimeoutMs);
      cutoff.unref();
      const idle = (): void => server.closeIdleConnections();
      ctx.onIdle = idle;
      server.close(() => {
        clearTimeout(cutoff);
        ctx.logger.info('drained; server closed');
        resolve();
      });
      idle();
    });
    return closing;
  };
}

/** close() then the capture's last flush (after the in-flight requests have recorded theirs). */
function withCaptureFlushed(close: () => Promise<void>, capture: CaptureWriter | undefined): () => Promise<void> {
  return capture ? () => close().then(() => capture.close()) : close;
}

/** One node:http server answering the SageMaker, Vertex AI and Azure ML routes (see routes.ts). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const ctx = serverContext(opts);
  const whenReady = loadModel(ctx, opts.predictor);
  const server = createServingServer(ctx, opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const host = opts.host ?? '0.0.0.0';
  const port = await listen(server, ctx.routes.port, host);
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  ctx.logger.info({ url, routes: Object.fromEntries([...ctx.routes.byPath].map(([p, r]) => [r.name, p])) }, 'serving');
  return {
    url,
    port,
    get ready() {
      return ctx.predictor !== undefined && !ctx.draining;
    },
    get inFlight() {
      return ctx.inFlight;
    },
    registry: ctx.metrics.registry,
    whenReady,
    close: withCaptureFlushed(drainer(ctx, server, opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS), opts.capture),
  };
}
