/**
 * Synthesizes MlStack-<env> for all four environments once (cdk-nag runs as
 * part of synth) and checks the properties that matter against config.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../../config/schema';
import { requireAllServices } from '../../helpers/tmp';
import { cfnLint, cfnLintAvailable, configWith, synthesize, type LintResult, type SynthesizedApp } from './helpers';

const PINNED: Partial<Record<EnvironmentName, string>> = {
  qa: 'mlstack-qa-train-0a1b2c3d4e5f',
  staging: 'mlstack-staging-train-1a2b3c4d5e6f',
  prod: 'mlstack-prod-train-2a3b4c5d6e7f',
};

let synth: SynthesizedApp;
let project: ProjectConfig;
const lintAvailable = cfnLintAvailable();
let lint: Promise<LintResult> | undefined;

beforeAll(() => {
  const dir = configWith(
    Object.fromEntries(Object.entries(PINNED).map(([env, version]) => [env, (doc: any) => (doc.model_version = version)])),
  );
  project = loadProjectConfig(dir);
  synth = synthesize(dir);
  // cfn-lint takes seconds per template: start it now, assert on it last.
  if (lintAvailable) lint = cfnLint(ENVIRONMENTS.map((env) => path.join(synth.outdir, `MlStack-${env}.template.json`)));
  lint?.catch(() => undefined);
});

afterAll(async () => {
  await lint?.catch(() => undefined);
  fs.rmSync(synth.outdir, { recursive: true, force: true });
  fs.rmSync(project.dir, { recursive: true, force: true });
});

const template = (env: EnvironmentName): Template => synth.templates[env];

/** A state machine's definition with every CloudFormation token replaced by "<token>". */
function stateMachineDefinition(t: Template, idPrefix: string): any {
  const machines = t.findResources('AWS::StepFunctions::StateMachine');
  const [, machine] = Object.entries(machines).find(([id]) => id.startsWith(idPrefix))!;
  const body = machine.Properties.DefinitionString;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : '<token>')).join('');
  return JSON.parse(text);
}

function iamActions(t: Template): string[] {
  const actions: string[] = [];
  for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
    for (const statement of policy.Properties.PolicyDocument.Statement) actions.push(...[statement.Action].flat());
  }
  return actions;
}

test('declares one stack per environment, named MlStack-<env>', () => {
  expect(Object.values(synth.stacks).map((s) => s!.stackName)).toEqual(ENVIRONMENTS.map((e) => `MlStack-${e}`));
});

