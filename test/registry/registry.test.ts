import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand, ListModelPackagesCommand } from '@aws-sdk/client-sagemaker';
import { ModelRegistry, UnknownVersionError, versionNumber } from '../../runtime/registry';
import { packageFiles } from '../../runtime/registry/materialise';
import { createSageMakerModelPackage, modelDataUrlOf, sagemakerClient } from '../../runtime/registry/sagemaker';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { S3ObjectStore } from '../../runtime/storage/s3-store';
import { extractTarGz } from '../../runtime/model/archive';
import { writeManifest } from '../../runtime/model/manifest';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { layoutOf, projectLayout, versionArchiveKey, versionPrefix } from '../../runtime/contract/layout';
import { makeTempDir } from '../helpers/tmp';

/** The project's part of the default layout: versions are materialised under `<models><project>/<version>/`. */
const CHURN = projectLayout(layoutOf(undefined), 'churn');

const lineage = { data_hash: 'd1', config_hash: 'c1', code_version: '0.1.0+abc', run_id: 'run-1' };

/** A package-shaped folder with its manifest: what registration checks and copies (it never parses the files). */
async function writeFakePackage(store: ObjectStore, prefix: string, tag: string): Promise<void> {
  await store.put(`${prefix}model/model.json`, JSON.stringify({ tag }));
  await store.put(`${prefix}model/weights.bin`, Buffer.from(tag.repeat(64)));
  await store.put(`${prefix}preprocessing.json`, '{}');
  await store.put(`${prefix}metadata.json`, JSON.stringify({ run_id: tag }));
  await writeManifest(store, prefix);
}

async function unpack(archive: Buffer): Promise<{ dir: string; files: string[] }> {
  const dir = makeTempDir('mlstack-unpacked-');
  return { dir, files: (await extractTarGz(archive, dir)).sort() };
}

describe('ModelRegistry: records', () => {
  it('allocates v1, v2, ... and stores records with lineage at <prefix><project>/versions/', async () => {
    const dir = makeTempDir();
    const store = new LocalObjectStore(dir);
    const registry = new ModelRegistry(store);
    expect(await registry.latest()).toBeNull();
    await writeFakePackage(store, 'models/run-1/', 'one');
    await writeFakePackage(store, 'models/run-2/', 'two');
    const v1 = await registry.register({ project: 'churn', packagePrefix: 'models/run-1', metrics: { auc: 0.8 }, lineage });
    const v2 = await registry.register({ project: 'churn', packagePrefix: 'models/run-2/', metrics: { auc: 0.85 }, lineage: { ...lineage, run_id: 'run-2', parent_run: 'run-1' } });
    expect([v1.version, v2.version]).toEqual(['v1', 'v2']);
    expect(v1.package_prefix).toBe('models/run-1/');
    expect(v1.package_uri).toBe(store.uri('models/run-1/'));
    expect(v1.artifact_uri).toBeUndefined();
    expect(v1.lineage.parent_run).toBeNull();
    expect(await store.exists('registry/churn/versions/v2.json')).toBe(true);
    expect(await store.exists('registry/churn/claims/v2')).toBe(true);
    expect((await registry.get('v2')).lineage.parent_run).toBe('run-1');
    expect((await registry.list()).map((v) => v.version)).toEqual(['v1', 'v2']);
    expect((await registry.latest())?.metrics.auc).toBe(0.85);
  });

  it('never hands out the same version to concurrent registrations', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const registry = new ModelRegistry(store, 'reg/');
    for (let i = 0; i < 12; i++) await writeFakePackage(store, `models/r${i}/`, `r${i}`);
    const versions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => registry.register({ project: 'churn', packagePrefix: `models/r${i}/`, metrics: {}, lineage: { ...lineage, run_id: `r${i}` } })),
    );
    const names = versions.map((v) => v.version).sort((a, b) => versionNumber(a) - versionNumber(b));
    expect(names).toEqual(Array.from({ length: 12 }, (_, i) => `v${i + 1}`));
    expect((await registry.list()).length).toBe(12);
  });

  it('names the known versions when asked for an unknown one', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const registry = new ModelRegistry(store);
    await expect(registry.get('v1')).rejects.toThrow(/"v1" is not registered.*\(none yet/);
    await writeFakePackage(store, 'm/', 'm');
    await registry.register({ project: 'churn', packagePrefix: 'm/', metrics: {}, lineage });
    await expect(registry.get('v7')).rejects.toThrow(UnknownVersionError);
    await expect(registry.get('latest')).rejects.toThrow(/known versions: v1/);
    expect(() => versionNumber('1')).toThrow(/versions look like v1/);
    await expect(registry.register({ project: 'Bad Name', packagePrefix: 'm/', metrics: {}, lineage })).rejects.toThrow(/invalid project name/);
    await expect(registry.claim('Bad Name')).rejects.toThrow(/invalid project name/);
    await expect(registry.register({ project: 'churn', metrics: {}, lineage })).rejects.toThrow(/needs the package/);
  });

  it('asks for the project when a registry holds several', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const registry = new ModelRegistry(store);
    await writeFakePackage(store, 'm/', 'm');
    await registry.register({ project: 'alpha', packagePrefix: 'm/', metrics: {}, lineage });
    await registry.register({ project: 'beta', packagePrefix: 'm/', metrics: {}, lineage });
    await expect(registry.list()).rejects.toThrow(/several projects \(alpha, beta\)/);
    expect((await new ModelRegistry(store, 'registry/', 'beta').list()).map((v) => v.project)).toEqual(['beta']);
    const annotated = await new ModelRegistry(store, 'registry/', 'alpha').annotate('v1', { sagemaker_model_package_arn: 'arn:x' });
    expect((await new ModelRegistry(store, 'registry/', 'alpha').get('v1')).sagemaker_model_package_arn).toBe(annotated.sagemaker_model_package_arn);
  });
});

