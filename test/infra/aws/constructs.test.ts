/** GIVEN/WHEN/THEN tests of each construct on its own, in a bare stack (no synth of the full app). */
import { App, CfnParameter, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DATA_LAKE_DEFAULTS, DataLake } from '../../../infra/aws/constructs/data-lake';
import { HYPERPARAMETER_TUNING_DEFAULTS, HyperparameterTuning } from '../../../infra/aws/constructs/hyperparameter-tuning';
import { INGESTION_DEFAULTS, Ingestion, secretPlaceholder } from '../../../infra/aws/constructs/ingestion';
import { ENDPOINT_METRIC_DEFAULTS, MODEL_ENDPOINT_DEFAULTS, ModelEndpoint, VARIANT_NAME } from '../../../infra/aws/constructs/model-endpoint';
import { Monitoring } from '../../../infra/aws/constructs/monitoring';
import { ASSET_IMAGE_TAG, ImageRepositories, REGISTRY_DEFAULTS, Registry } from '../../../infra/aws/constructs/registry';
import { REGISTER_PATHS, TRAINING_JOB_DEFAULTS, TrainingJob, TRAINING_METRICS, metricDefinitions, statesFormat } from '../../../infra/aws/constructs/training-job';
import { metricLine } from '../../../runtime/training/telemetry';
import { metricDirection, SAGEMAKER_METRIC_DEFINITIONS, TUNABLE_METRICS } from '../../../runtime/contract/metrics';
import { hasInstanceStorage, isBurstableInstanceType, isGpuInstanceType, isSageMakerInstanceType, volumeKmsKeyFor } from '../../../infra/aws/instance-types';
import { awsNames } from '../../../runtime/contract/aws-names';
import { ENV, ingestionLaunch, isSecretPlaceholder, sageMakerRegisterLaunch, sageMakerServingEnvironment, sageMakerTrainingEnvironment, type LaunchContext } from '../../../runtime/contract/env';
import { FIXED_PREFIXES, layoutOf, MODEL_ARCHIVE, processedRunPrefix, projectLayout, runPackagePrefix, runsPrefix, SUCCESS_MARKER, versionArchiveKey } from '../../../runtime/contract/layout';
import { evaluateFormat, evaluateRunIdExpression, resolveCfn } from './helpers';
import { acknowledgeJustifiedWildcards, wildcardFindings } from '../../../infra/aws/nag';
import { ConstructPropsError, PropsValidator } from '../../../infra/aws/validation';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../../helpers/tmp';

/** A build context with only the three Dockerfiles, so staging image assets costs nothing. */
const BUILD_CONTEXT = (() => {
  const dir = makeTempDir('mlstack-build-context-');
  for (const image of ['ingestion', 'training-gpu', 'serving']) {
    fs.mkdirSync(path.join(dir, 'containers', image), { recursive: true });
    fs.writeFileSync(path.join(dir, 'containers', image, 'Dockerfile'), 'FROM scratch\n');
  }
  return dir;
})();

const BUCKET = 'test-data-bucket';
const NAMES = awsNames({ project: 'proj', endpoint_name: 'churn' }, 'dev');
const CTX: LaunchContext = { cloud: 'aws', envName: 'dev', project: 'proj', bucket: `s3://${BUCKET}` };
/** The project's prefixes in the default layout, as MlStack gives its DataLake. */
const PROJ = projectLayout(layoutOf(undefined), CTX.project);

/** A construct's value as the deployed template holds it: the data bucket's Ref is its name, other tokens `<LogicalId>`. */
function deployed(stack: Stack, value: unknown): any {
  const bucketId = Object.entries(Template.fromStack(stack).findResources('AWS::S3::Bucket')).find(([, b]) => b.Properties?.BucketName === BUCKET)![0];
  return resolveCfn(stack.resolve(value), { [bucketId]: BUCKET });
}

/** A state machine's definition as deployed (see deployed()). */
function definitionOf(machine: sfn.StateMachine): any {
  return JSON.parse(deployed(Stack.of(machine), (machine.node.defaultChild as sfn.CfnStateMachine).definitionString));
}

function fixture(imageTag?: string, prefixes?: ConstructorParameters<typeof DataLake>[2]['prefixes']) {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const dataLake = new DataLake(stack, 'DataLake', { bucketName: BUCKET, retainOnDelete: false, prefixes: prefixes ?? PROJ });
  const registry = new Registry(stack, 'Registry', { repositoryNames: NAMES.repositories, modelPackageGroupName: NAMES.modelPackageGroup, imageTag, buildContext: BUILD_CONTEXT });
  return { app, stack, vpc, dataLake, registry };
}

function trainingJob(f: ReturnType<typeof fixture>, overrides: Partial<ConstructorParameters<typeof TrainingJob>[2]> = {}) {
  return new TrainingJob(f.stack, 'Training', {
    dataLake: f.dataLake,
    registry: f.registry,
    vpc: f.vpc,
    launchContext: CTX,
    jobNamePrefix: NAMES.trainingJobPrefix,
    instanceType: 'ml.g5.xlarge',
    requireGpu: true,
    ...overrides,
  });
}

