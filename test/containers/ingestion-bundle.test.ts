/**
 * The ingestion image's bundle, run with node from a temp folder without node_modules: one local run
 * against the built-in sample API, and cloud runs started with the variables each stack sets
 * (ingestionLaunch) into moto S3, the GCS loopback server and Azurite, the last two firing the training
 * trigger at the control-plane doubles of test/trigger/doubles.ts.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { EnvironmentName } from '../../config/schema';
import { ENV, ingestionLaunch, PLATFORM_ENV } from '../../runtime/contract/env';
import { processedRunPrefix, storagePaths, SUCCESS_MARKER, type StoragePaths, type StoreCloud } from '../../runtime/contract/layout';
import { runJobRequest } from '../../runtime/trigger/cloud-run';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { AzureBlobObjectStore } from '../../runtime/storage/azure-blob-store';
import { GcsObjectStore } from '../../runtime/storage/gcs-store';
import { defaultS3Client, S3ObjectStore } from '../../runtime/storage/s3-store';
import { azuriteAvailable, startAzurite } from '../helpers/azurite';
import { startFakeGcs } from '../helpers/gcs-server';
import { motoAvailable, startMoto } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { startArmDouble, startCloudRunDouble, startManagedIdentityDouble, startMetadataDouble } from '../trigger/doubles';
import { buildIsolatedBundle, containerEnv, startNode } from './bundle-helpers';

let dir: string;

beforeAll(async () => {
  ({ dir } = await buildIsolatedBundle('ingestion'));
}, 120_000);

/** The project's prefixes where the bundle writes, read from the bundle's own config (what the image ships). */
function bundlePaths(cloud: StoreCloud, env: EnvironmentName = 'dev'): StoragePaths {
  const config = loadProjectConfig(path.join(dir, 'config'));
  return storagePaths(config.environments[env], cloud, config.pipeline.project);
}

function listFiles(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(root, f)).isFile());
}

test('`node main.js ingest` writes raw and processed data and prints the result', async () => {
  const workdir = makeTempDir('mlstack-ingest-workdir-');
  const proc = startNode(
    dir,
    ['ingest'],
    containerEnv({ MLSTACK_ENV: 'dev', MLSTACK_CLOUD: 'local', MLSTACK_CONFIG_DIR: path.join(dir, 'config'), MLSTACK_WORKDIR: workdir, MLSTACK_RUN_ID: 'bundle-run' }),
  );
  const { code } = await proc.exited;
  expect({ code, output: code === 0 ? '' : proc.output() }).toEqual({ code: 0, output: '' });
  const resultLine = proc.output().split('\n').find((line) => line.startsWith('{'));
  expect(resultLine).toBeDefined();
  const result = JSON.parse(resultLine as string);
  expect(result.runId ?? result.run_id).toBe('bundle-run');
  const files = listFiles(workdir).map((f) => f.split(path.sep).join('/'));
  const paths = bundlePaths('local');
  expect(paths.raw).toBe('data/raw/mlstack/');
  expect(files).toContain(`${paths.raw}bundle-run/part-00000.jsonl`);
  expect(files).toContain(`${processedRunPrefix(paths, 'bundle-run')}data.csv`);
  expect(files).toContain(`${processedRunPrefix(paths, 'bundle-run')}${SUCCESS_MARKER}`);
});

test('a bad environment exits 2 naming it and the variable', async () => {
  const proc = startNode(dir, ['ingest'], containerEnv({ MLSTACK_ENV: 'nope', MLSTACK_CONFIG_DIR: path.join(dir, 'config') }));
  expect((await proc.exited).code).toBe(2);
  expect(proc.output()).toContain(`unknown ${ENV.env} "nope": expected one of dev, qa, staging, prod`);
});

/** Runs the bundle as its image does (`node main.js ingest`) and returns the JSON result it printed. */
async function runBundle(env: Record<string, string>): Promise<{ code: number | null; output: string; result: any }> {
  const proc = startNode(dir, ['ingest'], containerEnv({ [ENV.configDir]: path.join(dir, 'config'), ...env }));
  const { code } = await proc.exited;
  const line = proc.output().split('\n').find((l) => l.startsWith('{"runId"'));
  return { code, output: proc.output(), result: line ? JSON.parse(line) : undefined };
}

const moto = motoAvailable();
(moto ? test : test.skip)('as the aws stack starts it: the run lands in the S3 bucket, no trigger fired in the container', async () => {
  const server = await startMoto();
  const api = await startSampleApi({ rows: 400, pageSize: 200 });
  const savedEndpoint = process.env.AWS_ENDPOINT_URL_S3;
  try {
    process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
    await defaultS3Client().send(new CreateBucketCommand({ Bucket: 'mlstack-dev-data' }));
    const launch = ingestionLaunch({ cloud: 'aws', envName: 'dev', project: 'mlstack', bucket: 's3://mlstack-dev-data' }, api.url, undefined);
    expect(launch.args).toEqual(['ingest']);
    const { code, output, result } = await runBundle({
      ...launch.env,
      [ENV.runId]: 'aws-bundle-run',
      AWS_ENDPOINT_URL_S3: server.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
    });
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    expect(result.rows.fetched).toBe(400);
    expect(result).not.toHaveProperty('training');
    const keys = (await new S3ObjectStore('mlstack-dev-data').list('data/')).map((o) => o.key);
    const paths = bundlePaths('aws');
    const processed = processedRunPrefix(paths, 'aws-bundle-run');
    expect(keys).toEqual(expect.arrayContaining([`${processed}${SUCCESS_MARKER}`, `${processed}data.csv`, `${paths.raw}aws-bundle-run/part-00000.jsonl`]));
  } finally {
    if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
    else process.env.AWS_ENDPOINT_URL_S3 = savedEndpoint;
    await api.close();
    await server.stop();
  }
});

