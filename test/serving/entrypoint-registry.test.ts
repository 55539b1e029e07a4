import * as tf from '../../runtime/model/tf';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { silentLogger } from '../../runtime/common/logger';
import { ModelRegistry } from '../../runtime/registry/index';
import { resolveModelSource, serveFromEnvironment } from '../../runtime/serving/entrypoint';
import { loadPredictor } from '../../runtime/serving/load';
import { openBucket } from '../../runtime/storage/open';
import { defaultS3Client } from '../../runtime/storage/s3-store';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { azuriteAvailable, startAzurite, type Azurite } from '../helpers/azurite';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { sampleRows, writeTestPackage } from './fixtures';

/** Writes two packages into the bucket and registers them as v1 and v2, as training does. */
async function registerTwoVersions(store: ObjectStore): Promise<void> {
  const registry = new ModelRegistry(store, 'registry/');
  for (const runId of ['run-one', 'run-two']) {
    await writeTestPackage(makeTempDir(), { runId, store, prefix: `models/${runId}/` });
    await registry.register({
      project: 'serving-test',
      packagePrefix: `models/${runId}/`,
      metrics: { auc: 0.5 },
      lineage: { data_hash: 'd', config_hash: 'c', code_version: 'test', run_id: runId },
    });
  }
}

/**
 * Serves from the env vars the cloud stacks set, then checks readiness and a prediction on the Cloud Run route.
 * The packages sit only under models/<run>/, so a prediction proves the record's package_prefix was followed.
 */
async function expectServes(env: NodeJS.ProcessEnv, version: string): Promise<void> {
  const server = await serveFromEnvironment({ ...env, PORT: '0' }, silentLogger);
  try {
    await server.whenReady;
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    const res = await fetch(`${server.url}/predict`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ instances: sampleRows(2) }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: { prediction: string; model_version: string }[]; model_version: string };
    expect(body.model_version).toBe(version);
    expect(body.predictions).toHaveLength(2);
    expect(['yes', 'no']).toContain(body.predictions[0].prediction);
  } finally {
    await server.close();
  }
}

describe('serving entrypoint: pinned version from a cloud registry', () => {
  beforeAll(() => tf.setBackend('cpu'));

  it('needs MLSTACK_MODEL_VERSION beside MLSTACK_REGISTRY_URI, and labels unpacked models with it', () => {
    expect(() => resolveModelSource({ MLSTACK_REGISTRY_URI: 'gs://b/' })).toThrow(/MLSTACK_REGISTRY_URI="gs:\/\/b\/" is set but MLSTACK_MODEL_VERSION is not/);
    expect(resolveModelSource({ MLSTACK_REGISTRY_URI: 'gs://b/', MLSTACK_MODEL_VERSION: 'v4', MLSTACK_PROJECT: 'p' })).toEqual({ source: 'v4', registryUri: 'gs://b/', project: 'p' });
    expect(resolveModelSource({ MLSTACK_MODEL: 'v2', MLSTACK_REGISTRY_URI: 'az://a/c/' })).toEqual({ source: 'v2', registryUri: 'az://a/c/', project: undefined });
    // SageMaker: the AWS stack sets MLSTACK_MODEL_VERSION, the model itself is unpacked to /opt/ml/model.
    expect(resolveModelSource({ MLSTACK_MODEL_VERSION: 'v3' })).toEqual({ source: '/opt/ml/model', version: 'v3' });
  });

  it('refuses a registry URI that is not a bucket root or not a URI', async () => {
    await expect(loadPredictor('v1', { registryUri: 'gs://bucket/some/folder/' })).rejects.toThrow(/must be the bucket root .* found the key "some\/folder\/"/);
    await expect(loadPredictor('v1', { registryUri: '/tmp/registry' })).rejects.toThrow(/is not an object URI: use s3:\/\/bucket\//);
  });

  const hasMoto = motoAvailable();
  (hasMoto ? describe : describe.skip)('S3 registry on moto_server', () => {
    let moto: MotoServer;
    const bucket = 'mlstack-serving-registry';
    beforeAll(async () => {
      moto = await startMoto();
      process.env.AWS_ENDPOINT_URL_S3 = moto.endpoint;
      await defaultS3Client().send(new CreateBucketCommand({ Bucket: bucket }));
      await registerTwoVersions(await openBucket('s3', bucket));
    }, 60_000);
    afterAll(async () => {
      delete process.env.AWS_ENDPOINT_URL_S3;
      await moto?.stop();
    });

    it('serves the pinned version and `latest`, answering /ping and a prediction', async () => {
      await expectServes({ MLSTACK_REGISTRY_URI: `s3://${bucket}/`, MLSTACK_MODEL_VERSION: 'v1' }, 'v1');
      await expectServes({ MLSTACK_REGISTRY_URI: `s3://${bucket}`, MLSTACK_MODEL_VERSION: 'latest' }, 'v2');
    }, 30_000);

    it('stays unready and names the known versions when the pinned one is not registered', async () => {
      const server = await serveFromEnvironment({ MLSTACK_REGISTRY_URI: `s3://${bucket}/`, MLSTACK_MODEL_VERSION: 'v9', PORT: '0' }, silentLogger);
      try {
        await expect(server.whenReady).rejects.toThrow(/v9.*(v1|v2)/s);
        expect((await fetch(`${server.url}/ping`)).status).toBe(503);
      } finally {
        await server.close();
      }
    });

    it('says so when the registry is empty and `latest` is asked for', async () => {
      await defaultS3Client().send(new CreateBucketCommand({ Bucket: 'mlstack-empty-registry' }));
      await expect(loadPredictor('latest', { registryUri: 's3://mlstack-empty-registry/' })).rejects.toThrow(
        /no model version registered in s3:\/\/mlstack-empty-registry\/registry\/: train and register one/,
      );
    });
  });

  const hasAzurite = azuriteAvailable();
  (hasAzurite ? describe : describe.skip)('Azure Blob registry on Azurite', () => {
    let azurite: Azurite;
    const container = 'mlstack';
    beforeAll(async () => {
      azurite = await startAzurite();
      process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
      await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).createIfNotExists();
      await registerTwoVersions(await openBucket('az', `${azurite.account}/${container}`));
    }, 60_000);
    afterAll(async () => {
      delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      await azurite?.stop();
    });

    it('serves the version pinned the way the Azure stack pins it (az://account/container/)', async () => {
      await expectServes({ MLSTACK_REGISTRY_URI: `az://${azurite.account}/${container}/`, MLSTACK_MODEL_VERSION: 'v2' }, 'v2');
    }, 30_000);
  });
});