function policyStatements(stack: Stack): any[] {
  return Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('instance types', () => {
  test('classifies SageMaker families', () => {
    expect(isGpuInstanceType('ml.g4dn.xlarge')).toBe(true);
    expect(isGpuInstanceType('ml.p4d.24xlarge')).toBe(true);
    expect(isGpuInstanceType('ml.m5.xlarge')).toBe(false);
    expect(isGpuInstanceType('g5.xlarge')).toBe(false);
    expect(isBurstableInstanceType('ml.t3.medium')).toBe(true);
    expect(isSageMakerInstanceType('ml.c6i.large')).toBe(true);
    expect(isSageMakerInstanceType('c6i.large')).toBe(false);
  });

  test('instance storage: NVMe types get no VolumeKmsKeyId (SageMaker rejects it), EBS-only types keep it', () => {
    const local = ['ml.g4dn.xlarge', 'ml.g5.2xlarge', 'ml.g6.xlarge', 'ml.g6e.xlarge', 'ml.p3dn.24xlarge', 'ml.p4d.24xlarge', 'ml.p4de.24xlarge', 'ml.p5.48xlarge', 'ml.p5en.48xlarge', 'ml.m5d.large', 'ml.c5d.xlarge', 'ml.r5d.large', 'ml.m6id.large', 'ml.trn1.2xlarge', 'ml.trn1n.32xlarge'];
    const ebs = ['ml.m5.xlarge', 'ml.c5.2xlarge', 'ml.c5n.xlarge', 'ml.p3.2xlarge', 'ml.p2.xlarge', 'ml.c6i.large', 'ml.m4.xlarge', 'ml.inf2.xlarge', 't3.large'];
    expect(local.filter((t) => !hasInstanceStorage(t))).toEqual([]);
    expect(ebs.filter(hasInstanceStorage)).toEqual([]);
    expect(volumeKmsKeyFor('ml.g5.xlarge', 'arn:key')).toEqual({});
    expect(volumeKmsKeyFor('ml.m5.xlarge', 'arn:key')).toEqual({ VolumeKmsKeyId: 'arn:key' });
  });
});

describe('validation helpers', () => {
  test('ConstructPropsError lists every problem with its config key', () => {
    const error = new ConstructPropsError('S/C', [
      { prop: 'a', configKey: 'x.a', message: 'bad a' },
      { prop: 'b', configKey: 'x.b', message: 'bad b' },
    ]);
    expect(error.message).toBe('S/C: invalid configuration (2 problems):\n  x.a (prop a): bad a\n  x.b (prop b): bad b');
  });

  test('checkResolved skips a value only known at deploy time (a token) and checks a plain one', () => {
    // GIVEN a validator and a name that is a token
    const v = new PropsValidator(new Stack(new App(), 'S'));
    const lowercase = (name: string) => /^[a-z]+$/.test(name);
    // WHEN both a token and a plain bad name are checked
    v.checkResolved(Lazy.string({ produce: () => 'NOT CHECKED' }), lowercase, 'name', 'config.name', 'the token');
    v.checkResolved('BAD NAME', lowercase, 'name', 'config.name', 'the plain value');
    const when = () => v.throwIfInvalid();
    // THEN only the plain value is reported
    expect(when).toThrow(/\(1 problem\):\n  config\.name \(prop name\): the plain value$/);
  });
});

describe('DataLake', () => {
  test('grants are scoped to prefixes, with no wildcard actions', () => {
    const f = fixture();
    const role = new iam.Role(f.stack, 'Role', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    expect(f.dataLake.grantRead(role, 'processed').success).toBe(true);
    f.dataLake.grantWrite(role, 'models');
    f.dataLake.grantReadWrite(role, 'state');
    const statements = policyStatements(f.stack);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 's3:ListBucket',
        Condition: { StringLike: { 's3:prefix': [`${PROJ.processed}*`] } },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: { 'Fn::Join': ['', [expect.anything(), `/${PROJ.models}*`]] } }),
    );
    expect(statements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.includes('*'))).toEqual([]);
    expect(deployed(f.stack, f.dataLake.s3Uri('models', `v1/${MODEL_ARCHIVE}`))).toBe(`s3://${BUCKET}/${PROJ.models}v1/${MODEL_ARCHIVE}`);
  });

  test('retains bucket and key by default; bad lifecycle days are rejected together', () => {
    const stack = new Stack(new App(), 'S');
    new DataLake(stack, 'Lake', { bucketName: 'retained-bucket' });
    Template.fromStack(stack).hasResource('AWS::S3::Bucket', { Properties: { BucketName: 'retained-bucket' }, DeletionPolicy: 'Retain' });
    Template.fromStack(stack).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    expect(() => new DataLake(stack, 'Bad', { bucketName: 'ok-bucket', rawInfrequentAccessAfterDays: 10, checkpointExpirationDays: 0 })).toThrow(
      /^(?=[\s\S]*\(2 problems\))(?=[\s\S]*checkpointExpirationDays.*found 0)(?=[\s\S]*Infrequent Access only after 30 days)/,
    );
  });

  test('omitted lifecycle days take DATA_LAKE_DEFAULTS', () => {
    // GIVEN a data lake with no lifecycle props
    const stack = new Stack(new App(), 'S');
    // WHEN
    new DataLake(stack, 'Lake', { bucketName: 'defaults-bucket' });
    // THEN the bucket's rules hold the defaults
    const bucket = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket')).find((b) => b.Properties.BucketName === 'defaults-bucket')!;
    const rules = Object.fromEntries(bucket.Properties.LifecycleConfiguration.Rules.map((r: any) => [r.Id, r]));
    expect(rules['expire-noncurrent-versions'].NoncurrentVersionExpiration.NoncurrentDays).toBe(DATA_LAKE_DEFAULTS.noncurrentVersionExpirationDays);
    expect(rules['raw-to-infrequent-access'].Transitions[0].TransitionInDays).toBe(DATA_LAKE_DEFAULTS.rawInfrequentAccessAfterDays);
    expect(rules['expire-checkpoints'].ExpirationInDays).toBe(DATA_LAKE_DEFAULTS.checkpointExpirationDays);
    expect(bucket.DeletionPolicy).toBe(DATA_LAKE_DEFAULTS.retainOnDelete ? 'Retain' : 'Delete');
  });

  test('a bucket name known only at deploy time (a parameter) is not validated; a bad literal one is', () => {
    // GIVEN a stack whose bucket name is a CloudFormation parameter
    const stack = new Stack(new App(), 'S');
    const name = new CfnParameter(stack, 'BucketName').valueAsString;
    // WHEN
    const withToken = () => new DataLake(stack, 'Lake', { bucketName: name });
    const withLiteral = () => new DataLake(stack, 'Bad', { bucketName: 'Not_A_Bucket' });
    // THEN
    expect(withToken).not.toThrow();
    expect(withLiteral).toThrow(/aws\.storage\.bucket \(prop bucketName\): "Not_A_Bucket" is not a valid S3 bucket name/);
  });
});

describe('Registry', () => {
  test('"latest" runs the images cdk deploy builds (assets); a pinned tag runs <repo>:<tag> and declares no asset', () => {
    const assets = fixture();
    expect(assets.registry.imageTag).toBe(ASSET_IMAGE_TAG);
    expect(assets.registry.usesImageAssets).toBe(true);
    expect(Object.keys(assets.registry.assets).sort()).toEqual(['ingestion', 'serving', 'training']);
    expect(assets.stack.resolve(assets.registry.image('serving').imageUri)).toEqual({ 'Fn::Sub': expect.stringContaining('cdk-hnb659fds-container-assets') });

    const pinned = fixture('v1.4.2');
    expect(pinned.registry.usesImageAssets).toBe(false);
    expect(pinned.registry.assets).toEqual({});
    expect(pinned.stack.node.findAll().filter((c) => c.constructor.name === 'DockerImageAsset')).toEqual([]);
    const uri = deployed(pinned.stack, pinned.registry.image('serving').imageUri);
    expect(uri).toBe(`<account>.dkr.ecr.us-east-1.amazonaws.com/${NAMES.repositories.serving}:v1.4.2`);
  });

  test('references the repositories by name: it declares none and exports nothing (the registry stack declares them)', () => {
    for (const f of [fixture(), fixture('v2')]) {
      const t = Template.fromStack(f.stack);
      t.resourceCountIs('AWS::ECR::Repository', 0);
      expect(f.registry.repositories.training.repositoryName).toBe(NAMES.repositories['training-gpu']);
      expect(JSON.stringify(t.toJSON())).not.toContain('Fn::ImportValue');
      t.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: NAMES.modelPackageGroup });
    }
  });

  test('grantPush lets CI push to one repository; grantRegisterModel is limited to the group', () => {
    const f = fixture('v1');
    const ci = new iam.Role(f.stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    f.registry.grantPush(ci, 'training');
    f.registry.grantRegisterModel(ci);
    const statements = policyStatements(f.stack);
    expect(resolveCfn(statements)).toContainEqual(
      expect.objectContaining({ Action: expect.arrayContaining(['ecr:PutImage']), Resource: `arn:aws:ecr:us-east-1:<account>:repository/${NAMES.repositories['training-gpu']}` }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage', 'sagemaker:DescribeModelPackageGroup', 'sagemaker:AddTags'] }),
    );
  });

  test('rejects bad names and tags', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new Registry(stack, 'R', {
          repositoryNames: { ingestion: 'Bad Prefix/ingestion', 'training-gpu': 'Bad Prefix/training-gpu', serving: 'Bad Prefix/serving' },
          modelPackageGroupName: 'under_score',
          imageTag: '.hidden',
          buildContext: BUILD_CONTEXT,
        }),
    ).toThrow(/\(5 problems\)[\s\S]*ECR repository name "Bad Prefix\/ingestion" is invalid[\s\S]*"\.hidden" is not a valid image tag[\s\S]*"under_score" is not a valid model package group name/);
  });
});

