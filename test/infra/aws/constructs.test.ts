/** GIVEN/WHEN/THEN tests of each construct on its own, in a bare stack (no synth of the full app). */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DataLake } from '../../../infra/aws/constructs/data-lake';
import { HyperparameterTuning } from '../../../infra/aws/constructs/hyperparameter-tuning';
import { API_TOKEN_ENV, Ingestion } from '../../../infra/aws/constructs/ingestion';
import { ModelEndpoint } from '../../../infra/aws/constructs/model-endpoint';
import { Monitoring } from '../../../infra/aws/constructs/monitoring';
import { ASSET_IMAGE_TAG, Registry } from '../../../infra/aws/constructs/registry';
import { TrainingJob, TRAINING_METRICS, metricDefinitions } from '../../../infra/aws/constructs/training-job';
import { metricLine, SAGEMAKER_METRIC_DEFINITIONS } from '../../../runtime/training/telemetry';
import { isBurstableInstanceType, isGpuInstanceType, isSageMakerInstanceType } from '../../../infra/aws/instance-types';
import { acknowledgeJustifiedWildcards, wildcardFindings } from '../../../infra/aws/nag';
import { ConstructPropsError, isConcrete } from '../../../infra/aws/validation';
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

/** A state machine's definition with every CloudFormation token replaced by "<token>". */
function definitionOf(machine: sfn.StateMachine): any {
  const body = Stack.of(machine).resolve((machine.node.defaultChild as sfn.CfnStateMachine).definitionString);
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : '<token>')).join('');
  return JSON.parse(text);
}

function fixture(imageTag?: string) {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const dataLake = new DataLake(stack, 'DataLake', { bucketName: 'test-data-bucket', retainOnDelete: false });
  const registry = new Registry(stack, 'Registry', { repositoryPrefix: 'proj-dev', modelPackageGroupName: 'proj-dev', imageTag, buildContext: BUILD_CONTEXT });
  return { app, stack, vpc, dataLake, registry };
}

function trainingJob(f: ReturnType<typeof fixture>, overrides: Partial<ConstructorParameters<typeof TrainingJob>[2]> = {}) {
  return new TrainingJob(f.stack, 'Training', {
    dataLake: f.dataLake,
    registry: f.registry,
    vpc: f.vpc,
    jobNamePrefix: 'proj-dev-train',
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
});

describe('validation helpers', () => {
  test('ConstructPropsError lists every problem with its config key', () => {
    const error = new ConstructPropsError('S/C', [
      { prop: 'a', configKey: 'x.a', message: 'bad a' },
      { prop: 'b', configKey: 'x.b', message: 'bad b' },
    ]);
    expect(error.message).toBe('S/C: invalid configuration (2 problems):\n  x.a (prop a): bad a\n  x.b (prop b): bad b');
  });
  test('tokens are not validated as literals', () => {
    expect(isConcrete('plain')).toBe(true);
    expect(isConcrete('${Token[Foo.123]}')).toBe(false);
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
        Condition: { StringLike: { 's3:prefix': ['data/processed/*'] } },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: { 'Fn::Join': ['', [expect.anything(), '/models/*']] } }),
    );
    expect(statements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.includes('*'))).toEqual([]);
    expect(f.dataLake.s3Uri('models', 'v1/model.tar.gz')).toMatch(/^s3:\/\/.+\/models\/v1\/model\.tar\.gz$/);
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
});

describe('Registry', () => {
  test('"latest" runs the images cdk deploy builds (assets); a pinned tag runs <repo>:<tag> from the registry', () => {
    const assets = fixture();
    expect(assets.registry.imageTag).toBe(ASSET_IMAGE_TAG);
    expect(assets.registry.usesImageAssets).toBe(true);
    expect(assets.stack.resolve(assets.registry.image('serving').imageUri)).toEqual({ 'Fn::Sub': expect.stringContaining('cdk-hnb659fds-container-assets') });

    const pinned = fixture('v1.4.2');
    expect(pinned.registry.usesImageAssets).toBe(false);
    const uri = JSON.stringify(pinned.stack.resolve(pinned.registry.image('serving').imageUri));
    expect(uri).toContain(':v1.4.2');
    expect(uri).toContain(pinned.stack.getLogicalId(pinned.registry.repositories.serving.node.defaultChild as any));
  });

  test('grantPush lets CI push to one repository; grantRegisterModel is limited to the group', () => {
    const f = fixture('v1');
    const ci = new iam.Role(f.stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    f.registry.grantPush(ci, 'training');
    f.registry.grantRegisterModel(ci);
    const statements = policyStatements(f.stack);
    expect(statements).toContainEqual(expect.objectContaining({ Action: expect.arrayContaining(['ecr:PutImage']) }));
    expect(statements).toContainEqual(expect.objectContaining({ Action: ['sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage', 'sagemaker:AddTags'] }));
  });

  test('rejects bad names and counts', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () => new Registry(stack, 'R', { repositoryPrefix: 'Bad Prefix', modelPackageGroupName: 'under_score', maxTaggedImages: 0, buildContext: BUILD_CONTEXT }),
    ).toThrow(/\(5 problems\)[\s\S]*ECR repository name "Bad Prefix\/ingestion" is invalid[\s\S]*"under_score" is not a valid model package group name[\s\S]*maxTaggedImages/);
  });
});

