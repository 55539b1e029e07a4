/**
 * A model's whole path through azure-<env>, driven by the synthesized stack itself: the Container Apps job and
 * app are started with exactly the args and env they declare (Key Vault secrets filled in, Terraform references
 * resolved the way Azure builds them), plus what Container Apps adds (IDENTITY_ENDPOINT / IDENTITY_HEADER for the
 * managed identity) and the emulators: Azurite for Blob storage, and labelled doubles of the managed identity
 * endpoint and Azure Resource Manager (test/trigger/doubles.ts) standing in for the control plane.
 *
 *   schedule -> ingestion job -> processed run + _SUCCESS.json in the container -> the job submits an Azure ML
 *   command job to the GPU cluster (ARM) -> that job's command and environment started as Azure ML would (CPU
 *   backend instead of the GPU one) -> registered v1 -> `mlstack promote --model v1` -> re-synthesized stack
 *   declares the Container App for v1 -> it answers its readiness probe and predicts what the model predicts.
 */
import type { ProjectConfig } from '../../config/schema';
import { loadProjectConfig } from '../../config/load';
import { buildCdktfApp } from '../../infra/cdktf/app';
import { ENV, PLATFORM_ENV, isSecretPlaceholder } from '../../runtime/contract/env';
import { storagePaths, SUCCESS_MARKER, versionArchiveKey } from '../../runtime/contract/layout';
import { startSampleApi, type SampleApi } from '../../runtime/ingestion/sample-api';
import { AzureBlobObjectStore } from '../../runtime/storage/azure-blob-store';
import { azuriteAvailable, startAzurite, type Azurite } from '../helpers/azurite';
import { makeTempDir } from '../helpers/tmp';
import { startArmDouble, startManagedIdentityDouble } from '../trigger/doubles';
import {
  API_TOKEN,
  buildBundles,
  ENV_NAME,
  featureRows,
  freePort,
  imageEnv,
  localPredictions,
  pathConfig,
  postJson,
  projectRepository,
  promoteAndMerge,
  servedPredictions,
  waitUntilReady,
  type Bundles,
} from './common';
import { runContainer, startContainer, unreadDeclared } from './container';
import { containerAppContainer, readStack, resourcesOf, type DeclaredContainer, type TerraformJson } from './terraform';

jest.setTimeout(300_000);

const IDENTITY_SECRET = 'container-apps-identity-header';

function synthAzure(config: ProjectConfig): TerraformJson {
  const outdir = makeTempDir('mlstack-path-azure-');
  buildCdktfApp({ config, outdir, clouds: ['azure'], environments: [ENV_NAME], backendEnv: {} }).synth();
  return readStack(outdir, `azure-${ENV_NAME}`);
}

/** Container Apps fills each secret-backed variable from the Key Vault secret the app's secret names. */
function declaredEnv(container: DeclaredContainer, keyVault: Record<string, string>): Record<string, string> {
  return { ...container.env, ...Object.fromEntries(Object.entries(container.secretEnv).map(([name, secret]) => [name, keyVault[secret]])) };
}

/**
 * Credentials are the one thing emulated: Azurite's connection string stands in for the managed identity, so the
 * storage client never needs AZURE_CLIENT_ID (on Azure it selects the identity @azure/identity authenticates as).
 */
function unreadExceptCredentials(declared: Record<string, string>, reads: string[]): string[] {
  return unreadDeclared(declared, reads).filter((name) => name !== PLATFORM_ENV.azureClientId);
}

const describeWithAzurite = azuriteAvailable() ? describe : describe.skip;

