/**
 * Azure: the ingestion entrypoint, started with the variables the azure stack sets (ingestionLaunch with an
 * azureml trigger), writes a run into Blob storage (Azurite) and then submits an Azure ML command job through
 * ARM, authenticated by the Container Apps managed identity endpoint (both doubles, see ./doubles.ts).
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadProjectConfig } from '../../config/load';
import { ENV, ingestionLaunch, PLATFORM_ENV } from '../../runtime/contract/env';
import { processedRunPrefix, storagePaths, SUCCESS_MARKER } from '../../runtime/contract/layout';
import { main } from '../../runtime/ingestion/entrypoint';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { AzureBlobObjectStore } from '../../runtime/storage/azure-blob-store';
import { azuriteAvailable, startAzurite, type Azurite } from '../helpers/azurite';
import { copyConfig } from '../helpers/tmp';
import { startArmDouble, startManagedIdentityDouble, type Override } from './doubles';

const WORKSPACE = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/mlstack-dev-rg/providers/Microsoft.MachineLearningServices/workspaces/mlstack-dev-ws';
const IMAGE = 'mlstackdevacr.azurecr.io/training-gpu:1.4.0';
const TRAINING_IDENTITY = '11111111-1111-1111-1111-111111111111';
const INGESTION_IDENTITY = '22222222-2222-2222-2222-222222222222';
const IDENTITY_SECRET = 'identity-header-secret';
const ARM_TOKEN = 'arm-access-token';
const BUCKET = 'az://mlstackdevdata/mlstack';
const ENV_VERSION = `1.4.0-${createHash('sha256').update(IMAGE).digest('hex').slice(0, 10)}`;

/** A run's processed folder in the container: `<processed><project>/<run>/` in the repo config's dev layout on azure. */
function processedPrefix(runId: string): string {
  const config = loadProjectConfig(copyConfig());
  return processedRunPrefix(storagePaths(config.environments.dev, 'azure', config.pipeline.project), runId);
}

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

const azurite = azuriteAvailable();
if (!azurite) console.warn('SKIPPED: Azure ML training trigger (Azurite not installed)');

