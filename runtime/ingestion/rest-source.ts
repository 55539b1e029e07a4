import * as fs from 'node:fs';
import type { IngestionConfig } from '../../config/schema';
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import { ConfigInvalidError, MlstackError } from '../common/errors';
import { isSecretPlaceholder, SECRET_PLACEHOLDER_PREFIX } from '../contract/env';
import { fingerprint } from './duplicates';
import { arrayElementTexts } from './json-slices';
import { backoffDelay, parseRetryAfter, sleep, TokenBucket } from '../common/retry';
import { atPath, type IngestionSource, type ReadStart, type SourcePage, type SourcePosition } from './types';

/** A request that failed for good (non-retryable status, or retries exhausted). */
export class SourceRequestError extends MlstackError {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super('CLOUD_CALL_FAILED', message);
    this.name = 'SourceRequestError';
  }
}

/**
 * The API's pagination does not end: it sent a cursor or next link this read already requested, the same page
 * again and again, or more pages than ingestion.max_pages. The run commits what it read before and fails.
 */
export class PaginationLoopError extends SourceRequestError {
  constructor(message: string, url: string) {
    super(message, url);
    this.name = 'PaginationLoopError';
  }
}

/** A page whose records were all sent before, this many times in a row, stops the read. */
export const REPEATED_PAGES_LIMIT = 2;

/** Tells a read that goes round in circles: positions requested twice, pages sent again and again. */
class LoopGuard {
  /** Cursors (style cursor) or URLs (style link) requested so far. */
  private readonly requested = new Set<string>();
  /** Signatures of the pages read (count, lengths, first and last record). */
  private readonly pages = new Map<number, number>();
  private repeats = 0;

  constructor(
    private readonly style: IngestionConfig['pagination']['style'],
    private readonly maxPages: number,
  ) {}

  /** Notes the position a request is for (its cursor or URL). */
  requesting(position: SourcePosition, url: string): void {
    if (this.style === 'cursor') this.requested.add(position.cursor ?? '');
    else if (this.style === 'link') this.requested.add(url);
  }

  /** After page `pageNumber` (1-based in this read): throws when its records repeat an earlier page's too often. */
  checkPage(url: string, pageNumber: number, records: readonly unknown[], rawTexts: readonly (string | undefined)[] | undefined): void {
    if (records.length === 0) return;
    const text = (i: number) => rawTexts?.[i] ?? JSON.stringify(records[i]);
    let length = 0;
    if (rawTexts !== undefined) for (const t of rawTexts) length += t?.length ?? 0;
    const signature = fingerprint([records.length, length, text(0), text(records.length - 1)]);
    const first = this.pages.get(signature);
    if (first === undefined) {
      this.pages.set(signature, pageNumber);
      this.repeats = 0;
      return;
    }
    this.repeats += 1;
    if (this.repeats >= REPEATED_PAGES_LIMIT) {
      throw new PaginationLoopError(
        `${redactUrl(url)}: the API sent the same ${records.length} records as page ${first} of this read ${this.repeats} times in a row: ` +
          `its pagination loops (check parser.json ingestion.pagination: style ${this.style} and its parameters); stopped after ${pageNumber - 1} pages`,
        url,
      );
    }
  }