describe('ModelRegistry: materialised versions', () => {
  it('copies the package into <models><project>/<version>/ with a model.tar.gz of the same files, never of itself', async () => {
    const dir = makeTempDir();
    const store = new LocalObjectStore(dir);
    await writeFakePackage(store, 'models/run-1/', 'one');
    // A stale archive beside the run's package is not part of the package.
    await store.put('models/run-1/model.tar.gz', Buffer.from('stale'));
    const registry = new ModelRegistry(store, 'registry/', 'churn');
    const v1 = await registry.register({
      project: 'churn',
      metrics: { auc: 0.9 },
      lineage,
      materialise: { source: { store, prefix: 'models/run-1/' }, modelsPrefix: CHURN.models, evaluation: '{"auc":0.9}' },
    });
    expect(v1).toMatchObject({
      version: 'v1',
      package_prefix: versionPrefix(CHURN, 'v1'),
      package_uri: store.uri(versionPrefix(CHURN, 'v1')),
      artifact_uri: store.uri(versionArchiveKey(CHURN, 'v1')),
      evaluation_uri: store.uri(`${versionPrefix(CHURN, 'v1')}evaluation.json`),
    });
    const copied = (await store.list(versionPrefix(CHURN, 'v1'))).map((o) => o.key.slice(versionPrefix(CHURN, 'v1').length));
    expect(copied.sort()).toEqual(['evaluation.json', 'manifest.json', 'metadata.json', 'model.tar.gz', 'model/model.json', 'model/weights.bin', 'preprocessing.json']);
    const { dir: unpacked, files } = await unpack(await store.get(versionArchiveKey(CHURN, 'v1')));
    expect(files).toEqual(['manifest.json', 'metadata.json', 'model/model.json', 'model/weights.bin', 'preprocessing.json'].map((f) => path.join(...f.split('/'))));
    expect(fs.readFileSync(path.join(unpacked, 'model', 'weights.bin'))).toEqual(await store.get('models/run-1/model/weights.bin'));
  });

  it('two concurrent registrations materialise v1 and v2, both complete and distinct', async () => {
    const store = new LocalObjectStore(makeTempDir());
    await writeFakePackage(store, 'models/run-a/', 'aaa');
    await writeFakePackage(store, 'models/run-b/', 'bbb');
    const registry = new ModelRegistry(store, 'registry/', 'churn');
    const register = (run: string) =>
      registry.register({ project: 'churn', metrics: {}, lineage: { ...lineage, run_id: run }, materialise: { source: { store, prefix: `models/${run}/` }, modelsPrefix: CHURN.models } });
    const both = await Promise.all([register('run-a'), register('run-b')]);
    expect(both.map((v) => v.version).sort()).toEqual(['v1', 'v2']);
    for (const record of both) {
      const tag = record.lineage.run_id === 'run-a' ? 'aaa' : 'bbb';
      expect((await registry.get(record.version)).lineage.run_id).toBe(record.lineage.run_id);
      expect(JSON.parse((await store.get(`${record.package_prefix}metadata.json`)).toString())).toEqual({ run_id: tag });
      const { dir } = await unpack(await store.get(`${record.package_prefix}model.tar.gz`));
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'model', 'model.json'), 'utf8'))).toEqual({ tag });
    }
  });

  it('skips a claimed number whose registration never finished; readers never see it', async () => {
    const store = new LocalObjectStore(makeTempDir());
    await writeFakePackage(store, 'models/run-1/', 'one');
    const registry = new ModelRegistry(store, 'registry/', 'churn');
    expect(await registry.claim('churn')).toBe('v1');
    expect(await registry.latest()).toBeNull();
    await expect(registry.get('v1')).rejects.toThrow(UnknownVersionError);
    const next = await registry.register({ project: 'churn', metrics: {}, lineage, materialise: { source: { store, prefix: 'models/run-1/' }, modelsPrefix: CHURN.models } });
    expect(next.version).toBe('v2');
    expect((await registry.list()).map((v) => v.version)).toEqual(['v2']);
  });

  it('leaves no record when materialisation or the record hook fails', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const registry = new ModelRegistry(store, 'registry/', 'churn');
    await expect(
      registry.register({ project: 'churn', metrics: {}, lineage, materialise: { source: { store, prefix: 'models/none/' }, modelsPrefix: CHURN.models } }),
    ).rejects.toThrow(/no model package at .*models\/none\/: metadata\.json is missing/);
    await writeFakePackage(store, 'models/run-1/', 'one');
    await expect(
      registry.register({
        project: 'churn',
        metrics: {},
        lineage,
        materialise: { source: { store, prefix: 'models/run-1/' }, modelsPrefix: CHURN.models },
        beforeRecord: async () => {
          throw new Error('model package refused');
        },
      }),
    ).rejects.toThrow('model package refused');
    expect(await registry.list()).toEqual([]);
    const annotated = await registry.register({
      project: 'churn',
      metrics: {},
      lineage,
      materialise: { source: { store, prefix: 'models/run-1/' }, modelsPrefix: CHURN.models },
      beforeRecord: async (draft) => ({ sagemaker_model_package_arn: `arn:for:${draft.version}:${draft.artifact_uri}` }),
    });
    // A missing package is refused before a number is claimed; the failed hook's v1 stays claimed and unused.
    expect(annotated.version).toBe('v2');
    expect((await registry.get('v2')).sagemaker_model_package_arn).toBe(`arn:for:v2:${store.uri(versionArchiveKey(CHURN, 'v2'))}`);
  });

  it('reads a package from the store root as well as from a folder', async () => {
    const store = new LocalObjectStore(makeTempDir());
    await writeFakePackage(store, '', 'root');
    expect((await packageFiles({ store, prefix: '' })).map((f) => f.name).sort()).toEqual(['manifest.json', 'metadata.json', 'model/model.json', 'model/weights.bin', 'preprocessing.json']);
    await expect(packageFiles({ store: new LocalObjectStore(makeTempDir()), prefix: '' })).rejects.toThrow(/no model package at file:.*metadata\.json is missing/);
  });
});