describe('ImageRepositories', () => {
  const repositoriesOf = (stack: Stack) => Object.values(Template.fromStack(stack).findResources('AWS::ECR::Repository'));

  test('one repository per image: scan on push, immutable tags, KMS, two lifecycle rules; retained by default', () => {
    const stack = new Stack(new App(), 'Registry');
    const images = new ImageRepositories(stack, 'Repositories', { repositoryNames: NAMES.repositories, maxTaggedImages: 12 });
    const repos = repositoriesOf(stack);
    expect(repos.map((r) => r.Properties.RepositoryName).sort()).toEqual([...Object.values(NAMES.repositories)].sort());
    for (const repo of repos) {
      expect(repo.Properties).toMatchObject({
        ImageScanningConfiguration: { ScanOnPush: true },
        ImageTagMutability: 'IMMUTABLE',
        EncryptionConfiguration: { EncryptionType: 'KMS' },
      });
      const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
      expect(rules.map((r: any) => [r.selection.tagStatus, r.selection.countType, r.selection.countNumber])).toEqual([
        ['untagged', 'sinceImagePushed', 7],
        ['any', 'imageCountMoreThan', 12],
      ]);
      expect(repo.DeletionPolicy).toBe('Retain');
      expect(repo.Properties.EmptyOnDelete).toBe(false);
    }
    expect(images.repositories.serving.repositoryName).toBeDefined();
  });

  test('retainOnDelete false deletes the repositories with their images; grantPush is scoped to one repository', () => {
    const stack = new Stack(new App(), 'Registry');
    const images = new ImageRepositories(stack, 'Repositories', { repositoryNames: NAMES.repositories, retainOnDelete: false });
    const ci = new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    images.grantPush(ci, 'serving');
    for (const repo of repositoriesOf(stack)) {
      expect(repo.DeletionPolicy).toBe('Delete');
      expect(repo.Properties.EmptyOnDelete).toBe(true);
    }
    const servingId = stack.getLogicalId(images.repositories.serving.node.defaultChild as any);
    expect(policyStatements(stack)).toContainEqual(
      expect.objectContaining({ Action: expect.arrayContaining(['ecr:PutImage']), Resource: { 'Fn::GetAtt': [servingId, 'Arn'] } }),
    );
  });

  test('rejects bad names and counts together', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new ImageRepositories(stack, 'R', {
          repositoryNames: { ingestion: 'Bad Prefix/ingestion', 'training-gpu': 'ok/training-gpu', serving: 'ok/serving' },
          maxTaggedImages: 0,
          untaggedImageExpiryDays: 1.5,
        }),
    ).toThrow(/\(3 problems\)[\s\S]*ECR repository name "Bad Prefix\/ingestion" is invalid[\s\S]*maxTaggedImages \(prop maxTaggedImages\): must be a whole number >= 1, found 0[\s\S]*found 1\.5/);
  });

  test('omitted counts take REGISTRY_DEFAULTS', () => {
    // GIVEN repositories with no lifecycle props
    const stack = new Stack(new App(), 'Registry');
    // WHEN
    new ImageRepositories(stack, 'Repositories', { repositoryNames: NAMES.repositories });
    // THEN every lifecycle policy holds the defaults
    for (const repo of repositoriesOf(stack)) {
      const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
      expect(rules.map((r: any) => r.selection.countNumber)).toEqual([REGISTRY_DEFAULTS.untaggedImageExpiryDays, REGISTRY_DEFAULTS.maxTaggedImages]);
    }
    expect(fixture().registry.imageTag).toBe(REGISTRY_DEFAULTS.imageTag);
  });
});