  /** Before requesting `next`: the reason not to (a position requested before, or the page limit), if any. */
  checkNext(url: string, next: SourcePosition, pagesRead: number): PaginationLoopError | undefined {
    if (this.style === 'cursor' && this.requested.has(next.cursor ?? '')) {
      const cursor = next.cursor ?? '';
      return new PaginationLoopError(
        `${redactUrl(url)}: the API sent the next cursor ${JSON.stringify(cursor.length > 80 ? `${cursor.slice(0, 77)}...` : cursor)} again, ` +
          `which this read already requested: its pagination loops; stopped after ${pagesRead} pages`,
        url,
      );
    }
    if (this.style === 'link' && next.url && this.requested.has(next.url)) {
      return new PaginationLoopError(
        `${redactUrl(url)}: the API's Link rel="next" points again at ${redactUrl(next.url)}, which this read already requested: its pagination loops; stopped after ${pagesRead} pages`,
        url,
      );
    }
    if (pagesRead >= this.maxPages) {
      return new PaginationLoopError(
        `${redactUrl(url)}: the API has more than ingestion.max_pages (${this.maxPages}) pages for one run: its pagination does not end ` +
          `(raise parser.json ingestion.max_pages if the source really has more); stopped after ${pagesRead} pages`,
        url,
      );
    }
    return undefined;
  }
}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Removes credentials from a URL before it is logged or stored. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * The API token still holds the value the stack wrote into the secret (a `set-me...` placeholder): an operator
 * has not stored the real token yet. Thrown before any request, so the API never sees the placeholder.
 */
export class SecretPlaceholderError extends MlstackError {
  constructor(where: string) {
    super(
      'CONFIG_INVALID',
      `${where} holds the stack's placeholder ("${SECRET_PLACEHOLDER_PREFIX}..."), not an API token, so the environment's API secret ` +
        `still holds its placeholder: store the real token in that secret (AWS Secrets Manager, GCP Secret Manager or Azure Key Vault; ` +
        `see docs/ingestion.md) and run the job again`,
    );
    this.name = 'SecretPlaceholderError';
  }
}

/** Reads the auth header value from the configured env var or secret file; throws naming what is missing. */
export function resolveAuthHeader(config: IngestionConfig, env: NodeJS.ProcessEnv = process.env): [string, string] | undefined {
  const auth = config.auth;
  if (!auth) return undefined;
  let token: string | undefined;
  let where: string;
  if (auth.token_env !== undefined) {
    token = env[auth.token_env];
    where = `parser.json ingestion.auth.token_env names ${auth.token_env}, and that environment variable`;
    if (token === undefined || token === '') {
      throw new ConfigInvalidError(`parser.json ingestion.auth.token_env names ${auth.token_env}, but that environment variable is not set: export it with the API token`);
    }
  } else {
    where = `parser.json ingestion.auth.token_file ${auth.token_file}`;
    try {
      token = fs.readFileSync(auth.token_file as string, 'utf8').trim();
    } catch (err) {
      throw new ConfigInvalidError(`parser.json ingestion.auth.token_file ${auth.token_file} cannot be read: ${(err as Error).message}`);
    }
  }
  if (isSecretPlaceholder(token)) throw new SecretPlaceholderError(where);
  return [auth.header, auth.scheme ? `${auth.scheme} ${token}` : String(token)];
}

/** Extracts rel="next" from a Link header, resolved against the request URL. */
export function nextLink(header: string | null, base: string): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (match && /rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(match[2])) return new URL(match[1], base).toString();
  }
  return null;
}

export interface RestSourceOptions {
  url: string;
  config: IngestionConfig;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

interface FetchedPage {
  body: unknown;
  /** The body as received, for the records' raw text. */
  text: string;
  link: string | null;
}

/** A paginated JSON API read with rate limiting, timeouts and retries. */
export class RestSource implements IngestionSource {
  readonly description: string;
  readonly filtersByWatermark = true;
  readonly declaredFields?: readonly string[];
  private readonly bucket: TokenBucket;
  private readonly authHeader?: [string, string];
  private readonly logger: Logger;
  private seenFields?: string[];
  /** Requests sent, retries included (exposed for reports and tests). */
  requests = 0;
  retries = 0;

  constructor(private readonly options: RestSourceOptions) {
    const { config } = options;
    this.description = redactUrl(options.url);
    this.declaredFields = config.source_fields;
    this.bucket = new TokenBucket(config.rate_limit.per_second, config.rate_limit.burst);
    this.authHeader = resolveAuthHeader(config, options.env);
    this.logger = options.logger ?? silentLogger;
  }

  fieldNames(): readonly string[] | undefined {
    return this.declaredFields ?? this.seenFields;
  }