(azurite ? describe : describe.skip)('the Azure ML training trigger', () => {
  let server: Azurite;
  let identity: Awaited<ReturnType<typeof startManagedIdentityDouble>>;
  let arm: Awaited<ReturnType<typeof startArmDouble>>;
  let override: Override | undefined;
  const PROCESS_VARIABLES = ['AZURE_STORAGE_CONNECTION_STRING', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER'];
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    server = await startAzurite();
    identity = await startManagedIdentityDouble(IDENTITY_SECRET, ARM_TOKEN);
    arm = await startArmDouble((request) => override?.(request));
    for (const name of PROCESS_VARIABLES) saved[name] = process.env[name];
    // Libraries read these from the process: the Blob adapter its connection, @azure/identity the identity endpoint.
    process.env.AZURE_STORAGE_CONNECTION_STRING = server.connectionString;
    process.env.IDENTITY_ENDPOINT = identity.endpoint;
    process.env.IDENTITY_HEADER = IDENTITY_SECRET;
    await new AzureBlobObjectStore('mlstackdevdata', 'mlstack').ensureContainer();
  });

  afterAll(async () => {
    for (const name of PROCESS_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await Promise.all([server?.stop(), identity?.close(), arm?.close()]);
  });

  afterEach(() => {
    override = undefined;
  });

  /** Exactly what the azure stack sets (plus the image's config folder, the run id and the ARM root). */
  function stackEnv(source: string, runId: string): NodeJS.ProcessEnv {
    const launch = ingestionLaunch({ cloud: 'azure', envName: 'dev', project: 'mlstack', bucket: BUCKET }, source, undefined, {
      kind: 'azureml',
      workspace: WORKSPACE,
      compute: 'gpu-cluster',
      image: IMAGE,
      identityClientId: TRAINING_IDENTITY,
    });
    return {
      ...launch.env,
      [PLATFORM_ENV.azureClientId]: INGESTION_IDENTITY,
      [ENV.configDir]: copyConfig(),
      [ENV.runId]: runId,
      [ENV.azureArmApi]: arm.url,
      [ENV.logLevel]: 'silent',
    };
  }

  async function runEntrypoint(env: NodeJS.ProcessEnv): Promise<{ code: number; result: any; stderr: string }> {
    const out = capture();
    const err = capture();
    const code = await main(env, out.stream, err.stream, []);
    const line = out.text().trim();
    return { code, result: line ? JSON.parse(line) : undefined, stderr: err.text() };
  }

  it('submits one command job per run: environment version, then the job; a rerun finds it', async () => {
    const api = await startSampleApi({ rows: 250, pageSize: 100 });
    try {
      const env = stackEnv(api.url, 'az-run');
      const jobPath = `${WORKSPACE}/jobs/mlstack-dev-az-run`;
      const envPath = `${WORKSPACE}/environments/mlstack-training/versions/${ENV_VERSION}`;
      const before = arm.requests.length;
      const processed = processedPrefix('az-run');
      expect(processed).toBe('data/processed/mlstack/az-run/');
      const first = await runEntrypoint(env);
      expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
      expect(first.result.rows.processed).toBeGreaterThan(0);
      expect(await new AzureBlobObjectStore('mlstackdevdata', 'mlstack').exists(`${processed}${SUCCESS_MARKER}`)).toBe(true);
      expect(first.result.training).toEqual({ kind: 'azureml', status: 'started', id: jobPath, dataUri: `${BUCKET}/${processed}` });

      const sent = arm.requests.slice(before);
      expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${jobPath}`, `PUT ${envPath}`, `PUT ${jobPath}`]);
      for (const request of sent) {
        expect(request.query).toEqual({ 'api-version': '2025-09-01' });
        expect(request.headers.authorization).toBe(`Bearer ${ARM_TOKEN}`);
      }
      expect(sent[1].body).toEqual({ properties: { image: IMAGE, description: 'mlstack training image' } });
      expect(sent[2].body).toEqual({
        properties: {
          jobType: 'Command',
          displayName: 'mlstack dev training on az-run',
          experimentName: 'mlstack-dev',
          computeId: `${WORKSPACE}/computes/gpu-cluster`,
          environmentId: envPath,
          command: 'node --enable-source-maps /app/main.js train',
          environmentVariables: {
            [ENV.env]: 'dev',
            [ENV.cloud]: 'azure',
            [ENV.bucket]: BUCKET,
            [ENV.project]: 'mlstack',
            [ENV.dataUri]: `${BUCKET}/${processed}`,
            [ENV.runId]: 'mlstack-dev-az-run',
            [PLATFORM_ENV.azureClientId]: TRAINING_IDENTITY,
          },
          identity: { identityType: 'Managed' },
          // config/environments/dev.json: azure.training.max_runtime_seconds 14400, instance_count 1.
          limits: { jobLimitsType: 'Command', timeout: 'PT4H' },
          resources: { instanceCount: 1 },
          tags: { ingestion_run: 'az-run' },
        },
      });
      const tokenCall = identity.requests.find((r) => r.path === '/msi/token');
      expect(tokenCall?.headers['x-identity-header']).toBe(IDENTITY_SECRET);
      expect(tokenCall?.query).toMatchObject({ resource: 'https://management.azure.com', client_id: INGESTION_IDENTITY, 'api-version': '2019-08-01' });

      const rerunFrom = arm.requests.length;
      const rerun = await runEntrypoint(env);
      expect({ code: rerun.code, stderr: rerun.stderr }).toEqual({ code: 0, stderr: '' });
      expect(rerun.result.training).toEqual({ kind: 'azureml', status: 'existing', id: jobPath, dataUri: `${BUCKET}/${processed}` });
      expect(arm.requests.slice(rerunFrom).map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${jobPath}`]);
      expect(arm.jobs.size).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('a refused submission exits 1 naming the call and the role; the data stays', async () => {
    const api = await startSampleApi({ rows: 120, pageSize: 100 });
    try {
      override = (request) =>
        request.method === 'PUT'
          ? { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'The client does not have authorization to perform action' } } }
          : undefined;
      const { code, result, stderr } = await runEntrypoint(stackEnv(api.url, 'az-denied'));
      expect(code).toBe(1);
      expect(stderr).toContain(`PUT ${arm.url}${WORKSPACE}/environments/mlstack-training/versions/${ENV_VERSION}?api-version=2025-09-01: HTTP 403: AuthorizationFailed: The client does not have authorization`);
      expect(stderr).toContain('e.g. AzureML Data Scientist');
      expect(stderr).toContain(`${ENV.runId}=az-denied`);
      expect(result.training).toMatchObject({ kind: 'azureml', status: 'failed' });
      expect(await new AzureBlobObjectStore('mlstackdevdata', 'mlstack').exists(`${processedPrefix('az-denied')}${SUCCESS_MARKER}`)).toBe(true);
      expect(arm.jobs.has(`${WORKSPACE}/jobs/mlstack-dev-az-denied`)).toBe(false);
    } finally {
      await api.close();
    }
  });
});