describe('TrainingJob', () => {
  test('on-demand multi-instance training: no checkpoint config, encrypted inter-container traffic; no rule when the marker is off', () => {
    const f = fixture();
    const job = trainingJob(f, { instanceCount: 2, startOnDataMarker: false });
    const grantee = new iam.Role(f.stack, 'Starter', { assumedBy: new iam.AccountRootPrincipal() });
    job.grantStartExecution(grantee);
    const t = Template.fromStack(f.stack);
    t.resourceCountIs('AWS::Events::Rule', 0);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { Description: 'distributed training between instances' });
    expect(job.jobDefinition).toMatchObject({ EnableManagedSpotTraining: false, EnableInterContainerTrafficEncryption: true, StoppingCondition: { MaxRuntimeInSeconds: 86_400 } });
    expect(definitionOf(job.stateMachine).States.Train.Parameters.CheckpointConfig).toBeUndefined();
    expect(policyStatements(f.stack)).toContainEqual(expect.objectContaining({ Action: 'states:StartExecution' }));
  });

  test('spot without max_wait defaults to twice the runtime; checkpoints under <checkpoints><project>/<job>/', () => {
    const f = fixture();
    const job = trainingJob(f, { spot: true, maxRuntime: Duration.hours(2) });
    expect(job.jobDefinition).toMatchObject({ StoppingCondition: { MaxRuntimeInSeconds: 7200, MaxWaitTimeInSeconds: 14_400 } });
    const checkpoint = definitionOf(job.stateMachine).States.Train.Parameters.CheckpointConfig;
    // Where the runtime keeps a run's checkpoints in the bucket (bucket mode writes <checkpoints><project>/<run>/ too).
    expect(evaluateFormat(checkpoint['S3Uri.$'], { jobName: 'proj-dev-train-abc' })).toBe(`s3://${BUCKET}/${PROJ.checkpoints}proj-dev-train-abc/`);
    expect(evaluateFormat(checkpoint['S3Uri.$'], { jobName: 'proj-dev-train-abc' })).toBe(`s3://${BUCKET}/checkpoints/${CTX.project}/proj-dev-train-abc/`);
  });

  test('VolumeKmsKeyId only where SageMaker accepts it: not on ml.g5 training or ml.m5d processing, kept on EBS-only ml.m5', () => {
    const f = fixture();
    const job = trainingJob(f, { instanceType: 'ml.g5.xlarge', evaluationInstanceType: 'ml.m5d.xlarge' });
    const states = definitionOf(job.stateMachine).States;
    expect(states.Train.Parameters.ResourceConfig).toEqual({ InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 50 });
    for (const name of ['Evaluate', 'Register']) expect(states[name].Parameters.ProcessingResources.ClusterConfig).not.toHaveProperty('VolumeKmsKeyId');

    const ebs = fixture();
    const cpuJob = trainingJob(ebs, { instanceType: 'ml.m5.xlarge', requireGpu: false });
    const cpuStates = definitionOf(cpuJob.stateMachine).States;
    const keyId = ebs.stack.getLogicalId(ebs.dataLake.encryptionKey.node.defaultChild as any);
    expect(cpuStates.Train.Parameters.ResourceConfig.VolumeKmsKeyId).toBe(`<${keyId}.Arn>`);
    expect(cpuStates.Evaluate.Parameters.ProcessingResources.ClusterConfig.VolumeKmsKeyId).toBe(`<${keyId}.Arn>`);
  });

  test(`the run comes from the ${SUCCESS_MARKER} event key or from {"processed_run"}; without either the execution fails with a clear cause`, () => {
    const f = fixture(undefined, { processed: 'lake/in/processed/' });
    const states = definitionOf(trainingJob(f).stateMachine).States;
    const choice = states.FindProcessedRun;
    expect(choice.Type).toBe('Choice');
    expect(choice.Choices.map((c: any) => [c.And.map((a: any) => a.Variable), c.Next])).toEqual([
      [['$.processed_run', '$.processed_run'], 'RunFromInput'],
      [['$.detail.object.key', '$.detail.object.key'], 'RunFromEvent'],
    ]);
    expect(states[choice.Default]).toMatchObject({ Type: 'Fail', Error: 'NoProcessedRun', Cause: expect.stringContaining('{"processed_run": "<run id>"}') });
    expect(states.RunFromInput.Parameters).toEqual({ 'processedRun.$': '$.processed_run' });
    // The rule's key pattern and the state's extraction agree on where the run id sits.
    const event = { detail: { object: { key: `${processedRunPrefix({ processed: 'lake/in/processed/' }, '20261122T020000Z-ab12')}${SUCCESS_MARKER}` } } };
    expect(evaluateRunIdExpression(states.RunFromEvent.Parameters['processedRun.$'], event)).toBe('20261122T020000Z-ab12');
    expect(states.RunFromEvent.Next).toBe('NameJob');
    expect(states.NameJob.Parameters['processedRun.$']).toBe('$.processedRun');
    Template.fromStack(f.stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { bucket: Match.anyValue(), object: { key: [{ wildcard: `lake/in/processed/*/${SUCCESS_MARKER}` }] } } }),
    });
  });

  test(`GIVEN the project's layout WHEN ${SUCCESS_MARKER} lands in <processed><project>/<run>/ THEN the rule matches it and the run id is the segment after the project`, () => {
    const f = fixture();
    const states = definitionOf(trainingJob(f).stateMachine).States;
    const key = `${processedRunPrefix(PROJ, '20261122T020000Z-cd34')}${SUCCESS_MARKER}`;
    expect(key).toBe(`data/processed/${CTX.project}/20261122T020000Z-cd34/${SUCCESS_MARKER}`);
    expect(evaluateRunIdExpression(states.RunFromEvent.Parameters['processedRun.$'], { detail: { object: { key } } })).toBe('20261122T020000Z-cd34');
    const [rule] = Object.values(Template.fromStack(f.stack).findResources('AWS::Events::Rule'));
    const pattern: string = rule.Properties.EventPattern.detail.object.key[0].wildcard;
    // EventBridge's wildcard: `*` stands for any characters.
    const matches = (objectKey: string) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.]/g, '\\.')).join('.*')}$`).test(objectKey);
    expect(matches(key)).toBe(true);
    expect(matches(`${processedRunPrefix(projectLayout(layoutOf(undefined), 'other'), 'r1')}${SUCCESS_MARKER}`)).toBe(false);
  });

  test('Train reads only that run, with the contract Environment; Evaluate reads the same run', () => {
    const f = fixture();
    const job = trainingJob(f, { hyperparameters: { epochs: '3' } });
    const states = definitionOf(job.stateMachine).States;
    const input = { jobName: 'proj-dev-train-abc', processedRun: 'run-7' };
    const channel = states.Train.Parameters.InputDataConfig;
    expect(channel).toHaveLength(1);
    expect(channel[0].ChannelName).toBe('train');
    expect(evaluateFormat(channel[0].DataSource.S3DataSource['S3Uri.$'], input)).toBe(`s3://${BUCKET}/${processedRunPrefix(PROJ, 'run-7')}`);
    expect(states.Train.Parameters.Environment).toEqual(sageMakerTrainingEnvironment(CTX));
    expect(states.Train.Parameters.HyperParameters).toEqual({ epochs: '3' });
    const data = states.Evaluate.Parameters.ProcessingInputs.find((i: any) => i.InputName === 'data');
    expect(evaluateFormat(data.S3Input['S3Uri.$'], input)).toBe(`s3://${BUCKET}/${processedRunPrefix(PROJ, 'run-7')}`);
    expect(states.Evaluate.Next).toBe('Register');
  });

  test('Register runs the training image with exactly the contract launch; no CallAwsService steps remain', () => {
    const f = fixture('v9');
    const job = trainingJob(f);
    const states = definitionOf(job.stateMachine).States;
    const register = states.Register;
    const servingImage = deployed(f.stack, f.registry.image('serving').imageUri);
    const launch = sageMakerRegisterLaunch(CTX, servingImage, REGISTER_PATHS);
    expect(register.Resource).toMatch(/:states:::sagemaker:createProcessingJob\.sync$/);
    expect(register.End).toBe(true);
    expect(register.Parameters.AppSpecification).toEqual({ ImageUri: deployed(f.stack, f.registry.image('training').imageUri), ContainerArguments: launch.args });
    expect(register.Parameters.Environment).toEqual(launch.env);
    expect(register.Parameters.Environment[ENV.servingImage]).toMatch(/:v9$/);
    const input = { jobName: 'proj-dev-train-abc', training: { ModelArtifacts: { S3ModelArtifacts: `s3://b/${runPackagePrefix(PROJ, 'proj-dev-train-abc')}output/${MODEL_ARCHIVE}` } } };
    const inputs = Object.fromEntries(register.Parameters.ProcessingInputs.map((i: any) => [i.InputName, i.S3Input]));
    expect(inputs.model).toMatchObject({ 'S3Uri.$': '$.training.ModelArtifacts.S3ModelArtifacts', LocalPath: REGISTER_PATHS.model });
    expect(inputs.evaluation.LocalPath).toBe(REGISTER_PATHS.evaluation);
    expect(evaluateFormat(inputs.evaluation['S3Uri.$'], input)).toBe(`s3://${BUCKET}/${runPackagePrefix(PROJ, 'proj-dev-train-abc')}evaluation/`);
    // The evaluation job writes where registration reads.
    expect(evaluateFormat(states.Evaluate.Parameters.ProcessingOutputConfig.Outputs[0].S3Output['S3Uri.$'], input)).toBe(`s3://${BUCKET}/${runPackagePrefix(PROJ, 'proj-dev-train-abc')}evaluation`);
    const [output] = register.Parameters.ProcessingOutputConfig.Outputs;
    expect(output.S3Output.LocalPath).toBe(REGISTER_PATHS.output);
    expect(evaluateFormat(output.S3Output['S3Uri.$'], input)).toBe(`s3://${BUCKET}/${runPackagePrefix(PROJ, 'proj-dev-train-abc')}registration`);
    expect(evaluateFormat(register.Parameters['ProcessingJobName.$'], input)).toBe('proj-dev-train-abc-reg');
    expect(Object.keys(states).sort()).toEqual(['Evaluate', 'FindProcessedRun', 'NameJob', 'NoProcessedRun', 'Register', 'RunFromEvent', 'RunFromInput', 'Train', 'TrainingFailed']);
    expect(JSON.stringify(states)).not.toContain(':aws-sdk:');
  });

  /** The policy of one of the training job's roles: the resources each action is allowed on, the bucket's ARN, the fixture. */
  const rolePolicy = (pick: (job: ReturnType<typeof trainingJob>) => iam.Role) => {
    const f = fixture('v9');
    const job = trainingJob(f);
    const policy = Object.values(Template.fromStack(f.stack).findResources('AWS::IAM::Policy')).find(
      (p) => p.Properties.Roles[0].Ref === f.stack.getLogicalId(pick(job).node.defaultChild as any),
    )!;
    const statements = resolveCfn(policy.Properties.PolicyDocument.Statement);
    const resourcesOf = (action: string): string[] => statements.filter((s: any) => [s.Action].flat().includes(action)).flatMap((s: any) => [s.Resource].flat());
    return { f, job, resourcesOf, bucketArn: `<${f.stack.getLogicalId(f.dataLake.bucket.node.defaultChild as any)}.Arn>` };
  };

  test(`the execution role writes models/ and ${FIXED_PREFIXES.tracking} (the training container tracks its run), never the registry`, () => {
    const { resourcesOf, bucketArn } = rolePolicy((j) => j.executionRole);
    const puts = resourcesOf('s3:PutObject');
    expect(puts).toEqual(expect.arrayContaining([`${bucketArn}/${PROJ.models}*`, `${bucketArn}/${FIXED_PREFIXES.tracking}*`]));
    expect(puts).not.toContain(`${bucketArn}/${FIXED_PREFIXES.registry}*`);
  });

  test(`the registration role reads models, writes models/ and ${FIXED_PREFIXES.registry}, registers in the group, pulls the training image`, () => {
    const { f, job, resourcesOf, bucketArn } = rolePolicy((j) => j.registrationRole);
    expect(resourcesOf('s3:GetObject').sort()).toEqual([`${bucketArn}/${PROJ.models}*`, `${bucketArn}/${FIXED_PREFIXES.registry}*`]);
    expect(resourcesOf('s3:PutObject').sort()).toEqual([`${bucketArn}/${PROJ.models}*`, `${bucketArn}/${FIXED_PREFIXES.registry}*`]);
    expect(resourcesOf('s3:DeleteObject')).toEqual([]);
    for (const action of ['sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage', 'sagemaker:DescribeModelPackageGroup', 'sagemaker:AddTags']) {
      expect(resourcesOf(action)).toContainEqual(expect.stringContaining('model-package'));
    }
    // The environment's repository by name (declared in the registry stack), not a resource of this stack.
    expect(resourcesOf('ecr:BatchGetImage')).toEqual([`arn:aws:ecr:us-east-1:<account>:repository/${NAMES.repositories['training-gpu']}`]);
    expect(resourcesOf('logs:PutLogEvents')).toEqual([expect.stringContaining('/aws/sagemaker/ProcessingJobs')]);
    // Step Functions may pass it to SageMaker.
    expect(policyStatements(f.stack)).toContainEqual(
      expect.objectContaining({ Action: 'iam:PassRole', Resource: expect.arrayContaining([f.stack.resolve(job.registrationRole.roleArn)]) }),
    );
  });

  test('the image prints validation:<metric>=<value> and SageMaker scrapes it', () => {
    const auc = metricDefinitions().find((d) => d.Name === 'validation:auc')!;
    expect(new RegExp(auc.Regex).exec(metricLine({ epoch: 3, loss: 0.4, val_auc: 0.8731 }))?.[1]).toBe('0.8731');
    // One source of truth: the job's MetricDefinitions are the runtime's, and every tunable metric has one.
    const f = fixture();
    const job = trainingJob(f, {});
    expect((job.jobDefinition.AlgorithmSpecification as { MetricDefinitions: unknown }).MetricDefinitions).toEqual(SAGEMAKER_METRIC_DEFINITIONS);
    for (const m of TRAINING_METRICS) expect(SAGEMAKER_METRIC_DEFINITIONS.map((d) => d.Name)).toContain(`validation:${m}`);
  });

  test('States.Format templates refuse characters that would need escaping', () => {
    expect(statesFormat('s3://b/{}/', '$.x')).toBe("States.Format('s3://b/{}/', $.x)");
    expect(() => statesFormat("s3://b/it's/{}", '$.x')).toThrow(/quote or backslash/);
  });

  test('rejects burstable, wrong max wait, long prefixes and huge hyperparameters', () => {
    const f = fixture();
    expect(() =>
      trainingJob(f, {
        instanceType: 'ml.t3.large',
        requireGpu: false,
        spot: true,
        maxRuntime: Duration.hours(4),
        maxWait: Duration.hours(1),
        jobNamePrefix: 'x'.repeat(46),
        hyperparameters: { big: 'y'.repeat(2501) },
        instanceCount: 0,
        evaluationInstanceType: 'm5.large',
      }),
    ).toThrow(/\(6 problems\)[\s\S]*burstable[\s\S]*instance_count[\s\S]*max_wait_seconds.*must be >= max_runtime_seconds \(14400\)[\s\S]*1-45 letters[\s\S]*evaluationInstanceType[\s\S]*pipeline\.training_params\.big/);
  });

  test('omitted props take TRAINING_JOB_DEFAULTS, and validation compares with the same values', () => {
    // GIVEN a job with only the required props
    const f = fixture();
    // WHEN
    const job = trainingJob(f, { requireGpu: undefined });
    // THEN the job definition and the pipeline hold the defaults
    expect(job.jobDefinition.ResourceConfig).toMatchObject({ InstanceCount: TRAINING_JOB_DEFAULTS.instanceCount, VolumeSizeInGB: TRAINING_JOB_DEFAULTS.volumeSizeGb });
    expect(job.jobDefinition.StoppingCondition).toEqual({ MaxRuntimeInSeconds: TRAINING_JOB_DEFAULTS.maxRuntime.toSeconds() });
    expect(job.jobDefinition.EnableManagedSpotTraining).toBe(TRAINING_JOB_DEFAULTS.spot);
    expect(job.jobDefinition.StaticHyperParameters).toEqual(TRAINING_JOB_DEFAULTS.hyperparameters);
    const states = definitionOf(job.stateMachine).States;
    for (const step of ['Evaluate', 'Register']) {
      expect(states[step].Parameters.ProcessingResources.ClusterConfig.InstanceType).toBe(TRAINING_JOB_DEFAULTS.evaluationInstanceType);
    }
    Template.fromStack(f.stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: Match.objectLike({ object: { key: [{ wildcard: `${PROJ.processed}*/${TRAINING_JOB_DEFAULTS.startOnDataMarker}` }] } }) }),
    });

    // WHEN a spot job waits less than the default runtime
    const when = () => trainingJob(fixture(), { spot: true, maxWait: Duration.hours(1) });
    // THEN validation names the same default
    expect(when).toThrow(`must be >= max_runtime_seconds (${TRAINING_JOB_DEFAULTS.maxRuntime.toSeconds()}), found 3600`);
  });

  test('spot without maxWait waits spotMaxWaitFactor times the runtime, and the state machine allows that plus evaluation', () => {
    // GIVEN a spot job of one hour
    const f = fixture();
    // WHEN
    const job = trainingJob(f, { spot: true, maxRuntime: Duration.hours(1) });
    // THEN
    const wait = 3600 * TRAINING_JOB_DEFAULTS.spotMaxWaitFactor;
    expect(job.jobDefinition.StoppingCondition.MaxWaitTimeInSeconds).toBe(wait);
    expect(definitionOf(job.stateMachine).TimeoutSeconds).toBe(wait + 2 * 3600);
  });
});