describeWithAzurite('azure: scheduled ingestion -> Azure ML training -> registry -> promotion -> serving, as azure-dev declares it', () => {
  let blob: Azurite;
  let api: SampleApi;
  let identity: Awaited<ReturnType<typeof startManagedIdentityDouble>>;
  let arm: Awaited<ReturnType<typeof startArmDouble>>;
  let bundles: Bundles;
  let configDir: string;
  let config: ProjectConfig;
  let emulators: Record<string, string>;
  const saved = { ...process.env };

  beforeAll(async () => {
    [blob, identity, arm, api] = await Promise.all([
      startAzurite(),
      startManagedIdentityDouble(IDENTITY_SECRET, 'arm-token-for-the-path-test'),
      startArmDouble(),
      startSampleApi({ rows: 1500, pageSize: 500, token: API_TOKEN }),
    ]);
    configDir = pathConfig(api.url);
    config = loadProjectConfig(configDir);
    bundles = await buildBundles(configDir);
    emulators = { AZURE_STORAGE_CONNECTION_STRING: blob.connectionString, [ENV.azureArmApi]: arm.url };
    process.env.AZURE_STORAGE_CONNECTION_STRING = blob.connectionString;
    const env = config.environments[ENV_NAME].azure!;
    // The storage account's container exists once the stack is applied (azurerm_storage_container).
    await new AzureBlobObjectStore(env.storage.bucket, env.storage.container ?? 'mlstack').ensureContainer();
  }, 300_000);

  afterAll(async () => {
    process.env = saved;
    await Promise.all([blob?.stop(), identity?.close(), arm?.close(), api?.close()]);
  });

  test('walks the whole path; every variable the stack sets is read by its container', async () => {
    const tf = synthAzure(config);
    const env = config.environments[ENV_NAME];
    const azure = env.azure!;
    const bucket = new AzureBlobObjectStore(azure.storage.bucket, azure.storage.container ?? 'mlstack');
    const paths = storagePaths(env, 'azure', config.pipeline.project);
    const project = config.pipeline.project;
    const tag = azure.image_tag;

    // The operator replaced the stack's placeholder with the real token (az keyvault secret set).
    const [kvSecret] = resourcesOf(tf, 'azurerm_key_vault_secret');
    expect(isSecretPlaceholder(kvSecret.body.value)).toBe(true);
    const [job] = resourcesOf(tf, 'azurerm_container_app_job');
    const keyVault = Object.fromEntries((job.body.secret as { name: string }[]).map((s) => [s.name, API_TOKEN]));
    const platform = { IDENTITY_ENDPOINT: identity.endpoint, IDENTITY_HEADER: IDENTITY_SECRET };

    // 1. The scheduled Container Apps job ingests.
    expect(job.body.schedule_trigger_config.cron_expression).toBe('0 2 * * *');
    const ingestion = containerAppContainer(job.body, tf);
    expect(ingestion.image).toMatch(new RegExp(`/ingestion:${tag}$`));
    const ingestionEnv = declaredEnv(ingestion, keyVault);
    const ingested = await runContainer(bundles.ingestion, ingestion.args, { declared: ingestionEnv, image: imageEnv(bundles.ingestion), platform, emulators }, 'ingestion job');
    expect(unreadDeclared(ingestionEnv, ingested.reads)).toEqual([]);
    const result = JSON.parse(ingested.output.split('\n').find((l) => l.startsWith('{"runId"'))!);
    expect(result.training).toMatchObject({ kind: 'azureml', status: 'started' });
    expect(await bucket.exists(`${paths.processed}${result.runId}/${SUCCESS_MARKER}`)).toBe(true);

    // 2. It submitted a command job to the stack's GPU cluster, with the stack's training image.
    const [cluster] = resourcesOf(tf, 'azurerm_machine_learning_compute_cluster');
    const [submitted] = [...arm.jobs.values()] as { properties: Record<string, any> }[];
    expect(arm.jobs.size).toBe(1);
    expect(submitted.properties.computeId).toBe(`${ingestionEnv[ENV.azuremlWorkspace]}/computes/${cluster.body.name}`);
    const environmentPut = arm.requests.find((r) => r.method === 'PUT' && r.path.includes('/environments/'))!;
    expect((environmentPut.body as any).properties.image).toBe(ingestionEnv[ENV.trainingImage]);
    expect(ingestionEnv[ENV.trainingImage]).toMatch(new RegExp(`/training-gpu:${tag}$`));

    // Azure ML runs the job's command in that image with its environment variables.
    const [program, ...rest] = String(submitted.properties.command).split(' ');
    expect([program, ...rest.slice(0, 2)]).toEqual(['node', '--enable-source-maps', '/app/main.js']);
    const trainingEnv = submitted.properties.environmentVariables as Record<string, string>;
    const trained = await runContainer(
      bundles.training,
      rest.slice(2),
      {
        declared: trainingEnv,
        image: imageEnv(bundles.training),
        // No GPU here: the CPU (wasm) bundle trains, and the environment's require_gpu is waived for it alone.
        platform: { [PLATFORM_ENV.azuremlRunId]: trainingEnv[ENV.runId], [ENV.requireGpu]: '0' },
        emulators,
      },
      'Azure ML command job',
    );
    expect(unreadExceptCredentials(trainingEnv, trained.reads)).toEqual([]);
    expect(await bucket.exists(versionArchiveKey(paths, 'v1'))).toBe(true);

    // 3. Promotion pins v1; the re-synthesized stack declares the Container App for it.
    expect(resourcesOf(tf, 'azurerm_container_app')).toEqual([]);
    const repo = projectRepository(configDir);
    const promoted = await promoteAndMerge(repo, 'v1', `az://${azure.storage.bucket}/${azure.storage.container ?? 'mlstack'}/`);
    const served = synthAzure(promoted);
    const [app] = resourcesOf(served, 'azurerm_container_app');
    const serving = containerAppContainer(app.body, served);
    expect(serving.image).toMatch(new RegExp(`/serving:${tag}$`));
    expect(serving.env[ENV.modelVersion]).toBe('v1');

    // 4. Container Apps routes its ingress to the declared PORT; here a free port replaces 8080 (the one change).
    expect(serving.env[PLATFORM_ENV.port]).toBe(String(app.body.ingress.target_port));
    const port = await freePort();
    const servingEnv = { ...declaredEnv(serving, {}), [PLATFORM_ENV.port]: String(port) };
    const container = startContainer(bundles.serving, serving.args, { declared: servingEnv, image: imageEnv(bundles.serving), platform, emulators });
    try {
      const probe = app.body.template.container[0].readiness_probe[0].path as string;
      await waitUntilReady(`http://127.0.0.1:${port}${probe}`, container);
      const csv = (await bucket.get(`${paths.processed}${result.runId}/data.csv`)).toString('utf8');
      const rows = featureRows(promoted, csv);
      const answer = await postJson(`http://127.0.0.1:${port}/score`, { instances: rows });
      expect(answer.status).toBe(200);
      expect(answer.json.model_version).toBe('v1');
      const expected = JSON.parse(JSON.stringify(await localPredictions(bucket, 'v1', project, rows)));
      expect(servedPredictions(answer.json)).toEqual(expected);
    } finally {
      container.child.kill('SIGTERM');
      await container.exited;
    }
    expect(unreadExceptCredentials(servingEnv, container.reads())).toEqual([]);
  });
});
