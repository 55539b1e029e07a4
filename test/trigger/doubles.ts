/**
 * TEST DOUBLES of cloud control planes that cannot run here: the GCE metadata server's token endpoint,
 * the Cloud Run Admin API (jobs.run), the Container Apps managed identity endpoint and Azure Resource
 * Manager (Azure ML environment versions and jobs). Each is a thin loopback server that records what it
 * received and answers the few calls the trigger makes, with the documented response shapes; anything
 * else answers 404/501 so an unexpected call shows up in a test.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** A canned answer (fault injection); undefined answers normally. */
export type Override = (request: RecordedRequest) => { status: number; body: unknown } | undefined;

interface Double {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

async function serve(handle: (request: RecordedRequest) => Answer): Promise<Double> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://double');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
    requests.push(request);
    const answer = handle(request);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';

/** The GCE metadata server as google-auth-library reaches it through GCE_METADATA_HOST (token only). */
export async function startMetadataDouble(accessToken: string): Promise<Double & { host: string }> {
  const double = await serve((request): Answer => {
    if (request.headers['metadata-flavor'] !== 'Google') return { status: 403, body: 'missing Metadata-Flavor', headers: { 'metadata-flavor': 'Google' } };
    if (request.path === METADATA_TOKEN_PATH) {
      return { status: 200, body: { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }, headers: { 'metadata-flavor': 'Google' } };
    }
    return { status: 404, body: 'not found', headers: { 'metadata-flavor': 'Google', 'content-type': 'text/plain' } };
  });
  return { ...double, host: double.url.replace(/^http:\/\//, '') };
}

/** Cloud Run Admin API v2: POST /v2/projects/p/locations/r/jobs/j:run answers a long-running Operation whose metadata is the Execution. */
export async function startCloudRunDouble(override?: Override): Promise<Double & { executions: string[] }> {
  const executions: string[] = [];
  const double = await serve((request) => {
    const overridden = override?.(request);
    if (overridden) return overridden;
    const match = /^\/v2\/(projects\/[^/]+\/locations\/([^/]+)\/jobs\/[^/:]+):run$/.exec(request.path);
    if (request.method !== 'POST' || !match) return { status: 501, body: { error: { code: 501, message: `not in the double: ${request.method} ${request.path}`, status: 'UNIMPLEMENTED' } } };
    const execution = `${match[1]}/executions/${match[1].split('/').pop()}-${String(executions.length + 1).padStart(5, '0')}`;
    executions.push(execution);
    return {
      status: 200,
      body: {
        name: `projects/${match[1].split('/')[1]}/locations/${match[2]}/operations/op-${executions.length}`,
        metadata: { '@type': 'type.googleapis.com/google.cloud.run.v2.Execution', name: execution },
        done: false,
      },
    };
  });
  return { ...double, executions };
}

/** The Container Apps / App Service managed identity endpoint (IDENTITY_ENDPOINT, header X-IDENTITY-HEADER). */
export async function startManagedIdentityDouble(secret: string, accessToken: string): Promise<Double & { endpoint: string }> {
  const double = await serve((request) => {
    if (request.headers['x-identity-header'] !== secret) return { status: 401, body: { error: 'bad identity header' } };
    if (request.path !== '/msi/token') return { status: 404, body: { error: 'not found' } };
    return {
      status: 200,
      body: {
        access_token: accessToken,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource: request.query.resource,
        token_type: 'Bearer',
        client_id: request.query.client_id,
      },
    };
  });
  return { ...double, endpoint: `${double.url}/msi/token` };
}

/** ARM for Azure ML: environment versions and jobs, kept in memory (GET of a job that was PUT answers it). */
export async function startArmDouble(override?: Override): Promise<Double & { jobs: Map<string, unknown> }> {
  const jobs = new Map<string, unknown>();
  const double = await serve((request) => {
    const overridden = override?.(request);
    if (overridden) return overridden;
    const workspace = '^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.MachineLearningServices/workspaces/[^/]+';
    if (new RegExp(`${workspace}/environments/[^/]+/versions/[^/]+$`).test(request.path) && request.method === 'PUT') {
      return { status: 201, body: { id: request.path, name: request.path.split('/').pop(), properties: (request.body as { properties: unknown }).properties } };
    }
    if (new RegExp(`${workspace}/jobs/[^/]+$`).test(request.path)) {
      if (request.method === 'GET') {
        const job = jobs.get(request.path);
        return job ? { status: 200, body: job } : { status: 404, body: { error: { code: 'UserError', message: `job ${request.path.split('/').pop()} not found` } } };
      }
      if (request.method === 'PUT') {
        const job = { id: request.path, name: request.path.split('/').pop(), properties: { ...(request.body as { properties: object }).properties, status: 'NotStarted' } };
        jobs.set(request.path, job);
        return { status: 201, body: job };
      }
    }
    return { status: 501, body: { error: { code: 'NotImplemented', message: `not in the double: ${request.method} ${request.path}` } } };
  });
  return { ...double, jobs };
}