describe('HyperparameterTuning', () => {
  const space = {
    learning_rate: { min: 0.001, max: 0.1, log: true },
    units: { min: 8, max: 64, integer: true },
    hidden_layers: { values: [[32], [64, 32]] },
    optimizer: { values: ['adam', 'sgd'] },
  };

  test('maps ranges to SageMaker parameter ranges and minimises loss', () => {
    const f = fixture();
    const job = trainingJob(f, { hyperparameters: { learning_rate: '0.01', epochs: '10' } });
    const tuning = new HyperparameterTuning(f.stack, 'Tuning', { trainingJob: job, dataLake: f.dataLake, jobNamePrefix: NAMES.tuningJobPrefix, searchSpace: space, trials: 40, metric: 'loss' });
    expect(tuning.tuningJobConfig).toEqual({
      Strategy: 'Random',
      HyperParameterTuningJobObjective: { Type: 'Minimize', MetricName: 'validation:loss' },
      ResourceLimits: { MaxNumberOfTrainingJobs: 40, MaxParallelTrainingJobs: 10 },
      ParameterRanges: {
        ContinuousParameterRanges: [{ Name: 'learning_rate', MinValue: '0.001', MaxValue: '0.1', ScalingType: 'Logarithmic' }],
        IntegerParameterRanges: [{ Name: 'units', MinValue: '8', MaxValue: '64', ScalingType: 'Auto' }],
        CategoricalParameterRanges: [
          { Name: 'hidden_layers', Values: ['[32]', '[64,32]'] },
          { Name: 'optimizer', Values: ['adam', 'sgd'] },
        ],
      },
      TrainingJobEarlyStoppingType: 'Off',
    });
    // searched hyperparameters are not also static; every trial learns where its study lives
    const statics = definitionOf(tuning.stateMachine).States.StaticHyperParameters.Parameters.staticHyperParameters;
    expect(statics).toEqual({ epochs: '10', 'study_uri.$': `States.Format('s3://${BUCKET}/${PROJ.state}studies/{}/', $.jobName)`, models_uri: `s3://${BUCKET}/${runsPrefix(PROJ)}` });
  });

  test('trials train on the run named in the input, with the contract Environment and no VolumeKmsKeyId on ml.g5', () => {
    const f = fixture();
    const tuning = new HyperparameterTuning(f.stack, 'Tuning', { trainingJob: trainingJob(f, { instanceType: 'ml.g5.2xlarge' }), dataLake: f.dataLake, jobNamePrefix: NAMES.tuningJobPrefix, searchSpace: space, trials: 4 });
    const states = definitionOf(tuning.stateMachine).States;
    expect(states.FindProcessedRun.Choices[0].Next).toBe('NameStudy');
    expect(states[states.FindProcessedRun.Default]).toMatchObject({ Type: 'Fail', Cause: expect.stringContaining('"processed_run"') });
    expect(states.NameStudy.Parameters['processedRun.$']).toBe('$.processed_run');
    expect(states.StaticHyperParameters.Parameters['processedRun.$']).toBe('$.processedRun');
    const definition = states.Tune.Parameters.TrainingJobDefinition;
    expect(definition.Environment).toEqual(sageMakerTrainingEnvironment(CTX));
    expect(definition.ResourceConfig).toEqual({ InstanceType: 'ml.g5.2xlarge', InstanceCount: 1, VolumeSizeInGB: 50 });
    expect(evaluateFormat(definition.InputDataConfig[0].DataSource.S3DataSource['S3Uri.$'], { processedRun: 'run-3' })).toBe(`s3://${BUCKET}/${processedRunPrefix(PROJ, 'run-3')}`);
  });

  test('successive halving becomes Hyperband with epochs as the resource', () => {
    const f = fixture();
    const tuning = new HyperparameterTuning(f.stack, 'Tuning', {
      trainingJob: trainingJob(f),
      dataLake: f.dataLake,
      jobNamePrefix: NAMES.tuningJobPrefix,
      searchSpace: space,
      trials: 9,
      strategy: 'successive_halving',
      epochsPerTrial: { min: 2, max: 12 },
    });
    expect(tuning.tuningJobConfig).toMatchObject({ Strategy: 'Hyperband', StrategyConfig: { HyperbandStrategyConfig: { MinResource: 2, MaxResource: 12 } } });
    const grantee = new iam.Role(f.stack, 'Starter', { assumedBy: new iam.AccountRootPrincipal() });
    tuning.grantStartExecution(grantee);
  });

  test('rejects SageMaker-impossible studies', () => {
    const f = fixture();
    expect(
      () =>
        new HyperparameterTuning(f.stack, 'Tuning', {
          trainingJob: trainingJob(f),
          dataLake: f.dataLake,
          jobNamePrefix: 'a-prefix-far-too-long-for-tuning',
          searchSpace: { lr: { min: 0, max: 1, log: true }, same: { min: 2, max: 2 }, none: { values: [] } },
          trials: 1000,
          maxParallelTrials: 0,
          epochsPerTrial: { min: 5, max: 3 },
        }),
    ).toThrow(/tuning\.trials.*1-750[\s\S]*maxParallelTrials[\s\S]*tuning\.min_epochs[\s\S]*log-scale range needs min > 0[\s\S]*min \(2\) must be < max \(2\)[\s\S]*1-30 categorical values[\s\S]*1-23 letters/);
  });

  test('omitted props take HYPERPARAMETER_TUNING_DEFAULTS: random search maximising auc, at most 10 trials at once', () => {
    // GIVEN studies of 40 and of 4 trials with no strategy, metric or parallelism
    const f = fixture();
    const job = trainingJob(f);
    const tuningOf = (id: string, trials: number) =>
      new HyperparameterTuning(f.stack, id, { trainingJob: job, dataLake: f.dataLake, jobNamePrefix: NAMES.tuningJobPrefix, searchSpace: space, trials });
    // WHEN
    const [large, small] = [tuningOf('Large', 40), tuningOf('Small', 4)];
    // THEN
    expect(large.tuningJobConfig).toMatchObject({
      Strategy: 'Random',
      HyperParameterTuningJobObjective: { Type: 'Maximize', MetricName: `validation:${HYPERPARAMETER_TUNING_DEFAULTS.metric}` },
      ResourceLimits: { MaxNumberOfTrainingJobs: 40, MaxParallelTrainingJobs: HYPERPARAMETER_TUNING_DEFAULTS.maxParallelTrials },
    });
    expect(large.tuningJobConfig.StrategyConfig).toBeUndefined();
    expect(small.tuningJobConfig.ResourceLimits.MaxParallelTrainingJobs).toBe(4);
  });

  test('the objective goes the way the contract says the metric is better', () => {
    // GIVEN one study per tunable metric
    const f = fixture();
    const job = trainingJob(f);
    // WHEN
    const objectives = TUNABLE_METRICS.map(
      (metric) =>
        new HyperparameterTuning(f.stack, `Tuning-${metric}`, { trainingJob: job, dataLake: f.dataLake, jobNamePrefix: NAMES.tuningJobPrefix, searchSpace: space, trials: 2, metric })
          .tuningJobConfig.HyperParameterTuningJobObjective.Type,
    );
    // THEN
    expect(objectives).toEqual(TUNABLE_METRICS.map((m) => (metricDirection(m) === 'lower' ? 'Minimize' : 'Maximize')));
    expect(objectives).toEqual(['Maximize', 'Maximize', 'Minimize', 'Minimize']);
  });
});

