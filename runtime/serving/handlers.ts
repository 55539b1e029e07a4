/**
 * What the server answers on each route, over one ServerContext: the predict handler (body limits,
 * parsing, validation, the model), readiness, liveness, metrics and the 404 for everything else.
 */
import { randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import type { Registry } from 'prom-client';
import { httpStatusOf } from '../common/errors';
import type { Logger } from '../common/logger';
import type { CaptureWriter } from '../monitoring/capture';
import { readBody } from './body';
import { closeAfterResponse } from './linger';
import { bodyFormat, parseRows, validateRows, type BodyFormat } from './input';
import type { ServerMetrics } from './metrics';
import { InputError, type Prediction, type Predictor } from './predictor';
import { predictionsBody } from './response';
import type { RouteKind, RouteTable } from './routes';

/** One server's settings and live state, shared by its handlers. */
export interface ServerContext {
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly routes: RouteTable;
  readonly maxBatchSize: number;
  readonly maxBodyBytes: number;
  /** Readiness also waits for this (a cluster worker's: every worker's model is loaded). */
  readonly readinessGate: () => boolean;
  readonly renderMetrics: (registry: Registry) => Promise<string>;
  /** Set once the model is loaded and warmed. */
  predictor: Predictor | undefined;
  draining: boolean;
  inFlight: number;
  /** The /metrics requests among inFlight (the gauge leaves them out, so an idle server reads 0). */
  scrapes: number;
  /** Called when the last in-flight request ends (set once draining starts). */
  onIdle: (() => void) | undefined;
  /** Writes a sampled share of requests and their predictions to the store (runtime/monitoring/capture.ts). */
  readonly capture?: CaptureWriter;
}

type JsonBody = Record<string, unknown>;

function send(ctx: ServerContext, res: http.ServerResponse, status: number, body: string | JsonBody, contentType = 'application/json'): void {
  // Already answered (a framing error answered this request while its handler waited): one answer only.
  if (res.headersSent) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) };
  if (ctx.draining) headers.Connection = 'close';
  if (ctx.predictor) headers['X-Model-Version'] = ctx.predictor.version;
  res.writeHead(status, headers);
  res.end(text);
}

export function sendError(ctx: ServerContext, res: http.ServerResponse, status: number, reason: string, message: string, details: object = {}): void {
  ctx.metrics.error(status, reason);
  send(ctx, res, status, { error: reason, message, ...details });
}

/** The predictions for a body: the model's JSON fast path when it answers, else parse, validate (an InputError names any problem) and predict. */
function predictBody(model: Predictor, body: Buffer, format: BodyFormat, maxBatchSize: number): Prediction[] {
  const fast = format === 'json' ? model.predictJson?.(body, maxBatchSize) : undefined;
  if (fast) return fast;
  const rows = parseRows(body.toString('utf8'), format, model.features);
  validateRows(rows, model, maxBatchSize);
  return model.predict(rows);
}

/** POST on the predict route: method, media type and body limits first, then the model. */
function handlePredict(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'POST') {
    req.resume();
    res.setHeader('Allow', 'POST');
    return sendError(ctx, res, httpStatusOf('METHOD_NOT_ALLOWED'), 'method_not_allowed', `use POST for ${req.url} (got ${req.method})`, { expected: 'POST' });
  }
  let format: BodyFormat;
  try {
    format = bodyFormat(req.headers['content-type']);
  } catch (err) {
    req.resume();
    const e = err as InputError;
    return sendError(ctx, res, e.status, 'unsupported_media_type', e.message, e.details);
  }
  readBody(req, ctx.maxBodyBytes, (body) => {
    if (Buffer.isBuffer(body)) return answerPrediction(ctx, req, res, body, format);
    if (body.closeConnection) closeAfterResponse(req, res);
    sendError(ctx, res, body.status, body.reason, body.message, body.details);
  });
}

/** The caller's request id (X-Request-Id, X-Amzn-RequestId) when it sends one and it is sane, else a new UUID. */
function requestIdOf(req: http.IncomingMessage): string {
  const given = req.headers['x-request-id'] ?? req.headers['x-amzn-requestid'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

function answerPrediction(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, format: BodyFormat): void {
  const model = ctx.predictor;
  if (!model) return sendError(ctx, res, httpStatusOf('MODEL_NOT_READY'), 'not_ready', 'the model is still loading; retry shortly');
  try {
    const predictions = predictBody(model, body, format, ctx.maxBatchSize);
    ctx.metrics.predicted(predictions.length);
    const captured = ctx.capture?.sample() ? requestIdOf(req) : undefined;
    if (captured) res.setHeader('X-Request-Id', captured);
    send(ctx, res, 200, predictionsBody(predictions, model.version));
    if (captured) ctx.capture?.record(captured, model.version, () => parseRows(body.toString('utf8'), format, model.features), predictions);
  } catch (err) {
    if (err instanceof InputError) {
      ctx.logger.info({ path: req.url, status: err.status, msg: err.message }, 'rejected request');
      return sendError(ctx, res, err.status, err.code === 'PAYLOAD_TOO_LARGE' ? 'too_many_rows' : 'bad_request', err.message, err.details);
    }
    ctx.logger.error({ err: (err as Error).message, stack: (err as Error).stack }, 'prediction failed');
    sendError(ctx, res, httpStatusOf('INTERNAL'), 'internal_error', 'the model failed on valid input; this is a server fault and has been logged');
  }
}

/** The readiness answer: 200 only with a loaded model, not draining, and the gate open (else MODEL_NOT_READY's 503). */
function readiness(ctx: ServerContext): { status: number; body: JsonBody } {
  if (ctx.predictor && !ctx.draining && ctx.readinessGate()) return { status: 200, body: { status: 'ready', model_version: ctx.predictor.version } };
  return { status: httpStatusOf('MODEL_NOT_READY'), body: { status: ctx.draining ? 'draining' : ctx.predictor ? 'waiting for the other workers' : 'loading' } };
}

/** Answers one request on the route of `kind` (undefined: no route matched). */
export function dispatch(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse, kind: RouteKind | undefined): void {
  if (kind === 'predict') return handlePredict(ctx, req, res);
  req.resume();
  switch (kind) {
    case 'liveness':
      return send(ctx, res, 200, { status: 'alive' });
    case 'readiness': {
      const { status, body } = readiness(ctx);
      return send(ctx, res, status, body);
    }
    case 'metrics':
      ctx.renderMetrics(ctx.metrics.registry).then(
        (text) => send(ctx, res, 200, text, ctx.metrics.registry.contentType),
        (err: Error) => sendError(ctx, res, httpStatusOf('INTERNAL'), 'internal_error', `metrics failed: ${err.message}`),
      );
      return;
    default:
      return sendError(ctx, res, httpStatusOf('NOT_FOUND'), 'not_found', `no route ${truncatePath(req.url)}; see docs/serving.md for the routes`, {
        expected: [...ctx.routes.byPath.keys()].join(', '),
      });
  }
}

function truncatePath(url: string | undefined): string {
  const text = url ?? '/';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