describe.each(ENVIRONMENTS)('MlStack-%s', (env) => {
  const aws = () => project.environments[env].aws!;

  test('data bucket: name from config, KMS, versioned, TLS-only, private, logged, removal policy from retain_on_delete', () => {
    const retain = project.environments[env].retain_on_delete;
    template(env).hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketName: aws().storage.bucket,
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() }, BucketKeyEnabled: true },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'data-bucket/' },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-checkpoints', Prefix: aws().storage.checkpoints_path, Status: 'Enabled' })]),
        },
      },
      DeletionPolicy: retain ? 'Retain' : 'Delete',
    });
    template(env).hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template(env).hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    // Only non-retained environments get the auto-delete custom resource.
    template(env).resourceCountIs('Custom::S3AutoDeleteObjects', retain ? 0 : 2);
  });

  test('registry: three ECR repositories with scan on push, immutable tags and lifecycle rules; a model package group', () => {
    const repos = template(env).findResources('AWS::ECR::Repository');
    expect(Object.values(repos).map((r) => r.Properties.RepositoryName).sort()).toEqual(
      ['ingestion', 'serving', 'training-gpu'].map((i) => `${project.pipeline.project}-${env}/${i}`),
    );
    for (const repo of Object.values(repos)) {
      expect(repo.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
      expect(repo.Properties.ImageTagMutability).toBe('IMMUTABLE');
      expect(JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules).toHaveLength(2);
      expect(repo.DeletionPolicy).toBe(project.environments[env].retain_on_delete ? 'Retain' : 'Delete');
    }
    template(env).hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: `${project.pipeline.project}-${env}` });
  });

  test('training: GPU instance type and count from config, spot with checkpoints and max wait when enabled, VPC, KMS', () => {
    const training = aws().training;
    const definition = stateMachineDefinition(template(env), 'Training');
    const train = definition.States.Train;
    expect(train.Resource).toMatch(/:states:::sagemaker:createTrainingJob\.sync$/);
    const params = train.Parameters;
    expect(params.ResourceConfig).toEqual({
      InstanceType: training.instance_type,
      InstanceCount: training.instance_count,
      VolumeSizeInGB: training.volume_size_gb,
      VolumeKmsKeyId: '<token>',
    });
    expect(training.instance_type).toMatch(/^ml\.(g|p)\d/);
    expect(params.EnableManagedSpotTraining).toBe(training.spot);
    expect(params.StoppingCondition.MaxRuntimeInSeconds).toBe(training.max_runtime_seconds);
    if (training.spot) {
      expect(params.StoppingCondition.MaxWaitTimeInSeconds).toBe(training.max_wait_seconds);
      expect(params.CheckpointConfig).toEqual({ 'S3Uri.$': expect.stringContaining(aws().storage.checkpoints_path), LocalPath: '/opt/ml/checkpoints' });
    } else {
      expect(params.StoppingCondition.MaxWaitTimeInSeconds).toBeUndefined();
      expect(params.CheckpointConfig).toBeUndefined();
    }
    expect(params.VpcConfig.Subnets.length).toBeGreaterThanOrEqual(2);
    expect(params.OutputDataConfig.KmsKeyId).toBe('<token>');
    expect(params.HyperParameters.learning_rate).toBe(String(project.pipeline.training_params.learning_rate));
    expect(params.HyperParameters.env).toBe(env);
    // train -> evaluate -> publish model.tar.gz at models/<version>/ -> register with metrics
    expect(train.Next).toBe('Evaluate');
    expect(definition.States.Evaluate.Resource).toMatch(/createProcessingJob\.sync$/);
    expect(definition.States.Evaluate.Next).toBe('PublishModel');
    expect(definition.States.PublishModel.Parameters['Key.$']).toContain(`${aws().storage.models_path}{}/model.tar.gz`);
    const register = definition.States.RegisterModel;
    expect(register.Resource).toMatch(/aws-sdk:sagemaker:createModelPackage$/);
    expect(register.Parameters.ModelMetrics.ModelQuality.Statistics['S3Uri.$']).toContain('evaluation.json');
    // started when processed data lands
    template(env).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.s3'], detail: { object: { key: [{ wildcard: `${aws().storage.processed_path}*/_SUCCESS.json` }] } } },
    });
  });

  test('tuning: a SageMaker hyperparameter tuning job sized by pipeline.json tuning', () => {
    const tuning = project.pipeline.tuning!;
    const tune = stateMachineDefinition(template(env), 'Tuning').States.Tune;
    expect(tune.Resource).toMatch(/createHyperParameterTuningJob\.sync$/);
    const config = tune.Parameters.HyperParameterTuningJobConfig;
    expect(config.Strategy).toBe(tuning.strategy === 'successive_halving' ? 'Hyperband' : 'Random');
    expect(config.ResourceLimits.MaxNumberOfTrainingJobs).toBe(tuning.trials);
    expect(config.HyperParameterTuningJobObjective).toEqual({ Type: 'Maximize', MetricName: `validation:${tuning.metric}` });
    expect(tune.Parameters.TrainingJobDefinition.ResourceConfig.InstanceType).toBe(aws().training.instance_type);
  });

  test('ingestion: EventBridge Scheduler runs a Fargate task on the configured schedule with the API secret from Secrets Manager', () => {
    template(env).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: project.environments[env].ingestion_schedule,
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: { EcsParameters: { LaunchType: 'FARGATE', NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } } } },
    });
    template(env).hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([{ Name: 'MLSTACK_ENV', Value: env }]),
          Secrets: Match.arrayWith([Match.objectLike({ Name: 'MLSTACK_SOURCE', ValueFrom: Match.anyValue() })]),
        }),
      ],
    });
    template(env).resourceCountIs('AWS::SecretsManager::Secret', 1);
  });

  test('monitoring: an encrypted SNS topic with the alarm email and one dashboard', () => {
    template(env).hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template(env).hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: project.environments[env].alarm_email });
    template(env).resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template(env).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `${project.pipeline.project}-${env}` });
  });

  test('IAM: no wildcard action in any role policy', () => {
    expect(iamActions(template(env)).filter((a) => a.includes('*'))).toEqual([]);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(synth.stacks[env]!.unjustifiedWildcards).toEqual([]);
    const report = new AwsSolutionsChecks().validateScope(synth.stacks[env]!);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`)).toEqual([]);
  });
});

describe('pinned model version -> endpoint', () => {
  test('dev has no model_version: no endpoint, and a warning says why', () => {
    template('dev').resourceCountIs('AWS::SageMaker::Endpoint', 0);
    template('dev').resourceCountIs('AWS::SageMaker::Model', 0);
    const warnings = synth.stacks.dev!.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning'));
    expect(warnings.map((w) => String(w.data))).toEqual([expect.stringContaining('No model_version is pinned')]);
  });

  describe.each(Object.keys(PINNED) as EnvironmentName[])('MlStack-%s', (env) => {
    const aws = () => project.environments[env].aws!;
    const version = PINNED[env]!;

    test('the model serves models/<version>/model.tar.gz with the serving image, in the VPC', () => {
      template(env).hasResourceProperties('AWS::SageMaker::Model', {
        PrimaryContainer: Match.objectLike({
          ModelDataUrl: { 'Fn::Join': ['', Match.arrayWith([`/${aws().storage.models_path}${version}/model.tar.gz`])] },
          Environment: { MLSTACK_MODEL_VERSION: version },
        }),
        VpcConfig: Match.objectLike({ Subnets: Match.anyValue() }),
      });
    });

    test('endpoint config: instance type and initial count from config, KMS, data capture to the bucket', () => {
      template(env).hasResourceProperties('AWS::SageMaker::EndpointConfig', {
        KmsKeyId: Match.anyValue(),
        ProductionVariants: [
          Match.objectLike({
            VariantName: 'AllTraffic',
            InstanceType: aws().serving.instance_type,
            InitialInstanceCount: aws().serving.autoscaling.min_capacity,
          }),
        ],
        DataCaptureConfig: Match.objectLike({
          EnableCapture: true,
          InitialSamplingPercentage: aws().data_capture_percent,
          DestinationS3Uri: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/data-capture/')])] },
        }),
      });
    });

    test('endpoint: blue/green canary with auto-rollback on the 5xx and p99 latency alarms, variant properties retained', () => {
      template(env).hasResourceProperties('AWS::SageMaker::Endpoint', {
        EndpointName: `${project.pipeline.endpoint_name}-${env}`,
        RetainAllVariantProperties: true,
        DeploymentConfig: {
          BlueGreenUpdatePolicy: Match.objectLike({
            TrafficRoutingConfiguration: Match.objectLike({ Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 } }),
          }),
          AutoRollbackConfiguration: { Alarms: [{ AlarmName: Match.anyValue() }, { AlarmName: Match.anyValue() }] },
        },
      });
      template(env).hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: Match.arrayWith([Match.objectLike({ Expression: Match.stringLikeRegexp('errors / invocations') })]),
      });
      template(env).hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: [Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ModelLatency' }), Stat: 'p99' }) })],
        Threshold: 1_000_000,
      });
      template(env).hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        RoleARN: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint')])] }),
      });
    });

    test('autoscaling: min/max and invocations-per-instance target from config', () => {
      const scaling = aws().serving.autoscaling;
      template(env).hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        MinCapacity: scaling.min_capacity,
        MaxCapacity: scaling.max_capacity,
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      });
      template(env).hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          TargetValue: scaling.target_value,
          PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        }),
      });
    });
  });
});

describe('cfn-lint', () => {
  if (!lintAvailable && requireAllServices) {
    test('cfn-lint is installed (MLSTACK_REQUIRE_SERVICES=1)', () => {
      throw new Error('cfn-lint is not on PATH: install it (pip install cfn-lint) to lint the synthesized templates');
    });
  }
  (lintAvailable ? test : test.skip)('zero errors on all four templates', async () => {
    const result = await lint!;
    expect(result.output.split('\n').filter((l) => /:E\d{4}:/.test(l))).toEqual([]);
    expect(result.errors).toBe(false);
  });
});