  /**
   * Pages in order. The next page is requested while the caller processes this one (one page ahead, within the
   * rate limit), so the API's latency overlaps the ingester's work. A prefetched page is only handed over when the
   * caller asks for it, after it has checkpointed the previous one; its failure surfaces at that point too.
   */
  async *pages(start: ReadStart): AsyncIterable<SourcePage> {
    const { pagination } = this.options.config;
    let position: SourcePosition = { ...start.position };
    let pagesRead = 0;
    const prefetch = new AbortController();
    let ahead: Promise<FetchedPage> | undefined;
    const guard = new LoopGuard(pagination.style, this.options.config.max_pages);
    try {
      for (;;) {
        if (pagination.max_pages !== undefined && pagesRead >= pagination.max_pages) return;
        const url = this.requestUrl(position, start);
        if (ahead === undefined) guard.requesting(position, url);
        const { body, text, link } = await (ahead ?? this.fetchJson(url));
        ahead = undefined;
        const records = atPath(body, this.options.config.results_path);
        if (!Array.isArray(records)) {
          throw new SourceRequestError(
            `${redactUrl(url)}: no records array at "${this.options.config.results_path}" in the response (set parser.json ingestion.results_path)`,
            url,
          );
        }
        pagesRead += 1;
        if (this.seenFields === undefined) this.seenFields = fieldsOf(records);
        const rawTexts = arrayElementTexts(text, this.options.config.results_path, records.length);
        guard.checkPage(url, pagesRead, records, rawTexts);
        const { next, done } = this.advance(position, records.length, body, link);
        const planned = pagination.max_pages !== undefined && pagesRead >= pagination.max_pages;
        // A loop is caught before the repeated position is requested: this page is handed over, then the read fails.
        const loop = done || planned ? undefined : guard.checkNext(url, next, pagesRead);
        if (!done && !planned && loop === undefined) {
          const nextUrl = this.requestUrl(next, start);
          guard.requesting(next, nextUrl);
          ahead = this.fetchJson(nextUrl, prefetch.signal);
          // Handled when awaited above; until then a failure must not count as unhandled.
          ahead.catch(() => undefined);
        }
        yield { records, rawTexts, next };
        if (loop !== undefined) throw loop;
        if (done) return;
        position = next;
      }
    } finally {
      // The caller stopped early (an error, or it has what it needs): cancel the request in flight.
      prefetch.abort(new Error('page read cancelled: the ingestion run stopped'));
    }
  }

  private requestUrl(position: SourcePosition, start: ReadStart): string {
    const { config } = this.options;
    const p = config.pagination;
    if (p.style === 'link' && position.url) return position.url;
    const url = new URL(this.options.url);
    for (const [key, value] of Object.entries(config.params)) url.searchParams.set(key, String(value));
    if (start.since !== null) url.searchParams.set(config.watermark_param, String(start.since));
    switch (p.style) {
      case 'page':
        url.searchParams.set(p.page_param, String(position.page ?? p.start_page));
        url.searchParams.set(p.size_param, String(p.page_size));
        break;
      case 'offset':
        url.searchParams.set(p.offset_param, String(position.offset ?? 0));
        url.searchParams.set(p.size_param, String(p.page_size));
        break;
      case 'cursor':
        if (position.cursor) url.searchParams.set(p.cursor_param, position.cursor);
        url.searchParams.set(p.size_param, String(p.page_size));
        break;
      case 'link':
        url.searchParams.set(p.size_param, String(p.page_size));
        break;
      case 'none':
        break;
    }
    return url.toString();
  }

