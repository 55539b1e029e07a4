import { requireCloud } from '../../config/load';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';
import { endpointName } from '../contract/aws-names';
import { ENV } from '../contract/env';
import { CloudCallError, MlstackError } from '../common/errors';

export const INVOKE_CLOUDS = ['aws', 'gcp', 'azure', 'local'] as const;
export type InvokeCloud = (typeof INVOKE_CLOUDS)[number];

export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:8080';

/** Env vars `invoke` reads (documented in docs/serving.md). */
export const INVOKE_ENV = {
  /** Cloud Run service URL of the gcp stack (its serving_url output; overrides gcp.endpoint_url in config). */
  gcpUrl: ENV.gcpEndpointUrl,
  /** A ready Google ID token for the service (e.g. `gcloud auth print-identity-token`); else Application Default Credentials mint one. */
  gcpIdToken: ENV.gcpIdToken,
  /** Vertex AI endpoint: its numeric id or full resource name projects/P/locations/L/endpoints/ID. When set, `--cloud gcp` calls Vertex AI instead of Cloud Run. */
  vertexEndpoint: ENV.vertexEndpoint,
  /** Vertex AI API base URL override (default https://<region>-aiplatform.googleapis.com). */
  vertexApi: ENV.vertexApiEndpoint,
  /** Container App URL of the azure stack (its serving_url output; overrides azure.endpoint_url in config). */
  azureUrl: ENV.azureEndpointUrl,
  /** Optional key sent as a bearer token: the stack's Container App takes none; an Azure ML online endpoint needs one. */
  azureKey: ENV.azureEndpointKey,
} as const;

/** The predict route each stack's service answers on (runtime/serving/routes.ts); a base URL gets it appended. */
export const PREDICT_ROUTES = { gcp: '/predict', azure: '/score', local: '/invocations' } as const;

/** Returns a Google ID token whose audience is `audience` (the Cloud Run service URL). */
export type IdTokenSource = (audience: string) => Promise<string>;

export interface InvokeOptions {
  cloud: InvokeCloud;
  env: EnvironmentName;
  project: ProjectConfig;
  rows: Record<string, unknown>[];
  /** local: server base URL (default http://127.0.0.1:8080) or a full route URL; gcp, azure: overrides the service URL. */
  url?: string;
  /** Where credentials and endpoint overrides are read. @default process.env */
  vars?: NodeJS.ProcessEnv;
  /** AWS: SageMaker runtime endpoint URL (moto in tests); the SDK also honours AWS_ENDPOINT_URL. */
  awsEndpointUrl?: string;
  /** GCP Vertex AI: what gives the Authorization header (tests pass a stub). @default Application Default Credentials (google-auth-library) */
  gcpAuthClient?: unknown;
  /** GCP Cloud Run: where ID tokens come from. @default Application Default Credentials (google-auth-library) */
  gcpIdTokenSource?: IdTokenSource;
  timeoutMs?: number;
}

export interface InvokeResult {
  predictions: unknown[];
  latencyMs: number;
  /** The endpoint's whole response. */
  raw: unknown;
}

/** A failed call, with what to do about it. */
export class InvokeError extends MlstackError {
  constructor(message: string) {
    super('CLOUD_CALL_FAILED', message);
    this.name = 'InvokeError';
  }
}