describe('SageMaker model data URL', () => {
  const base = { version: 'v1', project: 'churn', created_at: '', package_uri: 's3://b/models/churn/v1/', package_prefix: 'models/churn/v1/', metrics: {}, lineage };
  it('is the version archive in S3, never a folder', () => {
    expect(modelDataUrlOf({ ...base, artifact_uri: 's3://b/models/churn/v1/model.tar.gz' })).toBe('s3://b/models/churn/v1/model.tar.gz');
    expect(() => modelDataUrlOf(base)).toThrow(/needs the version's model\.tar\.gz in S3, but its artifact is \(none/);
    expect(() => modelDataUrlOf({ ...base, artifact_uri: 'gs://b/models/churn/v1/model.tar.gz' })).toThrow(/its artifact is gs:\/\//);
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('materialised versions in S3 with a SageMaker model package (moto_server)', () => {
  let moto: MotoServer;
  let store: S3ObjectStore;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'mlstack-registry-test' }));
    store = new S3ObjectStore('mlstack-registry-test');
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  it('concurrent registrations claim distinct versions in S3 (conditional writes) and each points its package at its own archive', async () => {
    await writeFakePackage(store, 'models/run-1/', 'one');
    await writeFakePackage(store, 'models/run-2/', 'two');
    const registry = new ModelRegistry(store, 'registry/', 'churn');
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-dev/serving:abc123';
    const register = (run: string, metrics: Record<string, number>) =>
      registry.register({
        project: 'churn',
        metrics,
        lineage: { ...lineage, run_id: run },
        materialise: { source: { store, prefix: `models/${run}/` }, modelsPrefix: CHURN.models, evaluation: JSON.stringify({ auc: metrics.auc }) },
        beforeRecord: async (draft) => ({ sagemaker_model_package_arn: await createSageMakerModelPackage({ version: draft, groupName: 'churn-dev', image, region: 'us-east-1' }) }),
      });
    const [a, b] = await Promise.all([register('run-1', { auc: 0.81 }), register('run-2', { auc: 0.83 })]);
    expect([a.version, b.version].sort()).toEqual(['v1', 'v2']);
    expect(a.sagemaker_model_package_arn).not.toEqual(b.sagemaker_model_package_arn);
    const client = sagemakerClient('us-east-1');
    expect((await client.send(new ListModelPackagesCommand({ ModelPackageGroupName: 'churn-dev' }))).ModelPackageSummaryList?.length).toBe(2);
    for (const record of [a, b]) {
      expect(record.artifact_uri).toBe(`s3://mlstack-registry-test/${versionArchiveKey(CHURN, record.version)}`);
      expect(await store.exists(versionArchiveKey(CHURN, record.version))).toBe(true);
      const described = await client.send(new DescribeModelPackageCommand({ ModelPackageName: record.sagemaker_model_package_arn }));
      expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({ ModelDataUrl: record.artifact_uri, Image: image });
      expect(described.ModelMetrics?.ModelQuality?.Statistics).toEqual({ ContentType: 'application/json', S3Uri: record.evaluation_uri });
      expect(described.CustomerMetadataProperties).toMatchObject({ mlstack_version: record.version, run_id: record.lineage.run_id, data_hash: 'd1', metric_auc: String(record.metrics.auc) });
    }
  });
});
