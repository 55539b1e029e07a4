/**
 * Training in bucket mode (Cloud Run job, Azure ML command job): `<training image> train` started with the
 * environment runtime/contract/env.ts bucketTrainingLaunch gives it (plus the platform's run id and the CPU
 * backend in place of the GPU), against real stores: a folder, moto_server S3, Azurite and the GCS double.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { loadProjectConfig } from '../../config/load';
import type { CloudName } from '../../config/schema';
import { bucketTrainingLaunch, ENV, PLATFORM_ENV } from '../../runtime/contract/env';
import { bucketUri, processedRunPrefix, runPackagePrefix, storagePaths, SUCCESS_MARKER, versionPrefix } from '../../runtime/contract/layout';
import { ModelRegistry } from '../../runtime/registry';
import { sagemakerClient } from '../../runtime/registry/sagemaker';
import { AzureBlobObjectStore } from '../../runtime/storage/azure-blob-store';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { openStoreRoot } from '../../runtime/storage/open';
import { RunTracker } from '../../runtime/tracking';
import { detectContract, resolveBucketLocations, runEntrypoint } from '../../runtime/training/entrypoint';
import { azuriteAvailable, startAzurite, type Azurite } from '../helpers/azurite';
import { startFakeGcs, type FakeGcs } from '../helpers/gcs-server';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const configDir = copyConfig();
editJson(path.join(configDir, 'pipeline.json'), (doc) => (doc.training_params.epochs = 2));
editJson(path.join(configDir, 'environments', 'dev.json'), (doc) => {
  doc.gcp.training.require_gpu = true;
  doc.azure.training.require_gpu = false;
  doc.azure.training.gpu_count = 0;
});
const project = loadProjectConfig(configDir);
const COMPLETE_RUN = '20260301T020000Z-aaaaaa';
const PARTIAL_RUN = '20260302T020000Z-bbbbbb';
const OLDER_RUN = '20260201T020000Z-oooooo';
/** The project's prefixes in the dev bucket (the dev config lays out every cloud alike): data/processed/mlstack/, models/mlstack/, ... */
const paths = storagePaths(project.environments.dev, 'gcp', project.pipeline.project);
/** `data/processed/mlstack/<run>/`. */
const processed = (runId: string): string => processedRunPrefix(paths, runId);

/** A complete processed run, an older one, and a newer one still being written (no marker, unreadable data). */
async function seedProcessedRuns(store: ObjectStore): Promise<void> {
  await store.put(`${processed(OLDER_RUN)}data.csv`, churnCsv(300, 1));
  await store.put(`${processed(OLDER_RUN)}${SUCCESS_MARKER}`, '{}');
  await store.put(`${processed(COMPLETE_RUN)}data.csv`, churnCsv(600, 3));
  await store.put(`${processed(COMPLETE_RUN)}quarantine.jsonl`, '');
  await store.put(`${processed(COMPLETE_RUN)}${SUCCESS_MARKER}`, '{"rows":600}');
  await store.put(`${processed(PARTIAL_RUN)}data.csv`, 'half,a,file\n');
}

/** The environment the stack gives the job, for `cloud` with its store root at `bucket`. */
function launchEnv(cloud: CloudName | 'local', bucket: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { env } = bucketTrainingLaunch({ cloud: cloud as CloudName, envName: 'dev', project: project.pipeline.project, bucket });
  return { ...env, [ENV.configDir]: configDir, [ENV.requireGpu]: '0', [ENV.logLevel]: 'silent', ...extra };
}

interface Outcome {
  code: number;
  result?: Record<string, any>;
  stderr: string;
}