describe('TrainingJob', () => {
  test('on-demand multi-instance training: no checkpoint config, encrypted inter-container traffic, scheduled start only', () => {
    const f = fixture();
    const job = trainingJob(f, { instanceCount: 2, startOnDataMarker: false, schedule: events.Schedule.rate(Duration.days(7)) });
    const grantee = new iam.Role(f.stack, 'Starter', { assumedBy: new iam.AccountRootPrincipal() });
    job.grantStartExecution(grantee);
    const t = Template.fromStack(f.stack);
    t.resourceCountIs('AWS::Events::Rule', 1);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(7 days)' });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { Description: 'distributed training between instances' });
    expect(job.jobDefinition).toMatchObject({ EnableManagedSpotTraining: false, EnableInterContainerTrafficEncryption: true, StoppingCondition: { MaxRuntimeInSeconds: 86_400 } });
    expect(policyStatements(f.stack)).toContainEqual(expect.objectContaining({ Action: 'states:StartExecution' }));
  });

  test('spot without max_wait defaults to twice the runtime', () => {
    const f = fixture();
    const job = trainingJob(f, { spot: true, maxRuntime: Duration.hours(2) });
    expect(job.jobDefinition).toMatchObject({ StoppingCondition: { MaxRuntimeInSeconds: 7200, MaxWaitTimeInSeconds: 14_400 } });
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
    const tuning = new HyperparameterTuning(f.stack, 'Tuning', { trainingJob: job, dataLake: f.dataLake, jobNamePrefix: 'proj-dev-hpo', searchSpace: space, trials: 40, metric: 'loss' });
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
    expect(statics).toEqual({ epochs: '10', 'study_uri.$': "States.Format('s3://<token>/state/studies/{}/', $.jobName)", models_uri: 's3://<token>/models/' });
  });

  test('successive halving becomes Hyperband with epochs as the resource', () => {
    const f = fixture();
    const tuning = new HyperparameterTuning(f.stack, 'Tuning', {
      trainingJob: trainingJob(f),
      dataLake: f.dataLake,
      jobNamePrefix: 'proj-dev-hpo',
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
});

describe('Ingestion', () => {
  test('an existing secret can be passed; the token variable name comes from parser.json', () => {
    const f = fixture();
    const ingestion = new Ingestion(f.stack, 'Ingestion', {
      dataLake: f.dataLake,
      image: f.registry.image('ingestion'),
      vpc: f.vpc,
      schedule: 'rate(6 hours)',
      environment: { MLSTACK_ENV: 'dev' },
      tokenEnvironmentVariable: 'CRM_TOKEN',
      enabled: false,
    });
    const reader = new iam.Role(f.stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    ingestion.grantReadSecret(reader);
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(6 hours)', State: 'DISABLED' });
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Secrets: Match.arrayWith([Match.objectLike({ Name: 'CRM_TOKEN' })]) })],
    });
    expect(policyStatements(f.stack)).toContainEqual(expect.objectContaining({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] }));
  });

  test('rejects bad Fargate sizes and secrets passed as plain variables', () => {
    const f = fixture();
    expect(
      () =>
        new Ingestion(f.stack, 'Ingestion', {
          dataLake: f.dataLake,
          image: f.registry.image('ingestion'),
          vpc: f.vpc,
          schedule: 'cron(0 2 * * ? *)',
          environment: { [API_TOKEN_ENV]: 'oops' },
          cpu: 1024,
          memoryLimitMiB: 512,
        }),
    ).toThrow(/\(2 problems\)[\s\S]*do not also set them as plain variables[\s\S]*1024 CPU units Fargate accepts 2048-8192 MiB, found 512/);
    expect(
      () => new Ingestion(f.stack, 'Ingestion2', { dataLake: f.dataLake, image: f.registry.image('ingestion'), vpc: f.vpc, schedule: 'rate(1 day)', environment: {}, cpu: 300 }),
    ).toThrow(/Fargate accepts 256, 512, 1024, 2048, 4096 CPU units, found 300/);
  });
});

describe('ModelEndpoint', () => {
  const base = (f: ReturnType<typeof fixture>) => ({
    dataLake: f.dataLake,
    image: f.registry.image('serving'),
    endpointName: 'churn-dev',
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

  test('with a version: the model role reads only the models prefix (no s3:GetObject* from ModelData.fromBucket)', () => {
    const f = fixture();
    const endpoint = new ModelEndpoint(f.stack, 'Serving', { ...base(f), modelVersion: 'v7', dataCapturePercent: 0, canaryPercent: 25 });
    const client = new iam.Role(f.stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    endpoint.grantInvoke(client);
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { DataCaptureConfig: Match.objectLike({ EnableCapture: false }) });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', {
      DeploymentConfig: { BlueGreenUpdatePolicy: Match.objectLike({ TrafficRoutingConfiguration: Match.objectLike({ CanarySize: { Type: 'CAPACITY_PERCENT', Value: 25 } }) }) },
    });
    expect(policyStatements(f.stack).flatMap((s) => [s.Action].flat()).filter((a: string) => a.includes('*'))).toEqual([]);
    expect(endpoint.widgets()).toHaveLength(2);
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
