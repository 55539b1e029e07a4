import { DescribeModelPackageCommand, ListModelPackagesCommand } from '@aws-sdk/client-sagemaker';
import { ModelRegistry, UnknownVersionError, versionNumber } from '../../runtime/registry';
import { createSageMakerModelPackage, sagemakerClient } from '../../runtime/registry/sagemaker';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';

const lineage = { data_hash: 'd1', config_hash: 'c1', code_version: '0.1.0+abc', run_id: 'run-1' };

describe('ModelRegistry', () => {
  it('allocates v1, v2, ... and stores records with lineage at <prefix><project>/versions/', async () => {
    const dir = makeTempDir();
    const store = new LocalObjectStore(dir);
    const registry = new ModelRegistry(store);
    expect(await registry.latest()).toBeNull();
    const v1 = await registry.register({ project: 'churn', packagePrefix: 'models/run-1', metrics: { auc: 0.8 }, lineage });
    const v2 = await registry.register({ project: 'churn', packagePrefix: 'models/run-2/', metrics: { auc: 0.85 }, lineage: { ...lineage, run_id: 'run-2', parent_run: 'run-1' } });
    expect([v1.version, v2.version]).toEqual(['v1', 'v2']);
    expect(v1.package_prefix).toBe('models/run-1/');
    expect(v1.package_uri).toBe(store.uri('models/run-1/metadata.json').replace(/metadata\.json$/, ''));
    expect(v1.lineage.parent_run).toBeNull();
    expect(await store.exists('registry/churn/versions/v2.json')).toBe(true);
    expect((await registry.get('v2')).lineage.parent_run).toBe('run-1');
    expect((await registry.list()).map((v) => v.version)).toEqual(['v1', 'v2']);
    expect((await registry.latest())?.metrics.auc).toBe(0.85);
  });

  it('never hands out the same version to concurrent registrations', async () => {
    const registry = new ModelRegistry(new LocalObjectStore(makeTempDir()), 'reg/');
    const versions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => registry.register({ project: 'churn', packagePrefix: `models/r${i}/`, metrics: {}, lineage: { ...lineage, run_id: `r${i}` } })),
    );
    const names = versions.map((v) => v.version).sort((a, b) => versionNumber(a) - versionNumber(b));
    expect(names).toEqual(Array.from({ length: 12 }, (_, i) => `v${i + 1}`));
    expect((await registry.list()).length).toBe(12);
  });

  it('names the known versions when asked for an unknown one', async () => {
    const registry = new ModelRegistry(new LocalObjectStore(makeTempDir()));
    await expect(registry.get('v1')).rejects.toThrow(/"v1" is not registered.*\(none yet/);
    await registry.register({ project: 'churn', packagePrefix: 'm/', metrics: {}, lineage });
    await expect(registry.get('v7')).rejects.toThrow(UnknownVersionError);
    await expect(registry.get('latest')).rejects.toThrow(/known versions: v1/);
    expect(() => versionNumber('1')).toThrow(/versions look like v1/);
    await expect(registry.register({ project: 'Bad Name', packagePrefix: 'm/', metrics: {}, lineage })).rejects.toThrow(/invalid project name/);
  });

  it('asks for the project when a registry holds several', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const registry = new ModelRegistry(store);
    await registry.register({ project: 'alpha', packagePrefix: 'm/', metrics: {}, lineage });
    await registry.register({ project: 'beta', packagePrefix: 'm/', metrics: {}, lineage });
    await expect(registry.list()).rejects.toThrow(/several projects \(alpha, beta\)/);
    expect((await new ModelRegistry(store, 'registry/', 'beta').list()).map((v) => v.project)).toEqual(['beta']);
    const annotated = await new ModelRegistry(store, 'registry/', 'alpha').annotate('v1', { sagemaker_model_package_arn: 'arn:x' });
    expect((await new ModelRegistry(store, 'registry/', 'alpha').get('v1')).sagemaker_model_package_arn).toBe(annotated.sagemaker_model_package_arn);
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('SageMaker model package (moto_server)', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL_SAGEMAKER = moto.endpoint;
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_SAGEMAKER;
    await moto?.stop();
  });

  it('creates the group when missing and a package with the metrics per version', async () => {
    const registry = new ModelRegistry(new LocalObjectStore(makeTempDir()));
    const v1 = await registry.register({ project: 'churn', packagePrefix: 'models/run-1/', metrics: { auc: 0.81 }, lineage });
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-serving:latest';
    const arn1 = await createSageMakerModelPackage({ version: { ...v1, package_uri: 's3://mlstack-dev-data/models/run-1/' }, groupName: 'churn', image, region: 'us-east-1' });
    const v2 = await registry.register({ project: 'churn', packagePrefix: 'models/run-2/', metrics: { auc: 0.83 }, lineage });
    const arn2 = await createSageMakerModelPackage({ version: v2, groupName: 'churn', image, region: 'us-east-1' });
    expect(arn1).not.toEqual(arn2);
    const client = sagemakerClient('us-east-1');
    const listed = await client.send(new ListModelPackagesCommand({ ModelPackageGroupName: 'churn' }));
    expect(listed.ModelPackageSummaryList?.length).toBe(2);
    const described = await client.send(new DescribeModelPackageCommand({ ModelPackageName: arn1 }));
    expect(described.CustomerMetadataProperties?.metric_auc).toBe('0.81');
    expect(described.CustomerMetadataProperties?.data_hash).toBe('d1');
    expect(described.InferenceSpecification?.Containers?.[0].ModelDataUrl).toBe('s3://mlstack-dev-data/models/run-1/');
  });
});