describe('Ingestion', () => {
  const SOURCE = 'https://api.example.com/v1/customers';
  const base = (f: ReturnType<typeof fixture>) => ({ dataLake: f.dataLake, image: f.registry.image('ingestion'), vpc: f.vpc, schedule: 'rate(6 hours)' });
  const container = (stack: Stack) => Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions[0];

  test('the container gets exactly the contract launch; the token secret holds a placeholder and is injected whole', () => {
    const f = fixture();
    const launch = ingestionLaunch(CTX, SOURCE, 'CRM_TOKEN');
    const ingestion = new Ingestion(f.stack, 'Ingestion', { ...base(f), launch, secretName: NAMES.ingestionSecret, enabled: false });
    const reader = new iam.Role(f.stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    ingestion.grantReadSecret(reader);
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(6 hours)', State: 'DISABLED' });
    const c = container(f.stack);
    expect(c.Command).toEqual(['ingest']);
    expect(Object.fromEntries(c.Environment.map((e: any) => [e.Name, e.Value]))).toEqual(launch.env);
    const secretId = f.stack.getLogicalId(ingestion.apiSecret!.node.defaultChild as any);
    // ValueFrom is the secret's ARN alone: no `:token::` JSON key.
    expect(c.Secrets).toEqual([{ Name: 'CRM_TOKEN', ValueFrom: { Ref: secretId } }]);
    const secret = t.findResources('AWS::SecretsManager::Secret')[secretId].Properties;
    expect(secret.Name).toBe('proj-dev/ingestion-api-token');
    expect(secret.SecretString).toBe(`set-me: aws secretsmanager put-secret-value --secret-id proj-dev/ingestion-api-token --secret-string <token>`);
    expect(isSecretPlaceholder(secret.SecretString)).toBe(true);
    expect(secret.SecretString).toBe(secretPlaceholder(NAMES.ingestionSecret));
    expect(secret).not.toHaveProperty('GenerateSecretString');
    expect(policyStatements(f.stack)).toContainEqual(expect.objectContaining({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] }));
  });

  test('without token_env there is no secret and no injected variable', () => {
    const f = fixture();
    const ingestion = new Ingestion(f.stack, 'Ingestion', { ...base(f), launch: ingestionLaunch(CTX, SOURCE, undefined), secretName: NAMES.ingestionSecret });
    Template.fromStack(f.stack).resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(container(f.stack).Secrets).toBeUndefined();
    expect(ingestion.apiSecret).toBeUndefined();
    expect(() => ingestion.grantReadSecret(new iam.Role(f.stack, 'R', { assumedBy: new iam.AccountRootPrincipal() }))).toThrow(/injects no API token/);
  });

  test('token_file alone fails: the task receives the token as a variable', () => {
    const f = fixture();
    expect(() => new Ingestion(f.stack, 'Ingestion', { ...base(f), launch: ingestionLaunch(CTX, SOURCE, undefined), tokenFile: '/run/secrets/token' })).toThrow(
      /ingestion\.auth\.token_file \(parser\.json\) \(prop tokenFile\): "\/run\/secrets\/token": on AWS the ingestion task receives the API token from Secrets Manager[\s\S]*set ingestion\.auth\.token_env/,
    );
  });

  test('rejects bad Fargate sizes and a token variable that is also plain', () => {
    const f = fixture();
    const clash = ingestionLaunch(CTX, SOURCE, ENV.env);
    expect(() => new Ingestion(f.stack, 'Ingestion', { ...base(f), launch: clash, secretName: 'x', cpu: 1024, memoryLimitMiB: 512 })).toThrow(
      /\(2 problems\)[\s\S]*must not also be a plain variable[\s\S]*1024 CPU units Fargate accepts 2048-8192 MiB, found 512/,
    );
    expect(() => new Ingestion(f.stack, 'Ingestion2', { ...base(f), launch: ingestionLaunch(CTX, SOURCE, undefined), cpu: 300 })).toThrow(
      /Fargate accepts 256, 512, 1024, 2048, 4096 CPU units, found 300/,
    );
  });

  test('omitted props take INGESTION_DEFAULTS: a scheduled task of 1 vCPU and 2 GiB', () => {
    // GIVEN an ingestion with no size or schedule state
    const f = fixture();
    // WHEN
    new Ingestion(f.stack, 'Ingestion', { ...base(f), launch: ingestionLaunch(CTX, SOURCE, undefined) });
    // THEN
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: String(INGESTION_DEFAULTS.cpu), Memory: String(INGESTION_DEFAULTS.memoryLimitMiB) });
    t.hasResourceProperties('AWS::Scheduler::Schedule', { State: INGESTION_DEFAULTS.enabled ? 'ENABLED' : 'DISABLED' });
    t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: INGESTION_DEFAULTS.retainOnDelete ? 'Retain' : 'Delete' });
  });
});