/** Sends rows to the model deployed for `env` on `cloud` and returns its predictions. */
export async function invoke(opts: InvokeOptions): Promise<InvokeResult> {
  if (opts.rows.length === 0) throw new InvokeError('no rows to send: give at least one row');
  const started = performance.now();
  const raw = await CALLERS[opts.cloud](opts);
  const latencyMs = performance.now() - started;
  const predictions = (raw as { predictions?: unknown })?.predictions;
  if (!Array.isArray(predictions)) {
    throw new InvokeError(`the ${opts.cloud} endpoint answered without a "predictions" array: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  return { predictions, latencyMs, raw };
}

const CALLERS: Record<InvokeCloud, (opts: InvokeOptions) => Promise<unknown>> = {
  local: invokeLocal,
  azure: invokeAzure,
  aws: invokeSageMaker,
  gcp: invokeGcp,
};

/** A base URL (no path) gets the service's predict route; a URL with a path is used as it is. */
function predictUrl(text: string, what: string, route: string): string {
  const parsed = parseUrl(text, what);
  return parsed.pathname === '/' ? new URL(route, parsed).href : parsed.href;
}

async function invokeLocal(opts: InvokeOptions): Promise<unknown> {
  const url = predictUrl(opts.url ?? DEFAULT_LOCAL_URL, '--url', PREDICT_ROUTES.local);
  return postJson(url, { instances: opts.rows }, {}, opts.timeoutMs, `nothing answers at ${url}: start a server with \`mlstack serve --model <version>\` or pass --url`);
}

/** The azure stack serves on a Container App (external ingress, target port 8080) with no key; /score is its predict route. */
async function invokeAzure(opts: InvokeOptions): Promise<unknown> {
  const vars = opts.vars ?? process.env;
  const configured = opts.url ?? vars[INVOKE_ENV.azureUrl] ?? opts.project.environments[opts.env].azure?.endpoint_url;
  if (!configured) {
    throw new InvokeError(
      `no Azure serving URL for ${opts.env}: set azure.endpoint_url in config/environments/${opts.env}.json or ${INVOKE_ENV.azureUrl} ` +
        `to the azure-${opts.env} stack's serving_url output (cdktf output azure-${opts.env})`,
    );
  }
  const url = predictUrl(configured, 'the Azure serving URL', PREDICT_ROUTES.azure);
  const key = vars[INVOKE_ENV.azureKey];
  return postJson(url, { instances: opts.rows }, key ? { Authorization: `Bearer ${key}` } : {}, opts.timeoutMs, `the Azure service ${url} does not answer`, {
    authHint: key ? 'check the endpoint key' : `the service wants a key: set ${INVOKE_ENV.azureKey}`,
  });
}

/** Cloud Run (the gcp stack's serving) unless MLSTACK_VERTEX_ENDPOINT names a Vertex AI endpoint. */
async function invokeGcp(opts: InvokeOptions): Promise<unknown> {
  const vars = opts.vars ?? process.env;
  const vertexEndpoint = vars[INVOKE_ENV.vertexEndpoint];
  return vertexEndpoint ? invokeVertex(opts, vertexEndpoint) : invokeCloudRun(opts);
}

/** The gcp stack's Cloud Run service admits only callers with roles/run.invoker, shown by an ID token for its URL. */
async function invokeCloudRun(opts: InvokeOptions): Promise<unknown> {
  const vars = opts.vars ?? process.env;
  const configured = opts.url ?? vars[INVOKE_ENV.gcpUrl] ?? opts.project.environments[opts.env].gcp?.endpoint_url;
  if (!configured) {
    throw new InvokeError(
      `no Cloud Run serving URL for ${opts.env}: set gcp.endpoint_url in config/environments/${opts.env}.json or ${INVOKE_ENV.gcpUrl} ` +
        `to the gcp-${opts.env} stack's serving_url output (cdktf output gcp-${opts.env}); ` +
        `or set ${INVOKE_ENV.vertexEndpoint} to call a Vertex AI endpoint instead`,
    );
  }
  const url = predictUrl(configured, 'the Cloud Run serving URL', PREDICT_ROUTES.gcp);
  const audience = new URL(url).origin;
  const token = vars[INVOKE_ENV.gcpIdToken] || (await idTokenFor(audience, opts.gcpIdTokenSource ?? googleIdToken));
  return postJson(url, { instances: opts.rows }, { Authorization: `Bearer ${token}` }, opts.timeoutMs, `the Cloud Run service ${url} does not answer`, {
    authHint: `the caller needs roles/run.invoker on the service and an ID token for ${audience}`,
  });
}

async function idTokenFor(audience: string, source: IdTokenSource): Promise<string> {
  try {
    const token = await source(audience);
    if (!token) throw new CloudCallError('the token source returned no token');
    return token;
  } catch (err) {
    throw new InvokeError(
      `no Google ID token for ${audience}: set GOOGLE_APPLICATION_CREDENTIALS to a service account key, run on Google Cloud, ` +
        `or set ${INVOKE_ENV.gcpIdToken}=$(gcloud auth print-identity-token) (${(err as Error).message})`,
    );
  }
}

/** Application Default Credentials: a service account key, the metadata server, or workload identity. */
const googleIdToken: IdTokenSource = async (audience) => {
  const { GoogleAuth } = await import('google-auth-library');
  const client = await new GoogleAuth().getIdTokenClient(audience);
  const headers: unknown = await client.getRequestHeaders(audience);
  const authorization = headers instanceof Headers ? headers.get('authorization') : (headers as Record<string, string>).Authorization;
  return (authorization ?? '').replace(/^Bearer /, '');
};

async function invokeSageMaker(opts: InvokeOptions): Promise<unknown> {
  const { SageMakerRuntimeClient, InvokeEndpointCommand } = await import('@aws-sdk/client-sagemaker-runtime');
  const region = requireCloud(opts.project.environments[opts.env], 'aws').aws.region;
  const name = endpointName(opts.project.pipeline, opts.env);
  const client = new SageMakerRuntimeClient({ region, ...(opts.awsEndpointUrl ? { endpoint: opts.awsEndpointUrl } : {}), maxAttempts: 2 });
  try {
    const out = await client.send(
      new InvokeEndpointCommand({
        EndpointName: name,
        ContentType: 'application/json',
        Accept: 'application/json',
        Body: Buffer.from(JSON.stringify({ instances: opts.rows })),
      }),
      { abortSignal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) },
    );
    return parseJson(Buffer.from(out.Body ?? new Uint8Array()).toString('utf8'), `SageMaker endpoint ${name}`);
  } catch (err) {
    throw explainAwsError(err as Error & { name?: string }, name, region);
  } finally {
    client.destroy();
  }
}

