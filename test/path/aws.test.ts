/**
 * A model's whole path through MlStack-<env>, driven by the synthesized template itself (intrinsics resolved as
 * CloudFormation would): the scheduled Fargate task, the EventBridge rule on `_SUCCESS.json`, the Step Functions
 * definition (run by a small interpreter, test/path/sfn.ts) whose SageMaker tasks start the bundles the way
 * SageMaker does (test/path/sagemaker.ts), and the endpoint's model. S3 and the SageMaker model registry are
 * moto_server; the containers, their files and every handoff between them are real.
 *
 *   schedule -> ingestion task -> processed run + _SUCCESS.json -> the rule's event starts the state machine ->
 *   Train (CPU backend instead of the GPU one) -> Evaluate -> Register (v1, models/<project>/v1/model.tar.gz and a
 *   model package) -> `mlstack promote --model v1` -> re-synthesized stack's endpoint model points at an object
 *   that exists -> the serving container, started as SageMaker starts it on that archive, predicts what the
 *   model predicts locally.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateModelPackageGroupCommand, DescribeModelPackageCommand, ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { loadProjectConfig } from '../../config/load';
import { buildMlApp } from '../../infra/aws/build-app';
import { awsStackName } from '../../runtime/contract/stack-names';
import { isSecretPlaceholder, PLATFORM_ENV, ENV } from '../../runtime/contract/env';
import { storagePaths, SUCCESS_MARKER, versionArchiveKey } from '../../runtime/contract/layout';
import { startSampleApi, type SampleApi } from '../../runtime/ingestion/sample-api';
import { S3ObjectStore } from '../../runtime/storage/s3-store';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { resourcesOfType, resolveCfn, type CfnContext, type Template } from './cfn';
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
import { getObject, sageMakerPlatform } from './sagemaker';
import { runStateMachine, type Definition } from './sfn';

jest.setTimeout(300_000);

type Obj = Record<string, any>;

function synthAws(configDir: string): CfnContext {
  const { app } = buildMlApp({ configDir, outdir: makeTempDir('mlstack-path-aws-'), environments: [ENV_NAME], nag: false });
  const template = app.synth().getStackByName(awsStackName(ENV_NAME)).template as Template;
  const region = loadProjectConfig(configDir).environments[ENV_NAME].aws!.region;
  return { template, region };
}

/** EventBridge's wildcard: `*` matches any run of characters. */
function wildcardMatches(pattern: string, value: string): boolean {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);
}

/** The image URI's repository name says which image it is: <registry>/<project>-<env>/<image>:<tag>. */
function bundleOf(bundles: Bundles, imageUri: string): string {
  const image = /\/([a-z-]+):[^/]+$/.exec(imageUri)?.[1];
  if (image === 'ingestion') return bundles.ingestion;
  if (image === 'training-gpu') return bundles.training;
  if (image === 'serving') return bundles.serving;
  throw new Error(`no bundle for image ${imageUri}`);
}

const describeWithMoto = motoAvailable() ? describe : describe.skip;