  private advance(position: SourcePosition, count: number, body: unknown, link: string | null): { next: SourcePosition; done: boolean } {
    const p = this.options.config.pagination;
    const hasMore = atPath(body, 'has_more');
    // An explicit has_more wins (servers may cap the page size below what was asked); otherwise a short page ends it.
    const shortPage = count === 0 || (typeof hasMore === 'boolean' ? !hasMore : count < p.page_size);
    switch (p.style) {
      case 'page':
        return { next: { page: (position.page ?? p.start_page) + 1 }, done: shortPage };
      case 'offset':
        return { next: { offset: (position.offset ?? 0) + count }, done: shortPage };
      case 'cursor': {
        const cursor = atPath(body, p.cursor_path);
        const next = cursor === undefined || cursor === null || cursor === '' ? null : String(cursor);
        return { next: { cursor: next }, done: next === null || count === 0 };
      }
      case 'link':
        return { next: { url: link }, done: link === null || count === 0 };
      case 'none':
        return { next: {}, done: true };
    }
  }

  /** One GET with the configured retries; returns the parsed body and the Link header's next URL. */
  private async fetchJson(url: string, cancel?: AbortSignal): Promise<FetchedPage> {
    const { retries } = this.options.config;
    for (let attempt = 1; ; attempt += 1) {
      await this.bucket.take();
      cancel?.throwIfAborted();
      try {
        return await this.fetchOnce(url, cancel);
      } catch (err) {
        if (!(err instanceof RetryableError) || cancel?.aborted) throw err;
        if (attempt >= retries.max_attempts) {
          throw new SourceRequestError(`${redactUrl(url)}: gave up after ${attempt} attempts: ${err.message}`, url);
        }
        if (err.retryAfterMs !== undefined && err.retryAfterMs > retries.max_retry_after_ms) {
          throw new SourceRequestError(
            `${redactUrl(url)}: the API asked to retry after ${err.retryAfterMs} ms, more than ingestion.retries.max_retry_after_ms (${retries.max_retry_after_ms})`,
            url,
            429,
          );
        }
        const delay = err.retryAfterMs ?? backoffDelay(attempt, { baseDelayMs: retries.base_delay_ms, maxDelayMs: retries.max_delay_ms });
        this.retries += 1;
        this.logger.warn({ url: redactUrl(url), attempt, delayMs: delay, reason: err.message }, 'retrying request');
        await sleep(delay, cancel);
      }
    }
  }

  private async fetchOnce(url: string, cancel?: AbortSignal): Promise<FetchedPage> {
    const { timeout_ms } = this.options.config;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeout_ms} ms`)), timeout_ms);
    const onCancel = () => controller.abort(cancel?.reason);
    cancel?.addEventListener('abort', onCancel, { once: true });
    this.requests += 1;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.authHeader) headers[this.authHeader[0]] = this.authHeader[1];
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, { headers, signal: controller.signal });
        if (response.status === 429 || response.status >= 500) {
          const retryAfter = response.status === 429 ? parseRetryAfter(response.headers.get('retry-after')) : undefined;
          await response.body?.cancel().catch(() => undefined);
          throw new RetryableError(`HTTP ${response.status}`, retryAfter);
        }
        text = await response.text();
      } catch (err) {
        if (err instanceof RetryableError) throw err;
        // fetch rejects with a TypeError for resets and refused connections, and with the abort reason on timeout.
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new RetryableError(controller.signal.aborted ? `timed out after ${timeout_ms} ms` : `${(err as Error).message}${cause?.code ? ` (${cause.code})` : ''}`);
      }
      if (!response.ok) {
        throw new SourceRequestError(
          `${redactUrl(url)}: HTTP ${response.status} ${response.statusText}: ${text.slice(0, 200)}${response.status === 401 || response.status === 403 ? ' (check ingestion.auth and its token)' : ''}`,
          url,
          response.status,
        );
      }
      try {
        return { body: JSON.parse(text), text, link: nextLink(response.headers.get('link'), url) };
      } catch (err) {
        // A truncated body (connection cut mid-response) reads as invalid JSON: worth another try.
        throw new RetryableError(`response is not valid JSON (${(err as Error).message})`);
      }
    } finally {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    }
  }
}

function fieldsOf(records: unknown[]): string[] {
  const names = new Set<string>();
  for (const record of records) {
    if (record !== null && typeof record === 'object' && !Array.isArray(record)) for (const key of Object.keys(record)) names.add(key);
  }
  return [...names];
}