function explainAwsError(err: Error, name: string, region: string): Error {
  if (err instanceof InvokeError) return err;
  if (err.name === 'CredentialsProviderError' || /credential/i.test(err.message)) {
    return new InvokeError(`no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${err.message})`);
  }
  if (/not found|Could not find endpoint/i.test(err.message)) {
    return new InvokeError(`SageMaker endpoint "${name}" not found in ${region}: deploy it first (npx cdk deploy MlStack-<env>) (${err.message})`);
  }
  return new InvokeError(`SageMaker InvokeEndpoint on "${name}" (${region}) failed: ${err.name}: ${err.message}`);
}

/** The Authorization header for Google APIs: Application Default Credentials (cloud-platform scope), or `client`. */
async function googleAuthorization(client: unknown): Promise<string> {
  type HeaderSource = { getRequestHeaders(): Promise<Headers | Record<string, string>> };
  const { GoogleAuth } = await import('google-auth-library');
  const source = (client as HeaderSource | undefined) ?? ((await new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' }).getClient()) as HeaderSource);
  const headers = await source.getRequestHeaders();
  const authorization = headers instanceof Headers ? headers.get('authorization') : (headers.Authorization ?? headers.authorization);
  if (!authorization) throw new CloudCallError('the credentials gave no Authorization header');
  return authorization;
}

/**
 * Vertex AI's REST predict method (POST .../v1/{endpoint}:predict). `endpointSetting`: the value of
 * MLSTACK_VERTEX_ENDPOINT, an endpoint id or its full resource name.
 */
async function invokeVertex(opts: InvokeOptions, endpointSetting: string): Promise<unknown> {
  const vars = opts.vars ?? process.env;
  const { gcp } = requireCloud(opts.project.environments[opts.env], 'gcp');
  const endpoint = endpointSetting.includes('/') ? endpointSetting : `projects/${gcp.project_id}/locations/${gcp.region}/endpoints/${endpointSetting}`;
  const api = vars[INVOKE_ENV.vertexApi] ? parseUrl(vars[INVOKE_ENV.vertexApi] as string, INVOKE_ENV.vertexApi).origin : `https://${gcp.region}-aiplatform.googleapis.com`;
  let authorization: string;
  try {
    authorization = await googleAuthorization(opts.gcpAuthClient);
  } catch (err) {
    throw new InvokeError(`no Google Cloud credentials: run \`gcloud auth application-default login\` or set GOOGLE_APPLICATION_CREDENTIALS (${(err as Error).message})`);
  }
  const response = (await postJson(`${api}/v1/${endpoint}:predict`, { instances: opts.rows, parameters: {} }, { Authorization: authorization }, opts.timeoutMs, `Vertex AI predict on ${endpoint}: ${api} does not answer`, {
    authHint: 'the caller needs roles/aiplatform.user (aiplatform.endpoints.predict) on the endpoint',
  })) as { predictions?: unknown[]; deployedModelId?: string; modelVersionId?: string };
  return { predictions: response.predictions, deployed_model_id: response.deployedModelId, model_version_id: response.modelVersionId };
}

async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs = 60_000,
  unreachable: string,
  { authHint = 'check the endpoint key' }: { authHint?: string } = {},
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new InvokeError(`${unreachable} (${cause})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    const hint = res.status === 401 || res.status === 403 ? ` (${authHint})` : '';
    throw new InvokeError(`${url} answered ${res.status}${hint}: ${message}`);
  }
  return parseJson(text, url);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvokeError(`${source} answered with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

function parseUrl(text: string, what: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new InvokeError(`${what} "${text}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
}