describeWithMoto('aws: scheduled ingestion -> Step Functions + SageMaker -> registry -> promotion -> endpoint, as MlStack-dev declares it', () => {
  let moto: MotoServer;
  let api: SampleApi;
  let bundles: Bundles;
  let configDir: string;
  let s3: S3Client;
  let emulators: Record<string, string>;
  const saved = { ...process.env };

  beforeAll(async () => {
    [moto, api] = await Promise.all([startMoto(), startSampleApi({ rows: 1500, pageSize: 500, token: API_TOKEN })]);
    configDir = pathConfig(api.url);
    bundles = await buildBundles(configDir);
    const region = loadProjectConfig(configDir).environments[ENV_NAME].aws!.region;
    emulators = { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
    Object.assign(process.env, emulators, { AWS_REGION: region });
    s3 = new S3Client({ region, endpoint: moto.endpoint, forcePathStyle: true });
  }, 300_000);

  afterAll(async () => {
    process.env = saved;
    s3?.destroy();
    await Promise.all([moto?.stop(), api?.close()]);
  });

  test('walks the whole path; every variable the stack sets is read by its container', async () => {
    const config = loadProjectConfig(configDir);
    const env = config.environments[ENV_NAME];
    const aws = env.aws!;
    const paths = storagePaths(env, 'aws', config.pipeline.project);
    const project = config.pipeline.project;
    const ctx = synthAws(configDir);
    const sagemaker = new SageMakerClient({ region: ctx.region, endpoint: moto.endpoint });

    // What `cdk deploy` creates and the runtime relies on: the data bucket and the model package group.
    const [lake] = resourcesOfType(ctx, 'AWS::S3::Bucket').filter((b) => b.properties.BucketName === aws.storage.bucket);
    await s3.send(new CreateBucketCommand({ Bucket: lake.properties.BucketName }));
    const [group] = resourcesOfType(ctx, 'AWS::SageMaker::ModelPackageGroup');
    await sagemaker.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: group.properties.ModelPackageGroupName }));
    const platformRegion = { AWS_REGION: ctx.region, AWS_DEFAULT_REGION: ctx.region };

    // 1. EventBridge Scheduler runs the Fargate task; ECS fills the token from Secrets Manager (the operator set it).
    const [secret] = resourcesOfType(ctx, 'AWS::SecretsManager::Secret');
    expect(isSecretPlaceholder(secret.properties.SecretString)).toBe(true);
    const secretArn = resolveCfn({ Ref: secret.id }, ctx) as string;
    const [schedule] = resourcesOfType(ctx, 'AWS::Scheduler::Schedule');
    expect(schedule.properties.ScheduleExpression).toBe(env.ingestion_schedule);
    const [task] = resourcesOfType(ctx, 'AWS::ECS::TaskDefinition');
    expect(schedule.properties.Target.EcsParameters.TaskDefinitionArn).toBe(resolveCfn({ Ref: task.id }, ctx));
    const [definition] = task.properties.ContainerDefinitions as Obj[];
    const ingestionEnv: Record<string, string> = {
      ...Object.fromEntries((definition.Environment as Obj[]).map((e) => [e.Name, e.Value])),
      ...Object.fromEntries(((definition.Secrets as Obj[]) ?? []).map((s) => [s.Name, s.ValueFrom === secretArn ? API_TOKEN : `unknown secret ${s.ValueFrom}`])),
    };
    const ingested = await runContainer(bundleOf(bundles, definition.Image), definition.Command, { declared: ingestionEnv, image: imageEnv(bundles.ingestion), platform: platformRegion, emulators }, 'ingestion task');
    expect(unreadDeclared(ingestionEnv, ingested.reads)).toEqual([]);
    const result = JSON.parse(ingested.output.split('\n').find((l) => l.startsWith('{"runId"'))!);
    const markerKey = `${paths.processed}${result.runId}/${SUCCESS_MARKER}`;
    await s3.send(new HeadObjectCommand({ Bucket: aws.storage.bucket, Key: markerKey }));

    // 2. The marker's "Object Created" event matches the rule, whose target is the training state machine.
    const rule = resourcesOfType(ctx, 'AWS::Events::Rule').find((r) => r.properties.EventPattern?.source?.includes('aws.s3'))!;
    const pattern = rule.properties.EventPattern;
    expect(pattern.detail.bucket.name).toEqual([aws.storage.bucket]);
    expect(wildcardMatches(pattern.detail.object.key[0].wildcard, markerKey)).toBe(true);
    const [machine] = resourcesOfType(ctx, 'AWS::StepFunctions::StateMachine').filter((m) => rule.properties.Targets[0].Arn === resolveCfn({ Ref: m.id }, ctx));
    const event = { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: aws.storage.bucket }, object: { key: markerKey } } };

    // 3. The definition runs; SageMaker's jobs are played with the real bundles on moto S3.
    const platform = sageMakerPlatform({
      s3,
      bundleFor: (image) => bundleOf(bundles, image),
      // No GPU here: the CPU (wasm) bundle trains, and the environment's require_gpu is waived for it alone.
      imageEnv: (dir) => ({ ...imageEnv(dir), ...platformRegion, [ENV.requireGpu]: '0' }),
      emulators,
    });
    const execution = await runStateMachine(JSON.parse(machine.properties.DefinitionString) as Definition, event, platform.handle);
    expect(execution.steps.map((s) => s.state)).toEqual(expect.arrayContaining(['Train', 'Evaluate', 'Register']));
    expect(platform.runs.map((r) => `${r.kind} ${r.args[0]}`)).toEqual(['training train', 'processing evaluate', 'processing register']);
    for (const run of platform.runs) expect({ job: run.name, unread: unreadDeclared(run.declared, run.reads) }).toEqual({ job: run.name, unread: [] });
    const training = platform.runs[0];
    expect(training.declared).toEqual({ [ENV.env]: ENV_NAME, [ENV.cloud]: 'aws' });
    // The training container tracked its run in the environment's bucket (found from the declared env and cloud).
    const tracked = JSON.parse((await getObject(s3, `s3://${aws.storage.bucket}/tracking/${project}/runs/${training.name}.json`)).toString('utf8'));
    expect(tracked).toMatchObject({ run_id: training.name, source: 'train', tags: { contract: 'sagemaker' }, lineage: { env: ENV_NAME, cloud: 'aws' } });

    // 4. Registration: v1's archive where the endpoint will look, and the model package pointing at it.
    const archiveUri = `s3://${aws.storage.bucket}/${versionArchiveKey(paths, 'v1')}`;
    const packages = await sagemaker.send(new ListModelPackagesCommand({ ModelPackageGroupName: group.properties.ModelPackageGroupName }));
    expect(packages.ModelPackageSummaryList).toHaveLength(1);
    const described = await sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: packages.ModelPackageSummaryList![0].ModelPackageArn }));
    expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({
      ModelDataUrl: archiveUri,
      Image: platform.runs[2].declared[ENV.servingImage],
    });
    expect(platform.runs[2].declared[ENV.servingImage]).toMatch(new RegExp(`/serving:${aws.image_tag}$`));

    // 5. Promotion pins v1; the re-synthesized endpoint model loads exactly that archive.
    expect(resourcesOfType(ctx, 'AWS::SageMaker::Model')).toEqual([]);
    const repo = projectRepository(configDir);
    await promoteAndMerge(repo, 'v1', `s3://${aws.storage.bucket}/`);
    const served = synthAws(repo.configDir);
    const [model] = resourcesOfType(served, 'AWS::SageMaker::Model');
    const container = (model.properties.PrimaryContainer ?? model.properties.Containers[0]) as Obj;
    expect(container.ModelDataUrl).toBe(archiveUri);

    // 6. SageMaker unpacks the archive into /opt/ml/model and starts `<image> serve` on port 8080 (both moved here).
    const modelDir = makeTempDir('mlstack-opt-ml-model-');
    const archive = path.join(makeTempDir('mlstack-archive-'), 'model.tar.gz');
    fs.writeFileSync(archive, await getObject(s3, container.ModelDataUrl));
    execFileSync('tar', ['-xzf', archive, '-C', modelDir]);
    const servingEnv = (container.Environment ?? {}) as Record<string, string>;
    const port = await freePort();
    const server = startContainer(bundleOf(bundles, container.Image), ['serve'], {
      declared: servingEnv,
      image: imageEnv(bundles.serving),
      platform: { ...platformRegion, [ENV.sageMakerModelDir]: modelDir, [PLATFORM_ENV.port]: String(port) },
      emulators,
    });
    try {
      await waitUntilReady(`http://127.0.0.1:${port}/ping`, server);
      const csv = (await getObject(s3, `s3://${aws.storage.bucket}/${paths.processed}${result.runId}/data.csv`)).toString('utf8');
      const rows = featureRows(config, csv);
      const answer = await postJson(`http://127.0.0.1:${port}/invocations`, { instances: rows });
      expect(answer.status).toBe(200);
      expect(answer.json.model_version).toBe('v1');
      const expected = JSON.parse(JSON.stringify(await localPredictions(new S3ObjectStore(aws.storage.bucket), 'v1', project, rows)));
      expect(servedPredictions(answer.json)).toEqual(expected);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    expect(unreadDeclared(servingEnv, server.reads())).toEqual([]);
    sagemaker.destroy();
  });
});