async function train(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  try {
    const code = await runEntrypoint(['train', ...args], env);
    const line = stdout.split('\n').find((l) => l.startsWith('mlstack-result '));
    return { code, result: line ? JSON.parse(line.slice('mlstack-result '.length)) : undefined, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The whole bucket-mode contract on one store: data chosen, package, checkpoints, version, and a resumed rerun. */
async function expectTrainsAndRegisters(store: ObjectStore, env: NodeJS.ProcessEnv, runId: string): Promise<Record<string, any>> {
  const first = await train(env);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
  expect(first.result).toMatchObject({
    runId,
    packagePrefix: runPackagePrefix(paths, runId),
    resumedFromEpoch: null,
    version: 'v1',
    artifact_uri: store.uri(`${versionPrefix(paths, 'v1')}model.tar.gz`),
    package_uri: store.uri(versionPrefix(paths, 'v1')),
    already_registered: false,
  });
  expect(first.result?.packagePrefix).toBe(`models/mlstack/runs/${runId}/`);
  expect(await store.exists(`${runPackagePrefix(paths, runId)}metadata.json`)).toBe(true);
  expect(await store.exists(`${paths.checkpoints}${runId}/ckpt-000002.json`)).toBe(true);
  expect(await store.exists(`checkpoints/mlstack/${runId}/ckpt-000002.json`)).toBe(true);
  expect(await store.exists('models/mlstack/v1/model.tar.gz')).toBe(true);
  expect(await store.exists('models/mlstack/v1/model/weights.bin')).toBe(true);
  const record = await new ModelRegistry(store, 'registry/', 'mlstack').get('v1');
  expect(record.lineage).toMatchObject({ run_id: runId, data_uri: store.uri(processed(COMPLETE_RUN)), parent_run: null });
  // The run is tracked in the same store, as `mlstack train` tracks a local run.
  const tracked = await new RunTracker(store, 'mlstack').get(runId);
  expect(tracked).toMatchObject({ source: 'train', tags: { source: 'train', contract: 'bucket' }, lineage: { env: 'dev', data_uri: store.uri(`${processed(COMPLETE_RUN)}data.csv`) } });
  expect(tracked.epochs.map((e) => e.epoch)).toEqual([1, 2]);

  // The platform retries the task with the same execution id: it resumes from the checkpoint and does not register twice.
  const again = await train(env);
  expect(again.code).toBe(0);
  expect(again.result).toMatchObject({ runId, resumedFromEpoch: 2, version: 'v1', already_registered: true });
  expect((await new ModelRegistry(store, 'registry/', 'mlstack').list()).map((v) => v.version)).toEqual(['v1']);
  return first.result as Record<string, any>;
}

describe('bucket mode: choosing it and its inputs', () => {
  it('is chosen when the bucket variable is set and neither the Azure ML nor the Vertex contract applies', () => {
    expect(detectContract({}, { [ENV.bucket]: 'gs://b' })).toBe('bucket');
    expect(detectContract({ input: 'x' }, { [ENV.bucket]: 'gs://b' })).toBe('azureml');
    expect(detectContract({}, { [ENV.bucket]: 'gs://b', [PLATFORM_ENV.aipModelDir]: 'gs://b/m' })).toBe('vertex');
    expect(detectContract({}, {})).toBe('sagemaker');
    expect(detectContract({}, { [ENV.bucket]: 's3://b', [PLATFORM_ENV.trainingJobName]: 'job-1' })).toBe('sagemaker');
  });

  it('takes the run id from the run id variable, else the Cloud Run execution, else the Azure ML run, else a new one', async () => {
    const root = makeTempDir('mlstack-bucket-');
    const store = await openStoreRoot(root);
    await seedProcessedRuns(store);
    const env = launchEnv('gcp', pathToFileURL(root).href);
    const runIdOf = async (extra: NodeJS.ProcessEnv) => (await resolveBucketLocations({}, { ...env, ...extra })).runId;
    expect(await runIdOf({ [ENV.runId]: 'mine', [PLATFORM_ENV.cloudRunExecution]: 'exec-1', [PLATFORM_ENV.azuremlRunId]: 'aml-1' })).toBe('mine');
    expect(await runIdOf({ [PLATFORM_ENV.cloudRunExecution]: 'exec-1', [PLATFORM_ENV.azuremlRunId]: 'aml-1' })).toBe('exec-1');
    expect(await runIdOf({ [PLATFORM_ENV.azuremlRunId]: 'aml-1' })).toBe('aml-1');
    expect(await runIdOf({})).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    // Another project's newer complete run in the same bucket is not this project's data.
    const other = storagePaths(project.environments.dev, 'gcp', 'other');
    await store.put(`${processedRunPrefix(other, '20260401T020000Z-cccccc')}data.csv`, churnCsv(50, 4));
    await store.put(`${processedRunPrefix(other, '20260401T020000Z-cccccc')}${SUCCESS_MARKER}`, '{}');
    const where = await resolveBucketLocations({}, env);
    expect(where.dataKeys).toEqual([`data/processed/mlstack/${COMPLETE_RUN}/data.csv`]);
    expect(where.checkpointsPrefix).toBe('checkpoints/mlstack/');
  });

  it('trains on the data URI variable when it is set', async () => {
    const root = makeTempDir('mlstack-bucket-');
    const store = await openStoreRoot(root);
    await seedProcessedRuns(store);
    const dataUri = store.uri(`${processed(OLDER_RUN)}data.csv`);
    const where = await resolveBucketLocations({}, launchEnv('gcp', pathToFileURL(root).href, { [ENV.dataUri]: dataUri }));
    expect(where.dataKeys.map((k) => where.dataStore.uri(k))).toEqual([dataUri]);
    expect(where.registration?.dataUri).toBe(dataUri);
  });

  it('fails with exit 2 and a clear message when there is no complete run, the project or cloud is wrong', async () => {
    const root = makeTempDir('mlstack-bucket-');
    const store = await openStoreRoot(root);
    await store.put(`${processed(PARTIAL_RUN)}data.csv`, churnCsv(50, 1));
    const env = launchEnv('gcp', pathToFileURL(root).href);
    const none = await train(env);
    expect(none.code).toBe(2);
    await expect(resolveBucketLocations({}, env)).rejects.toThrow(new RegExp(`no complete processed run under file:.*data/processed/mlstack/ .*set ${ENV.dataUri}`));
    const project = await train({ ...env, [ENV.project]: 'churn' });
    expect(project.code).toBe(2);
    await expect(resolveBucketLocations({}, { ...env, [ENV.project]: 'churn' })).rejects.toThrow(new RegExp(`${ENV.project} is "churn" but .*pipeline\\.json has project "mlstack": the stack and the image's config disagree`));
    const cloud = { ...env };
    delete cloud[ENV.cloud];
    expect((await train(cloud)).code).toBe(2);
    await expect(resolveBucketLocations({}, cloud)).rejects.toThrow(new RegExp(`${ENV.cloud} is not set`));
    await expect(resolveBucketLocations({}, { ...env, [ENV.cloud]: 'ibm' })).rejects.toThrow(new RegExp(`unknown ${ENV.cloud} "ibm": expected one of local, aws, gcp, azure`));
    await expect(resolveBucketLocations({}, { ...env, [ENV.dataUri]: `${pathToFileURL(root).href}/data/none-*.csv` })).rejects.toThrow(/no training data matches/);
  });

  it("enforces the environment's require_gpu for the cloud it names (the override variable wins)", async () => {
    const root = makeTempDir('mlstack-bucket-');
    await seedProcessedRuns(await openStoreRoot(root));
    const env = launchEnv('gcp', pathToFileURL(root).href, { [ENV.runId]: 'gpu-run' });
    delete env[ENV.requireGpu];
    const refused = await train(env);
    expect(refused.code).toBe(1);
    expect(refused.result).toBeUndefined();
    expect(await (await openStoreRoot(root)).exists('registry/mlstack/claims/v1')).toBe(false);
  });
});

describe('bucket mode: a folder as the bucket (GCP layout)', () => {
  it('trains on the newest complete run, checkpoints, packages, registers v1 and resumes on a retry', async () => {
    const root = makeTempDir('mlstack-bucket-');
    const store = await openStoreRoot(root);
    await seedProcessedRuns(store);
    await expectTrainsAndRegisters(store, launchEnv('gcp', pathToFileURL(root).href, { [PLATFORM_ENV.cloudRunExecution]: 'mlstack-dev-train-x7k2p' }), 'mlstack-dev-train-x7k2p');
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('bucket mode on S3 (moto_server)', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: project.environments.dev.aws!.storage.bucket }));
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  it('registers the version in S3 and its SageMaker model package of model.tar.gz', async () => {
    const bucket = bucketUri(project.environments.dev, 'aws');
    const store = await openStoreRoot(bucket);
    await seedProcessedRuns(store);
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:ci-9';
    const noImage = await train(launchEnv('aws', bucket, { [ENV.runId]: 's3-run' }));
    expect(noImage.code).toBe(2);
    expect(await store.exists(`${paths.checkpoints}s3-run/ckpt-000001.json`)).toBe(false);
    const result = await expectTrainsAndRegisters(store, launchEnv('aws', bucket, { [ENV.runId]: 's3-run', [ENV.servingImage]: image }), 's3-run');
    const described = await sagemakerClient('us-east-1').send(new DescribeModelPackageCommand({ ModelPackageName: result.model_package_arn }));
    expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({ ModelDataUrl: 's3://mlstack-dev-data/models/mlstack/v1/model.tar.gz', Image: image });
  });
});

const describeAzurite = azuriteAvailable() ? describe : describe.skip;

describeAzurite('bucket mode on Azure Blob (Azurite)', () => {
  let azurite: Azurite;
  beforeAll(async () => {
    azurite = await startAzurite();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
  });
  afterAll(async () => {
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    await azurite?.stop();
  });

  it('trains with the Azure ML run id, registers v1 and resumes on a retry', async () => {
    // The stack's own store root (account/container from config); the connection string points it at Azurite.
    const bucket = bucketUri(project.environments.dev, 'azure');
    const store = await openStoreRoot(bucket);
    await (store as AzureBlobObjectStore).ensureContainer();
    await seedProcessedRuns(store);
    await expectTrainsAndRegisters(store, launchEnv('azure', bucket, { [PLATFORM_ENV.azuremlRunId]: 'aml-run-1' }), 'aml-run-1');
  });
});

describe('bucket mode on GCS (the loopback double)', () => {
  let gcs: FakeGcs;
  beforeAll(async () => {
    gcs = await startFakeGcs();
    process.env.GCS_API_ENDPOINT = gcs.endpoint;
  });
  afterAll(async () => {
    delete process.env.GCS_API_ENDPOINT;
    await gcs?.close();
  });

  it('trains with the Cloud Run execution id, registers v1 and resumes on a retry', async () => {
    const bucket = bucketUri(project.environments.dev, 'gcp');
    const store = await openStoreRoot(bucket);
    await seedProcessedRuns(store);
    await expectTrainsAndRegisters(store, launchEnv('gcp', bucket, { [PLATFORM_ENV.cloudRunExecution]: 'exec-gcs-1' }), 'exec-gcs-1');
  });

  it('reads the run the ingestion trigger names in the data URI variable (folder, with or without its slash)', async () => {
    const bucket = bucketUri(project.environments.dev, 'gcp');
    const run = `${bucket}/${processed(OLDER_RUN)}`;
    for (const dataUri of [run, run.replace(/\/$/, '')]) {
      const where = await resolveBucketLocations({}, launchEnv('gcp', bucket, { [ENV.dataUri]: dataUri }));
      expect(where.dataKeys.map((k) => where.dataStore.uri(k))).toEqual([`${run}data.csv`]);
    }
  });
});
