import * as tf from '../../runtime/model/tf';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { loadProjectConfig } from '../../config/load';
import type { ProjectConfig } from '../../config/schema';
import { endpointName } from '../../runtime/contract/aws-names';
import { invoke, InvokeError } from '../../runtime/serving/invoke';
import { loadPredictor } from '../../runtime/serving/load';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { sampleRows, writeTestPackage } from './fixtures';

const rows = sampleRows(3);

/** A loopback server for what cannot run here; `handler` answers, `seen` records each request. */
async function loopback(handler: (req: http.IncomingMessage, body: string) => Promise<{ status: number; body: string }>) {
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      const out = await handler(req, body);
      res.writeHead(out.status, { 'Content-Type': 'application/json' });
      res.end(out.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function forward(target: string, body: string): Promise<{ status: number; body: string }> {
  const res = await fetch(target, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
  return { status: res.status, body: await res.text() };
}

/** The project with gcp/azure endpoint_url set for dev, as an operator would after `cdktf output`. */
function withEndpoints(project: ProjectConfig, urls: { gcp?: string; azure?: string }): ProjectConfig {
  const copy = structuredClone(project);
  if (urls.gcp) copy.environments.dev.gcp!.endpoint_url = urls.gcp;
  if (urls.azure) copy.environments.dev.azure!.endpoint_url = urls.azure;
  return copy;
}

describe('invoke', () => {
  let project: ProjectConfig;
  let server: RunningServer;
  let expected: unknown[];

  beforeAll(async () => {
    await tf.setBackend('cpu');
    project = loadProjectConfig('config');
    const dir = makeTempDir();
    await writeTestPackage(dir, { runId: 'run-invoke' });
    server = await startServer({ predictor: await loadPredictor(dir), port: 0, host: '127.0.0.1', env: {} });
    await server.whenReady;
    expected = (JSON.parse((await forward(`${server.url}/invocations`, JSON.stringify(rows))).body) as { predictions: unknown[] }).predictions;
    expect(expected).toHaveLength(3);
  });
  afterAll(() => server.close());

  describe('local', () => {
    it('calls a running server by base URL or by route URL', async () => {
      const byBase = await invoke({ cloud: 'local', env: 'dev', project, rows, url: server.url });
      expect(byBase.predictions).toEqual(expected);
      expect(byBase.latencyMs).toBeGreaterThan(0);
      const byRoute = await invoke({ cloud: 'local', env: 'dev', project, rows, url: `${server.url}/score` });
      expect(byRoute.predictions).toEqual(expected);
    });

    it('passes the server\'s 4xx message through and names a dead URL', async () => {
      await expect(invoke({ cloud: 'local', env: 'dev', project, rows: [{ age: 1 }], url: server.url })).rejects.toThrow(/answered 400: row 0: missing feature "plan"/);
      const dead = await loopback(async () => ({ status: 200, body: '{}' }));
      await dead.close();
      await expect(invoke({ cloud: 'local', env: 'dev', project, rows, url: dead.url })).rejects.toThrow(/nothing answers at .*mlstack serve/);
      await expect(invoke({ cloud: 'local', env: 'dev', project, rows, url: 'not a url' })).rejects.toThrow(/is not a URL/);
      await expect(invoke({ cloud: 'local', env: 'dev', project, rows: [], url: server.url })).rejects.toThrow(InvokeError);
    });
  });

  describe('azure', () => {
    it('posts to the scoring URL with the key as a bearer token', async () => {
      // Stand-in for the Azure ML front end: checks the key, then forwards to our real server's scoring route.
      const front = await loopback(async (req, body) =>
        req.headers.authorization === 'Bearer k1' ? forward(`${server.url}/score`, body) : { status: 401, body: '{"message":"invalid key"}' },
      );
      try {
        const ok = await invoke({ cloud: 'azure', env: 'dev', project, rows, vars: { MLSTACK_AZURE_ENDPOINT_URL: `${front.url}/score`, MLSTACK_AZURE_ENDPOINT_KEY: 'k1' } });
        expect(ok.predictions).toEqual(expected);
        expect(JSON.parse(front.seen[0].body)).toEqual({ instances: rows });
        await expect(
          invoke({ cloud: 'azure', env: 'dev', project, rows, vars: { MLSTACK_AZURE_ENDPOINT_URL: `${front.url}/score`, MLSTACK_AZURE_ENDPOINT_KEY: 'wrong' } }),
        ).rejects.toThrow(/answered 401 \(check the endpoint key\): invalid key/);
      } finally {
        await front.close();
      }
    });

    it('posts to /score of the Container App URL from config, with no key (the stack\'s ingress takes none)', async () => {
      // Stand-in for the Container Apps ingress (port 443 -> target port 8080): forwards path and body to our real server.
      const ingress = await loopback(async (req, body) => forward(`${server.url}${req.url}`, body));
      try {
        const configured = withEndpoints(project, { azure: ingress.url });
        const result = await invoke({ cloud: 'azure', env: 'dev', project: configured, rows, vars: {} });
        expect(result.predictions).toEqual(expected);
        expect(ingress.seen[0].url).toBe('/score');
        expect(ingress.seen[0].headers.authorization).toBeUndefined();
        // The env var wins over config; a URL with a path is kept as it is.
        await invoke({ cloud: 'azure', env: 'dev', project: configured, rows, vars: { MLSTACK_AZURE_ENDPOINT_URL: `${ingress.url}/invocations` } });
        expect(ingress.seen[1].url).toBe('/invocations');
      } finally {
        await ingress.close();
      }
    });

    it('names the missing URL, and the key variable when the service asks for one', async () => {
      await expect(invoke({ cloud: 'azure', env: 'dev', project, rows, vars: {} })).rejects.toThrow(
        /azure.endpoint_url in config\/environments\/dev.json or MLSTACK_AZURE_ENDPOINT_URL to the azure-dev stack's serving_url output/,
      );
      const locked = await loopback(async () => ({ status: 401, body: '{"message":"no key"}' }));
      try {
        await expect(invoke({ cloud: 'azure', env: 'dev', project, rows, vars: { MLSTACK_AZURE_ENDPOINT_URL: locked.url } })).rejects.toThrow(
          /\/score answered 401 \(the service wants a key: set MLSTACK_AZURE_ENDPOINT_KEY\): no key/,
        );
      } finally {
        await locked.close();
      }
    });
  });

  describe('gcp (Cloud Run, the gcp stack\'s serving)', () => {
    // Cloud Run itself cannot run here: this loopback stands in for its front end, which admits a request only with
    // an ID token for the service URL, then hands path and body to the container (our real server).
    async function cloudRunFront(token: string) {
      return loopback(async (req, body) =>
        req.headers.authorization === `Bearer ${token}` ? forward(`${server.url}${req.url}`, body) : { status: 403, body: '{"message":"forbidden"}' },
      );
    }

    it('posts to /predict of the service URL with an ID token for that URL from the injected token source', async () => {
      const front = await cloudRunFront('id-token-1');
      const audiences: string[] = [];
      const tokenSource = async (audience: string) => {
        audiences.push(audience);
        return 'id-token-1';
      };
      try {
        const result = await invoke({ cloud: 'gcp', env: 'dev', project, rows, vars: { MLSTACK_GCP_ENDPOINT_URL: front.url }, gcpIdTokenSource: tokenSource });
        expect(result.predictions).toEqual(expected);
        expect(front.seen[0].url).toBe('/predict');
        expect(JSON.parse(front.seen[0].body)).toEqual({ instances: rows });
        expect(audiences).toEqual([front.url]);
        await expect(
          invoke({ cloud: 'gcp', env: 'dev', project, rows, vars: { MLSTACK_GCP_ENDPOINT_URL: front.url }, gcpIdTokenSource: async () => 'someone-else' }),
        ).rejects.toThrow(/answered 403 \(the caller needs roles\/run.invoker on the service and an ID token for http:\/\/127.0.0.1:\d+\): forbidden/);
      } finally {
        await front.close();
      }
    });

    it('takes the URL from gcp.endpoint_url in config and a ready token from MLSTACK_GCP_ID_TOKEN', async () => {
      const front = await cloudRunFront('printed-token');
      try {
        const noSource = async (): Promise<string> => {
          throw new Error('the token source must not be asked when MLSTACK_GCP_ID_TOKEN is set');
        };
        const configured = withEndpoints(project, { gcp: front.url });
        const result = await invoke({ cloud: 'gcp', env: 'dev', project: configured, rows, vars: { MLSTACK_GCP_ID_TOKEN: 'printed-token' }, gcpIdTokenSource: noSource });
        expect(result.predictions).toEqual(expected);
        expect(front.seen[0].url).toBe('/predict');
      } finally {
        await front.close();
      }
    });

    it('by default mints the ID token with google-auth-library from the metadata server, as on Cloud Run or GCE', async () => {
      // The metadata server exists only on Google Cloud: this loopback stands in for the one call google-auth-library makes.
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const idToken = ['e30', Buffer.from(JSON.stringify({ aud: 'x', exp })).toString('base64url'), 'sig'].join('.');
      const metadata = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const flavoured = req.headers['metadata-flavor'] === 'Google';
        const answers: Record<string, string> = {
          '/computeMetadata/v1/project/project-id': project.environments.dev.gcp!.project_id,
          '/computeMetadata/v1/instance/service-accounts/default/identity': idToken,
        };
        const answer = flavoured ? answers[url.pathname] : undefined;
        res.writeHead(answer ? 200 : 404, { 'Metadata-Flavor': 'Google', 'Content-Type': 'text/plain' });
        res.end(answer ?? 'unknown');
        if (url.pathname.endsWith('/identity')) requested.push(url.searchParams.get('audience') ?? '');
        else if (!answer) requested.push(`unexpected ${req.url}`);
      });
      const requested: string[] = [];
      await new Promise<void>((r) => metadata.listen(0, '127.0.0.1', r));
      const saved = { host: process.env.GCE_METADATA_HOST, detect: process.env.METADATA_SERVER_DETECTION, creds: process.env.GOOGLE_APPLICATION_CREDENTIALS };
      process.env.GCE_METADATA_HOST = `127.0.0.1:${(metadata.address() as AddressInfo).port}`;
      process.env.METADATA_SERVER_DETECTION = 'assume-present';
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      const front = await cloudRunFront(idToken);
      try {
        const result = await invoke({ cloud: 'gcp', env: 'dev', project, rows, vars: { MLSTACK_GCP_ENDPOINT_URL: front.url } });
        expect(result.predictions).toEqual(expected);
        expect(requested).toEqual([front.url]);
      } finally {
        for (const [name, value] of [['GCE_METADATA_HOST', saved.host], ['METADATA_SERVER_DETECTION', saved.detect], ['GOOGLE_APPLICATION_CREDENTIALS', saved.creds]] as const) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        await front.close();
        await new Promise<void>((r) => metadata.close(() => r()));
      }
    });

    it('names the config key and env vars to set when the URL or the credentials are missing', async () => {
      await expect(invoke({ cloud: 'gcp', env: 'qa', project, rows, vars: {} })).rejects.toThrow(
        /set gcp.endpoint_url in config\/environments\/qa.json or MLSTACK_GCP_ENDPOINT_URL to the gcp-qa stack's serving_url output.*or set MLSTACK_VERTEX_ENDPOINT/,
      );
      const failing = async (): Promise<string> => {
        throw new Error('Could not load the default credentials');
      };
      await expect(invoke({ cloud: 'gcp', env: 'qa', project, rows, vars: { MLSTACK_GCP_ENDPOINT_URL: 'https://churn-qa-abc.a.run.app' }, gcpIdTokenSource: failing })).rejects.toThrow(
        /no Google ID token for https:\/\/churn-qa-abc.a.run.app: set GOOGLE_APPLICATION_CREDENTIALS .* MLSTACK_GCP_ID_TOKEN=\$\(gcloud auth print-identity-token\) \(Could not load the default credentials\)/,
      );
      await expect(invoke({ cloud: 'gcp', env: 'qa', project, rows, vars: { MLSTACK_GCP_ENDPOINT_URL: 'run.app' } })).rejects.toThrow(/the Cloud Run serving URL "run.app" is not a URL/);
    });
  });

  describe('gcp (Vertex AI, when MLSTACK_VERTEX_ENDPOINT is set)', () => {
    it('calls Vertex AI predict on the endpoint resource and decodes the predictions', async () => {
      // Stand-in for the Vertex AI REST API (no emulator exists): forwards the instances to our real server.
      const vertex = await loopback(async (_req, body) => {
        const out = await forward(`${server.url}/predict`, JSON.stringify({ instances: JSON.parse(body).instances }));
        return { status: 200, body: JSON.stringify({ predictions: JSON.parse(out.body).predictions, deployedModelId: 'dm-1' }) };
      });
      // Stand-in for Google OAuth: the client only needs fetch() with a bearer token.
      const authClient = {
        getRequestHeaders: async () => new Headers({ Authorization: 'Bearer t' }),
        fetch: (url: string, init: RequestInit) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), Authorization: 'Bearer t' } }),
      };
      try {
        const result = await invoke({ cloud: 'gcp', env: 'dev', project, rows, vars: { MLSTACK_VERTEX_ENDPOINT: '123', MLSTACK_VERTEX_API_ENDPOINT: vertex.url }, gcpAuthClient: authClient });
        expect(result.predictions).toEqual(expected);
        expect(vertex.seen[0].url.split('?')[0]).toBe(`/v1/projects/${project.environments.dev.gcp!.project_id}/locations/${project.environments.dev.gcp!.region}/endpoints/123:predict`);
        expect(vertex.seen[0].headers.authorization).toBe('Bearer t');
        expect((result.raw as { deployed_model_id: string }).deployed_model_id).toBe('dm-1');
      } finally {
        await vertex.close();
      }
    });

  });

  (motoAvailable() ? describe : describe.skip)('aws (moto_server)', () => {
    let moto: MotoServer;
    beforeAll(async () => {
      moto = await startMoto();
    });
    afterAll(() => moto.stop());

    it('calls InvokeEndpoint on ${endpoint_name}-${env} and returns its predictions', async () => {
      const name = endpointName(project.pipeline, 'staging');
      expect(name).toBe(`${project.pipeline.endpoint_name}-staging`);
      const region = project.environments.staging.aws!.region;
      const sm = new SageMakerClient({ region, endpoint: moto.endpoint });
      await sm.send(new CreateModelCommand({ ModelName: `${name}-model`, ExecutionRoleArn: 'arn:aws:iam::123456789012:role/sm', PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:latest' } }));
      await sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: `${name}-config`, ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `${name}-model`, InitialInstanceCount: 1, InstanceType: 'ml.c5.large' }] }));
      await sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: `${name}-config` }));
      expect((await sm.send(new DescribeEndpointCommand({ EndpointName: name }))).EndpointName).toBe(name);
      // moto answers InvokeEndpoint from a queue: put our real server's answer for these rows in it.
      const queued = await fetch(`${moto.endpoint}/moto-api/static/sagemaker/endpoint-results`, {
        method: 'POST',
        body: JSON.stringify({ region, results: [{ Body: JSON.stringify({ predictions: expected, model_version: 'run-invoke' }), ContentType: 'application/json', InvokedProductionVariant: 'AllTraffic', CustomAttributes: '' }] }),
      });
      expect(queued.status).toBe(201);
      const result = await invoke({ cloud: 'aws', env: 'staging', project, rows, awsEndpointUrl: moto.endpoint });
      expect(result.predictions).toEqual(expected);
      expect((result.raw as { model_version: string }).model_version).toBe('run-invoke');
    });

    it('explains missing AWS credentials', async () => {
      const saved = { ...process.env };
      try {
        delete process.env.AWS_ACCESS_KEY_ID;
        delete process.env.AWS_SECRET_ACCESS_KEY;
        delete process.env.AWS_PROFILE;
        process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
        process.env.AWS_CONFIG_FILE = '/nonexistent/config';
        process.env.AWS_EC2_METADATA_DISABLED = 'true';
        await expect(invoke({ cloud: 'aws', env: 'dev', project, rows, awsEndpointUrl: moto.endpoint })).rejects.toThrow(/no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/);
      } finally {
        process.env = saved;
      }
    });
  });
});