describe('ModelEndpoint', () => {
  const base = (f: ReturnType<typeof fixture>) => ({
    dataLake: f.dataLake,
    image: f.registry.image('serving'),
    project: 'proj',
    endpointName: NAMES.endpoint,
    instanceType: 'ml.c6i.large',
    autoscaling: { minCapacity: 1, maxCapacity: 3, invocationsPerInstance: 600 },
    vpc: f.vpc,
  });

  test('without a pinned version: no SageMaker resources, a warning, and invoke is still grantable by name', () => {
    const f = fixture();
    const endpoint = new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: null });
    const client = new iam.Role(f.stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    endpoint.grantInvoke(client);
    Template.fromStack(f.stack).resourceCountIs('AWS::SageMaker::Endpoint', 0);
    Annotations.fromStack(f.stack).hasWarning('/Test/Serving', Match.stringLikeRegexp('No model_version is pinned'));
    expect(endpoint.widgets()).toEqual([]);
    expect(policyStatements(f.stack)).toContainEqual(expect.objectContaining({ Action: 'sagemaker:InvokeEndpoint', Resource: 'arn:aws:sagemaker:*:*:endpoint/churn-dev' }));
  });

  test(`with a version: the model loads <models><project>/<version>/${MODEL_ARCHIVE} and reads that object only`, () => {
    const f = fixture();
    const endpoint = new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: 'v7', dataCapturePercent: 0, canaryPercent: 25 });
    const client = new iam.Role(f.stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    endpoint.grantInvoke(client);
    const t = Template.fromStack(f.stack);
    const model = Object.values(t.findResources('AWS::SageMaker::Model'))[0].Properties.PrimaryContainer;
    expect(deployed(f.stack, model.ModelDataUrl)).toBe(`s3://${BUCKET}/${versionArchiveKey(f.dataLake.prefixes, 'v7')}`);
    expect(deployed(f.stack, model.ModelDataUrl)).toBe(`s3://${BUCKET}/models/proj/v7/${MODEL_ARCHIVE}`);
    expect(model.Environment).toEqual(sageMakerServingEnvironment('v7'));
    const modelRoleReads = policyStatements(f.stack).filter((s) => [s.Action].flat().includes('s3:GetObject'));
    expect(modelRoleReads.map((s) => deployed(f.stack, s.Resource))).toEqual([`<${f.stack.getLogicalId(f.dataLake.bucket.node.defaultChild as any)}.Arn>/models/proj/v7/${MODEL_ARCHIVE}`]);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { DataCaptureConfig: Match.objectLike({ EnableCapture: false }) });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', {
      DeploymentConfig: { BlueGreenUpdatePolicy: Match.objectLike({ TrafficRoutingConfiguration: Match.objectLike({ CanarySize: { Type: 'CAPACITY_PERCENT', Value: 25 } }) }) },
    });
    expect(policyStatements(f.stack).flatMap((s) => [s.Action].flat()).filter((a: string) => a.includes('*'))).toEqual([]);
    expect(endpoint.widgets()).toHaveLength(2);
  });

  test('the endpoint config carries a KmsKeyId only for EBS-backed serving types (CreateEndpointConfig rejects it for local storage)', () => {
    const kmsKeyOf = (instanceType: string) => {
      const f = fixture();
      new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: 'v1', instanceType });
      return Object.values(Template.fromStack(f.stack).findResources('AWS::SageMaker::EndpointConfig'))[0].Properties.KmsKeyId;
    };
    expect(kmsKeyOf('ml.c6i.large')).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DataLakeKey/), 'Arn'] });
    expect(kmsKeyOf('ml.g5.xlarge')).toBeUndefined();
  });

  test('rejects bad names, versions, capture share and canary size together', () => {
    const f = fixture();
    expect(
      () =>
        new ModelEndpoint(f.stack, 'Serving', {
          ...base(f),
          endpointName: 'bad_name',
          modelVersion: '../escape',
          dataCapturePercent: 101,
          canaryPercent: 80,
          instanceType: 'c6i.large',
          autoscaling: { minCapacity: 1, maxCapacity: 2, invocationsPerInstance: 0 },
        }),
    ).toThrow(/\(6 problems\)[\s\S]*not a SageMaker instance type[\s\S]*target_value[\s\S]*aws\.data_capture_percent[\s\S]*1-50%[\s\S]*"bad_name"[\s\S]*"\.\.\/escape"/);
  });

  test('metricX() name the endpoint\'s variant in AWS/SageMaker, summed per minute unless a call says otherwise', () => {
    // GIVEN an endpoint
    const f = fixture();
    const endpoint = new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: 'v1' });
    // WHEN
    const invocations = endpoint.metricInvocations();
    const p99 = endpoint.metricModelLatency({ statistic: 'p99', period: Duration.minutes(5) });
    // THEN
    expect(invocations).toMatchObject({
      namespace: 'AWS/SageMaker',
      metricName: 'Invocations',
      dimensions: { EndpointName: NAMES.endpoint, VariantName: VARIANT_NAME },
      statistic: ENDPOINT_METRIC_DEFAULTS.statistic,
    });
    expect(invocations.period.toSeconds()).toBe(ENDPOINT_METRIC_DEFAULTS.period.toSeconds());
    expect([endpoint.metricModelLatency().statistic, endpoint.metricOverheadLatency().statistic]).toEqual(['Average', 'Average']);
    expect([p99.statistic, p99.period.toSeconds()]).toEqual(['p99', 300]);
    expect(
      [endpoint.metricInvocationsPerInstance(), endpoint.metricInvocation4XXErrors(), endpoint.metricInvocation5XXErrors(), endpoint.metricOverheadLatency()].map((m) => m.metricName),
    ).toEqual(['InvocationsPerInstance', 'Invocation4XXErrors', 'Invocation5XXErrors', 'OverheadLatency']);
    expect(endpoint.metric('ModelSetupTime', { statistic: 'Maximum' })).toMatchObject({ metricName: 'ModelSetupTime', statistic: 'Maximum', dimensions: invocations.dimensions });
  });

  test('the rollback alarms and the dashboard widgets are built on metricErrorRate() and metricModelLatency(), at MODEL_ENDPOINT_DEFAULTS', () => {
    // GIVEN an endpoint with default rollback limits
    const f = fixture();
    // WHEN
    const endpoint = new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: 'v1' });
    // THEN the alarms watch exactly those metrics
    const alarms = Template.fromStack(f.stack).findResources('AWS::CloudWatch::Alarm');
    const [errorRate, latency] = endpoint.rollbackAlarms.map((a) => alarms[f.stack.getLogicalId(a.node.defaultChild as any)].Properties);
    const errorMetrics = errorRate.Metrics as any[];
    expect(errorMetrics.find((m) => m.Expression).Expression).toBe(endpoint.metricErrorRate().expression);
    expect(errorMetrics.filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.MetricName)).toEqual([
      endpoint.metricInvocations().metricName,
      endpoint.metricInvocation5XXErrors().metricName,
    ]);
    expect(errorRate.Threshold).toBe(MODEL_ENDPOINT_DEFAULTS.maxErrorRatePercent);
    expect(latency.Metrics[0].MetricStat).toMatchObject({ Metric: { MetricName: endpoint.metricModelLatency().metricName }, Stat: 'p99', Period: 60 });
    expect(latency.Threshold).toBe(MODEL_ENDPOINT_DEFAULTS.maxP99Latency.toMilliseconds() * 1000);
    // AND the dashboard shows those alarms
    const shown = endpoint.widgets().map((w) => f.stack.resolve(w.toJson())[0].properties.annotations.alarms[0]);
    expect(shown).toEqual(endpoint.rollbackAlarms.map((a) => f.stack.resolve(a.alarmArn)));
    // AND the deployment canary and data capture hold the defaults
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { DataCaptureConfig: Match.objectLike({ InitialSamplingPercentage: MODEL_ENDPOINT_DEFAULTS.dataCapturePercent }) });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', {
      DeploymentConfig: Match.objectLike({
        BlueGreenUpdatePolicy: Match.objectLike({
          TrafficRoutingConfiguration: {
            Type: 'CANARY',
            CanarySize: { Type: 'CAPACITY_PERCENT', Value: MODEL_ENDPOINT_DEFAULTS.canaryPercent },
            WaitIntervalInSeconds: MODEL_ENDPOINT_DEFAULTS.canaryBakeTime.toSeconds(),
          },
        }),
      }),
    });
  });

  test('without a pinned version the metrics still name the endpoint, so a dashboard can watch it before the first promotion', () => {
    // GIVEN no pinned version
    const f = fixture();
    // WHEN
    const endpoint = new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: null });
    // THEN
    expect(endpoint.rollbackAlarms).toEqual([]);
    expect(endpoint.metricInvocation5XXErrors().dimensions).toEqual({ EndpointName: NAMES.endpoint, VariantName: VARIANT_NAME });
  });
});

