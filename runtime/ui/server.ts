/**
 * `mlstack ui`: a read-only web app over node:http. Every page is server-rendered HTML with inline SVG (no
 * scripts, nothing fetched from elsewhere), read fresh from the store on each request. GET and HEAD only.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/logger';
import { ERROR_CODES, MlstackError, NotFoundError, UsageError, type ErrorCodeSpec } from '../common/errors';
import type { RunContext } from '../context';
import { UiCatalog } from './catalog';
import { escapeHtml, page } from './html';
import * as pages from './pages';

export interface UiServerOptions {
  ctx: RunContext;
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  logger: Logger;
}

export interface RunningUi {
  url: string;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  type: string;
  body: string | Buffer;
}

const PROJECT = '([a-z][a-z0-9-]{1,30})';
const RUN = '([A-Za-z0-9][A-Za-z0-9._-]*)';
const VERSION = '(v[1-9][0-9]*)';
/** The report is training's own HTML: it may style itself but run nothing and load nothing. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; form-action 'self'";

type Route = [RegExp, (catalog: UiCatalog, m: string[], query: URLSearchParams) => Promise<Reply>];

const html = (body: string): Reply => ({ status: 200, type: 'text/html; charset=utf-8', body });

/** The ids a compare page was asked for (`?run=a&run=b`): at least two, each well formed. */
function selected(query: URLSearchParams, name: string, pattern: string): string[] {
  const ids = query.getAll(name);
  const bad = ids.filter((id) => !new RegExp(`^${pattern}$`).test(id));
  if (bad.length) throw new UsageError(`?${name}=${bad[0]} is not a valid ${name} id`);
  if (ids.length < 2) throw new UsageError(`compare needs at least two ${name}s: tick two or more on the list (got ${ids.length}: ?${name}=a&${name}=b)`);
  return ids;
}

const ROUTES: Route[] = [
  [/^\/$/, async (c) => html(pages.experimentsPage(await c.experiments()))],
  [new RegExp(`^/experiments/${PROJECT}/runs$`), async (c, [p]) => html(pages.runsPage(p, await c.runs(p)))],
  [new RegExp(`^/experiments/${PROJECT}/runs/${RUN}$`), async (c, [p, r]) => html(pages.runPage(p, await c.run(p, r)))],
  [new RegExp(`^/experiments/${PROJECT}/compare$`), async (c, [p], q) => html(pages.compareRunsPage(p, await Promise.all(selected(q, 'run', RUN).map((r) => c.run(p, r)))))],
  [new RegExp(`^/experiments/${PROJECT}/versions$`), async (c, [p]) => html(pages.versionsPage(p, await c.versions(p), c.pins(p)))],
  [new RegExp(`^/experiments/${PROJECT}/versions/${VERSION}$`), async (c, [p, v]) => html(pages.versionPage(p, await c.version(p, v), c.pins(p)))],
  [new RegExp(`^/experiments/${PROJECT}/versions/${VERSION}/report$`), async (c, [p, v]) => ({ status: 200, type: 'text/html; charset=utf-8', body: await c.report(p, v) })],
  [
    new RegExp(`^/experiments/${PROJECT}/versions-compare$`),
    async (c, [p], q) => html(pages.compareVersionsPage(p, await Promise.all(selected(q, 'version', VERSION).map((v) => c.version(p, v))), c.pins(p))),
  ],
];

function statusOf(err: unknown): number {
  if (err instanceof UsageError) return 400;
  if (err instanceof MlstackError) return (ERROR_CODES[err.code] as ErrorCodeSpec).httpStatus ?? 500;
  return 500;
}

async function route(catalog: UiCatalog, url: URL): Promise<Reply> {
  for (const [pattern, handler] of ROUTES) {
    const m = pattern.exec(url.pathname);
    if (m) return handler(catalog, m.slice(1), url.searchParams);
  }
  throw new NotFoundError(`no page at ${url.pathname}: start from / (experiments)`);
}

async function answer(catalog: UiCatalog, req: http.IncomingMessage, logger: Logger): Promise<Reply> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { status: 405, type: 'text/plain; charset=utf-8', body: `mlstack ui is read-only: ${req.method} is not answered, only GET\n` };
  }
  try {
    return await route(catalog, new URL(req.url ?? '/', 'http://ui.local'));
  } catch (err) {
    const status = statusOf(err);
    if (status === 500) logger.error({ err, url: req.url }, 'ui page failed');
    return { status, type: 'text/html; charset=utf-8', body: page(`${status}: cannot show ${req.url ?? ''}`, [], `<p id="error">${escapeHtml((err as Error).message)}</p>`) };
  }
}

export async function startUiServer(options: UiServerOptions): Promise<RunningUi> {
  const catalog = new UiCatalog(options.ctx);
  const server = http.createServer((req, res) => {
    void answer(catalog, req, options.logger).then((reply) => {
      const csp = req.url?.endsWith('/report') && reply.status === 200 ? REPORT_CSP : PAGE_CSP;
      res.writeHead(reply.status, { 'content-type': reply.type, 'content-security-policy': csp, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : reply.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