test('as the gcp stack starts it: the run lands in GCS, then the Cloud Run training job is run with its folder', async () => {
  const job = 'projects/mlstack-dev/locations/us-central1/jobs/mlstack-dev-training';
  const [gcs, metadata, cloudRun, api] = await Promise.all([startFakeGcs(), startMetadataDouble('ya29.bundle'), startCloudRunDouble(), startSampleApi({ rows: 300, pageSize: 100 })]);
  const savedEndpoint = process.env.GCS_API_ENDPOINT;
  try {
    const launch = ingestionLaunch({ cloud: 'gcp', envName: 'dev', project: 'mlstack', bucket: 'gs://mlstack-dev-data' }, api.url, undefined, { kind: 'cloud-run-job', job });
    const { code, output, result } = await runBundle({
      ...launch.env,
      [ENV.runId]: 'gcp-bundle-run',
      [ENV.gcpRunApi]: cloudRun.url,
      GCS_API_ENDPOINT: gcs.endpoint,
      GOOGLE_CLOUD_PROJECT: 'mlstack-dev',
      GCE_METADATA_HOST: metadata.host,
      METADATA_SERVER_DETECTION: 'assume-present',
    });
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    const processed = processedRunPrefix(bundlePaths('gcp'), 'gcp-bundle-run');
    expect(result.training).toEqual({ kind: 'cloud-run-job', status: 'started', id: `${job}/executions/mlstack-dev-training-00001`, dataUri: `gs://mlstack-dev-data/${processed}` });
    expect(cloudRun.requests.map((r) => [r.path, r.headers.authorization, r.body])).toEqual([
      [
        `/v2/${job}:run`,
        'Bearer ya29.bundle',
        runJobRequest(`gs://mlstack-dev-data/${processed}`, 'mlstack-dev-gcp-bundle-run'),
      ],
    ]);
    process.env.GCS_API_ENDPOINT = gcs.endpoint;
    expect(await new GcsObjectStore('mlstack-dev-data').exists(`${processed}${SUCCESS_MARKER}`)).toBe(true);
  } finally {
    if (savedEndpoint === undefined) delete process.env.GCS_API_ENDPOINT;
    else process.env.GCS_API_ENDPOINT = savedEndpoint;
    await Promise.all([gcs.close(), metadata.close(), cloudRun.close(), api.close()]);
  }
});

const azurite = azuriteAvailable();
(azurite ? test : test.skip)('as the azure stack starts it: the run lands in Blob storage, then an Azure ML command job is submitted', async () => {
  const workspace = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/mlstack-dev-rg/providers/Microsoft.MachineLearningServices/workspaces/mlstack-dev-ws';
  const [blob, identity, arm, api] = await Promise.all([startAzurite(), startManagedIdentityDouble('bundle-secret', 'arm-bundle'), startArmDouble(), startSampleApi({ rows: 300, pageSize: 100 })]);
  const savedConnection = process.env.AZURE_STORAGE_CONNECTION_STRING;
  try {
    process.env.AZURE_STORAGE_CONNECTION_STRING = blob.connectionString;
    await new AzureBlobObjectStore('mlstackdevdata', 'mlstack').ensureContainer();
    const launch = ingestionLaunch({ cloud: 'azure', envName: 'dev', project: 'mlstack', bucket: 'az://mlstackdevdata/mlstack' }, api.url, undefined, {
      kind: 'azureml',
      workspace,
      compute: 'gpu-cluster',
      image: 'mlstackdevacr.azurecr.io/training-gpu:1.4.0',
      identityClientId: 'training-client-id',
    });
    const { code, output, result } = await runBundle({
      ...launch.env,
      [ENV.runId]: 'az-bundle-run',
      [ENV.azureArmApi]: arm.url,
      [PLATFORM_ENV.azureClientId]: 'ingestion-client-id',
      AZURE_STORAGE_CONNECTION_STRING: blob.connectionString,
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER: 'bundle-secret',
    });
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    const processed = processedRunPrefix(bundlePaths('azure'), 'az-bundle-run');
    expect(result.training).toEqual({ kind: 'azureml', status: 'started', id: `${workspace}/jobs/mlstack-dev-az-bundle-run`, dataUri: `az://mlstackdevdata/mlstack/${processed}` });
    expect(arm.requests.map((r) => `${r.method} ${r.path.replace(workspace, '<ws>')} ${r.headers.authorization}`)).toEqual([
      'GET <ws>/jobs/mlstack-dev-az-bundle-run Bearer arm-bundle',
      expect.stringMatching(/^PUT <ws>\/environments\/mlstack-training\/versions\/1\.4\.0-[0-9a-f]{10} Bearer arm-bundle$/),
      'PUT <ws>/jobs/mlstack-dev-az-bundle-run Bearer arm-bundle',
    ]);
    expect((arm.requests[2].body as any).properties.environmentVariables).toMatchObject({ [ENV.runId]: 'mlstack-dev-az-bundle-run', [PLATFORM_ENV.azureClientId]: 'training-client-id' });
    expect(identity.requests.map((r) => r.query.client_id)).toContain('ingestion-client-id');
    expect(await new AzureBlobObjectStore('mlstackdevdata', 'mlstack').exists(`${processed}${SUCCESS_MARKER}`)).toBe(true);
  } finally {
    if (savedConnection === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    else process.env.AZURE_STORAGE_CONNECTION_STRING = savedConnection;
    await Promise.all([blob.stop(), identity.close(), arm.close(), api.close()]);
  }
});
