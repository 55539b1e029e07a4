import { backoffDelay, sleep } from '../common/retry';
import { MlstackError } from '../common/errors';

/** A control-plane call that failed for good; the message names the request and what the API said. */
export class TriggerError extends MlstackError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('TRIGGER_FAILED', message);
    this.name = 'TriggerError';
  }
}

export interface JsonRequest {
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  token: string;
  body?: unknown;
  /** Attempts in all; only idempotent calls should retry (a retried jobs.run could start two executions). */
  attempts?: number;
  timeoutMs?: number;
}

export interface JsonResponse {
  status: number;
  body: unknown;
  text: string;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/**
 * One JSON call with a bearer token. Answers every HTTP status to the caller (a 404 can be an answer);
 * retries 429/5xx and connection failures up to `attempts`, then throws a TriggerError.
 */
export async function sendJson(request: JsonRequest): Promise<JsonResponse> {
  const attempts = request.attempts ?? 1;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: {
          authorization: `Bearer ${request.token}`,
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
      });
      const text = await response.text();
      if (!RETRYABLE.has(response.status) || attempt >= attempts) return { status: response.status, body: parseJson(text), text };
    } catch (err) {
      if (attempt >= attempts) {
        const cause = (err as { cause?: { code?: string } }).cause;
        throw new TriggerError(`${request.method} ${request.url}: ${(err as Error).message}${cause?.code ? ` (${cause.code})` : ''}`);
      }
    }
    await sleep(backoffDelay(attempt, { baseDelayMs: 500, maxDelayMs: 8000 }));
  }
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The API's own error message (Google `{error:{message}}`, ARM `{error:{code,message}}`), else the body's start. */
export function apiErrorMessage(response: JsonResponse): string {
  const error = (response.body as { error?: { code?: unknown; message?: unknown; status?: unknown } } | undefined)?.error;
  if (error && typeof error.message === 'string') {
    const code = typeof error.code === 'string' ? error.code : typeof error.status === 'string' ? error.status : undefined;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return response.text.slice(0, 300) || '(empty body)';
}
