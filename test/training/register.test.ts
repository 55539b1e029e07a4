import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { loadProjectConfig } from '../../config/load';
import { processedRunPrefix, storagePaths } from '../../runtime/contract/layout';
import { UsageError } from '../../runtime/common/errors';
import { sagemakerClient } from '../../runtime/registry/sagemaker';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { openStoreRoot } from '../../runtime/storage/open';
import { train } from '../../runtime/training';
import type { EnvironmentContext } from '../../runtime/training/locate';
import { registerPackage, registerTrainedModel, servingImageFor } from '../../runtime/training/register';
import { codeVersion } from '../../runtime/training/version';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const configDir = copyConfig();
editJson(path.join(configDir, 'pipeline.json'), (doc) => (doc.training_params.epochs = 1));
const project = loadProjectConfig(configDir);

function contextFor(store: ObjectStore, cloud: EnvironmentContext['cloud']): EnvironmentContext {
  return { project, envName: 'dev', cloud, store, paths: storagePaths(project.environments.dev, cloud, project.pipeline.project) };
}

/** Trains a one-epoch package into the project's `<models><project>/runs/<runId>/` of the store. */
async function trainedPackage(store: ObjectStore, runId: string): Promise<string> {
  const paths = contextFor(store, 'local').paths;
  const dataKey = `${processedRunPrefix(paths, runId)}data.csv`;
  await store.put(dataKey, churnCsv(300, 4));
  const result = await train({ project, store, dataKeys: [dataKey], runId, modelsPrefix: paths.models, checkpointsPrefix: paths.checkpoints, progress: 'none' });
  return result.packagePrefix;
}

describe('servingImageFor', () => {
  const pinned = (account: string | undefined, tag: string) => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'prod.json'), (doc) => {
      if (account) doc.aws.account = account;
      doc.aws.image_tag = tag;
    });
    return { project: loadProjectConfig(dir), envName: 'prod' as const };
  };

  it('takes an explicit image first, refusing the placeholder account', () => {
    expect(servingImageFor({ project, envName: 'dev' }, ' 1.dkr.ecr.eu-west-1.amazonaws.com/x:1 ')).toBe('1.dkr.ecr.eu-west-1.amazonaws.com/x:1');
    expect(() => servingImageFor({ project, envName: 'dev' }, '000000000000.dkr.ecr.us-east-1.amazonaws.com/x:1')).toThrow(UsageError);
  });

  it('derives <account>.dkr.ecr.<region>.amazonaws.com/<project>-<env>/serving:<tag> only with an account and a pinned tag', () => {
    const ctx = pinned('210987654321', 'v1.2.3');
    const region = ctx.project.environments.prod.aws!.region;
    expect(servingImageFor(ctx)).toBe(`210987654321.dkr.ecr.${region}.amazonaws.com/mlstack-prod/serving:v1.2.3`);
    expect(() => servingImageFor(pinned('210987654321', 'latest'))).toThrow(/pass --image <uri> .*set aws\.account and pin aws\.image_tag \(not "latest"\) in config\/environments\/prod\.json/);
    expect(() => servingImageFor(pinned(undefined, 'v1.2.3'))).toThrow(UsageError);
    expect(() => servingImageFor(pinned('000000000000', 'v1.2.3'))).toThrow(UsageError);
  });
});

describe('registerPackage (local store)', () => {
  it('refuses a package of another project and one outside the environment store', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const prefix = await trainedPackage(store, 'run-x');
    const other = copyConfig();
    editJson(path.join(other, 'pipeline.json'), (doc) => (doc.project = 'churn'));
    const otherCtx = { ...contextFor(store, 'local'), project: loadProjectConfig(other) };
    await expect(registerPackage(otherCtx, { source: prefix })).rejects.toThrow(/belongs to project "mlstack", but .*pipeline\.json is project "churn"/);
    const elsewhere = contextFor(new LocalObjectStore(makeTempDir()), 'local');
    await expect(registerTrainedModel(elsewhere, store.uri(prefix))).rejects.toThrow(/is not in the dev store/);
  });

  it('records a version per distinct training, and returns the version that already holds a run unless forced', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const ctx = contextFor(store, 'local');
    await trainedPackage(store, 'run-1');
    await trainedPackage(store, 'run-2');
    const first = await registerTrainedModel(ctx, 'run-1');
    const second = await registerTrainedModel(ctx, 'run-2');
    expect([first.version.version, second.version.version, first.created, second.created]).toEqual(['v1', 'v2', true, true]);
    // run-1 is not the newest version any more, yet it is still v1: registering it again returns v1.
    const repeat = await registerTrainedModel(ctx, 'run-1');
    expect([repeat.version.version, repeat.created]).toEqual(['v1', false]);
    expect((await registerTrainedModel(ctx, 'run-2')).version.version).toBe('v2');
    const forced = await registerTrainedModel(ctx, 'run-1', { force: true, parentRun: 'run-2' });
    expect([forced.version.version, forced.created, forced.version.lineage.parent_run]).toEqual(['v3', true, 'run-2']);
  });

  it('records the same lineage on every path: the code version from git and the data URI training recorded', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const ctx = contextFor(store, 'local');
    const prefix = await trainedPackage(store, 'run-l');
    const dataUri = store.uri(`${processedRunPrefix(ctx.paths, 'run-l')}data.csv`);
    const viaCli = await registerTrainedModel(ctx, 'run-l');
    expect(viaCli.version.lineage).toMatchObject({ run_id: 'run-l', data_uri: dataUri, code_version: codeVersion() });
    const viaPipeline = await registerPackage(ctx, { source: prefix, dataUri, force: true });
    expect(viaPipeline.version.lineage).toMatchObject({ data_uri: dataUri, code_version: viaCli.version.lineage.code_version });
    expect(codeVersion()).toMatch(/\+[0-9a-f]{12}$|^[^+]+$/);
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('registerPackage on AWS (moto_server)', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'mlstack-dev-data' }));
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  it('gives a version registered without a model package one when it is registered again on AWS', async () => {
    const store = await openStoreRoot('s3://mlstack-dev-data');
    const ctx = contextFor(store, 'aws');
    const prefix = await trainedPackage(store, 'pipeline-run');
    // What `mlstack pipeline --cloud aws` does: the version, without a SageMaker model package.
    const plain = await registerPackage(ctx, { source: prefix, modelPackage: false });
    expect(plain.version.sagemaker_model_package_arn).toBeUndefined();
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:ci-3';
    const again = await registerPackage(ctx, { source: prefix, servingImage: image });
    expect(again).toMatchObject({ created: false, version: { version: plain.version.version } });
    const described = await sagemakerClient('us-east-1').send(new DescribeModelPackageCommand({ ModelPackageName: again.version.sagemaker_model_package_arn }));
    expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({ ModelDataUrl: plain.version.artifact_uri, Image: image });
    const third = await registerPackage(ctx, { source: prefix, servingImage: image });
    expect(third.version.sagemaker_model_package_arn).toBe(again.version.sagemaker_model_package_arn);
  });
});