describe('Monitoring', () => {
  test('state machine failures alarm to the topic; bad email and dashboard names are rejected', () => {
    const stack = new Stack(new App(), 'S');
    const monitoring = new Monitoring(stack, 'Monitoring', { dashboardName: 'proj-dev' });
    const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')) });
    monitoring.monitorStateMachine('M', 'Machine', machine);
    monitoring.addWidgets();
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('MonitoringAlarmTopic') }], Threshold: 0 });
    expect(monitoring.alarms).toHaveLength(1);
    expect(() => new Monitoring(stack, 'Bad', { dashboardName: 'has spaces', alarmEmail: 'nobody' })).toThrow(/\(2 problems\)[\s\S]*dashboardName[\s\S]*"nobody" is not an email address/);
  });
});

describe('nag wildcard acknowledgements', () => {
  test('findings are reported per action and resource, like cdk-nag IAM5', () => {
    const findings = wildcardFindings({
      Statement: [
        { Effect: 'Allow', Action: ['s3:Get*', 'ec2:DescribeVpcs'], Resource: '*' },
        { Effect: 'Deny', Action: 's3:*', Resource: '*' },
      ],
    });
    expect([...findings.keys()]).toEqual(['Action::s3:Get*', 'Resource::*']);
    expect([...findings.get('Resource::*')!]).toEqual(['s3:Get*', 'ec2:DescribeVpcs']);
  });

  test('Resource::* is acknowledged only when every action requires it; unknown patterns stay reported', () => {
    const stack = new Stack(new App(), 'S');
    const ok = new iam.Role(stack, 'Ok', { assumedBy: new iam.AccountRootPrincipal() });
    ok.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeVpcs'], resources: ['*'] }));
    const bad = new iam.Role(stack, 'Bad', {
      assumedBy: new iam.AccountRootPrincipal(),
      inlinePolicies: { p: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['s3:GetObject', 'ec2:DescribeVpcs'], resources: ['*'] })] }) },
    });
    bad.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/justified/*'] }));
    const left = acknowledgeJustifiedWildcards(stack, [{ finding: /justified/, reason: 'test' }]);
    expect(left).toEqual(['S/Bad/Resource: Resource::*']);
  });
});
