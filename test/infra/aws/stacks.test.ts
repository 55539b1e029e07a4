/**
 * Synthesizes MlStack-<env>-registry and MlStack-<env> for all four environments
 * once (cdk-nag runs as part of synth) and checks the properties that matter against config.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { CloudFormationStackArtifact } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../../config/schema';
import { buildMlApp, mlAppStackNames } from '../../../infra/aws/build-app';
import { resolveTrainingParams } from '../../../runtime/training';
import { overridesFrom } from '../../../runtime/training/entrypoint';
import { REGISTER_PATHS } from '../../../infra/aws/constructs/training-job';
import { awsNames, ecrImageUri } from '../../../runtime/contract/aws-names';
import { IMAGE_NAMES, type ImageName } from '../../../runtime/contract/images';
import { awsRegistryStackName, awsStackName } from '../../../runtime/contract/stack-names';
import { ENV, ingestionLaunch, isSecretPlaceholder, sageMakerRegisterLaunch, sageMakerServingEnvironment, sageMakerTrainingEnvironment, type LaunchContext } from '../../../runtime/contract/env';
import { bucketUri, MODEL_ARCHIVE, processedRunPrefix, runPackagePrefix, storagePaths, SUCCESS_MARKER, versionArchiveKey } from '../../../runtime/contract/layout';
import { editJson, requireAllServices } from '../../helpers/tmp';
import {
  bucketRefs,
  cfnLint,
  cfnLintAvailable,
  configWith,
  evaluateFormat,
  evaluateRunIdExpression,
  REPO_ROOT,
  resolveCfn,
  resolvedDefinition,
  synthesize,
  templateFiles,
  type LintResult,
  type SynthesizedApp,
} from './helpers';

const PINNED: Partial<Record<EnvironmentName, string>> = { qa: 'v3', staging: 'v2', prod: 'v1' };

/** dev as a CI-built, token-authenticated deployment: a pinned image tag, a pinned model and parser.json auth.token_env. */
const CI_TAG = 'ci-0a1b2c3';
const TOKEN_ENV = 'CRM_API_TOKEN';

let synth: SynthesizedApp;
let pinned: SynthesizedApp;
let project: ProjectConfig;
let pinnedProject: ProjectConfig;
const lintAvailable = cfnLintAvailable();
let lint: Promise<LintResult> | undefined;

beforeAll(() => {
  const dir = configWith(
    Object.fromEntries(Object.entries(PINNED).map(([env, version]) => [env, (doc: any) => (doc.model_version = version)])),
  );
  project = loadProjectConfig(dir);
  synth = synthesize(dir);
  const pinnedDir = configWith({
    dev: (doc) => {
      doc.aws.image_tag = CI_TAG;
      doc.model_version = 'v5';
    },
  });
  editJson(path.join(pinnedDir, 'parser.json'), (doc) => (doc.ingestion = { ...doc.ingestion, auth: { token_env: TOKEN_ENV } }));
  pinnedProject = loadProjectConfig(pinnedDir);
  pinned = synthesize(pinnedDir, ['dev']);
  // cfn-lint takes seconds per template: start it now, assert on it last.
  if (lintAvailable) lint = cfnLint([...templateFiles(synth.outdir), ...templateFiles(pinned.outdir)]);
  lint?.catch(() => undefined);
});

afterAll(async () => {
  await lint?.catch(() => undefined);
  for (const dir of [synth.outdir, pinned.outdir, project.dir, pinnedProject.dir]) fs.rmSync(dir, { recursive: true, force: true });
});

const template = (env: EnvironmentName): Template => synth.templates[env];

const launchContext = (p: ProjectConfig, env: EnvironmentName): LaunchContext => ({
  cloud: 'aws',
  envName: env,
  project: p.pipeline.project,
  bucket: bucketUri(p.environments[env], 'aws'),
});

/** The stack's value as deployed (resolveCfn with the data bucket's name). */
function deployed(app: SynthesizedApp, env: EnvironmentName, value: unknown): any {
  return resolveCfn(app.stacks[env]!.resolve(value), bucketRefs(app.templates[env]));
}

/** The Docker images the stack's asset manifest asks `cdk deploy` to build. */
function dockerImages(app: SynthesizedApp, env: EnvironmentName): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(app.outdir, `MlStack-${env}.assets.json`), 'utf8'));
  return Object.keys(manifest.dockerImages ?? {});
}

function ingestionContainer(t: Template): any {
  const definitions = Object.values(t.findResources('AWS::ECS::TaskDefinition'));
  expect(definitions).toHaveLength(1);
  return definitions[0].Properties.ContainerDefinitions[0];
}

function iamActions(t: Template): string[] {
  const actions: string[] = [];
  for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
    for (const statement of policy.Properties.PolicyDocument.Statement) actions.push(...[statement.Action].flat());
  }
  return actions;
}

/** The stacks an artifact depends on (its asset manifests left out). */
function stackDependencies(app: SynthesizedApp, stackName: string): string[] {
  return app.assembly
    .getStackByName(stackName)
    .dependencies.filter((d) => d instanceof CloudFormationStackArtifact)
    .map((d) => d.id);
}

test('declares MlStack-<env>-registry and MlStack-<env> per environment, registry first, as mlAppStackNames lists them', () => {
  const expected = ENVIRONMENTS.flatMap((e) => [`MlStack-${e}-registry`, `MlStack-${e}`]);
  expect(ENVIRONMENTS.flatMap((e) => [awsRegistryStackName(e), awsStackName(e)])).toEqual(expected);
  expect(mlAppStackNames({ configDir: project.dir })).toEqual(expected);
  // The assembly lists the stacks in an order that deploys each dependency first.
  const assembled = synth.assembly.stacks.map((s) => s.stackName);
  expect([...assembled].sort()).toEqual([...expected].sort());
  for (const env of ENVIRONMENTS) expect(assembled.indexOf(awsRegistryStackName(env))).toBeLessThan(assembled.indexOf(awsStackName(env)));
});

describe.each(ENVIRONMENTS)('MlStack-%s', (env) => {
  const aws = () => project.environments[env].aws!;
  /** The project's prefixes in the environment's bucket (what every job and grant of the stack uses). */
  const layout = () => storagePaths(project.environments[env], 'aws', project.pipeline.project);

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
          Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-checkpoints', Prefix: layout().checkpoints, Status: 'Enabled' })]),
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

  test('registry stack: only the three ECR repositories (scan on push, immutable tags, KMS, lifecycle rules, removal policy from retain_on_delete); no export', () => {
    const t = synth.registryTemplates[env];
    const retain = project.environments[env].retain_on_delete;
    const resources = Object.values(t.toJSON().Resources) as any[];
    expect(resources.map((r) => r.Type)).toEqual(['AWS::ECR::Repository', 'AWS::ECR::Repository', 'AWS::ECR::Repository']);
    expect(resources.map((r) => r.Properties.RepositoryName).sort()).toEqual(IMAGE_NAMES.map((i) => awsNames(project.pipeline, env).repositories[i]).sort());
    for (const repo of resources) {
      expect(repo.Properties).toMatchObject({
        ImageScanningConfiguration: { ScanOnPush: true },
        ImageTagMutability: 'IMMUTABLE',
        EncryptionConfiguration: { EncryptionType: 'KMS' },
        EmptyOnDelete: !retain,
      });
      expect(JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules).toHaveLength(2);
      expect(repo.DeletionPolicy).toBe(retain ? 'Retain' : 'Delete');
    }
    expect(t.toJSON().Outputs).toBeUndefined();
    expect(synth.registryStacks[env]!.region).toBe(aws().region);
    expect(stackDependencies(synth, awsRegistryStackName(env))).toEqual([]);
  });

  test('MlStack: no repository of its own, the model package group, and a deploy-order dependency on the registry stack (no import)', () => {
    template(env).resourceCountIs('AWS::ECR::Repository', 0);
    template(env).hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: awsNames(project.pipeline, env).modelPackageGroup });
    expect(stackDependencies(synth, awsStackName(env))).toEqual([awsRegistryStackName(env)]);
    expect(JSON.stringify(template(env).toJSON())).not.toContain('Fn::ImportValue');
    // image_tag "latest": cdk deploy builds the three images as assets (CDK's asset repository, not the registry stack's)
    expect(dockerImages(synth, env)).toHaveLength(3);
    const training = resolvedDefinition(template(env), 'Training').States.Train.Parameters.AlgorithmSpecification.TrainingImage;
    expect(training).toMatch(/cdk-hnb659fds-container-assets-/);
    expect(dockerImages(synth, env).map((hash) => training.endsWith(`:${hash}`))).toContain(true);
  });

  test('training: GPU type from config with no VolumeKmsKeyId (instance storage), spot with checkpoints, VPC, KMS output, contract Environment', () => {
    const training = aws().training;
    const definition = resolvedDefinition(template(env), 'Training');
    const train = definition.States.Train;
    expect(train.Resource).toMatch(/:states:::sagemaker:createTrainingJob\.sync$/);
    const params = train.Parameters;
    // ml.g4dn / ml.g5 carry NVMe instance storage: SageMaker rejects a VolumeKmsKeyId for them.
    expect(training.instance_type).toMatch(/^ml\.(g4dn|g5)\./);
    expect(params.ResourceConfig).toEqual({ InstanceType: training.instance_type, InstanceCount: training.instance_count, VolumeSizeInGB: training.volume_size_gb });
    expect(params.EnableManagedSpotTraining).toBe(training.spot);
    expect(params.StoppingCondition.MaxRuntimeInSeconds).toBe(training.max_runtime_seconds);
    if (training.spot) {
      expect(params.StoppingCondition.MaxWaitTimeInSeconds).toBe(training.max_wait_seconds);
      expect(params.CheckpointConfig.LocalPath).toBe('/opt/ml/checkpoints');
      expect(evaluateFormat(params.CheckpointConfig['S3Uri.$'], { jobName: 'j1' })).toBe(`s3://${aws().storage.bucket}/${layout().checkpoints}j1/`);
    } else {
      expect(params.StoppingCondition.MaxWaitTimeInSeconds).toBeUndefined();
      expect(params.CheckpointConfig).toBeUndefined();
    }
    expect(params.VpcConfig.Subnets.length).toBeGreaterThanOrEqual(2);
    expect(params.OutputDataConfig.KmsKeyId).toMatch(/^<DataLakeKey\w+\.Arn>$/);
    expect(params.HyperParameters.learning_rate).toBe(String(project.pipeline.training_params.learning_rate));
    expect(params.HyperParameters).not.toHaveProperty('env');
    expect(params.Environment).toEqual(sageMakerTrainingEnvironment({ envName: env }));
    // one channel, on the one processed run the execution names
    const paths = storagePaths(project.environments[env], 'aws', project.pipeline.project);
    expect(params.InputDataConfig).toHaveLength(1);
    expect(evaluateFormat(params.InputDataConfig[0].DataSource.S3DataSource['S3Uri.$'], { processedRun: 'run-42' })).toBe(
      `${bucketUri(project.environments[env], 'aws')}/${processedRunPrefix(paths, 'run-42')}`,
    );
    // started when processed data lands; the state finds the run in the key the rule matched
    template(env).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.s3'], detail: { object: { key: [{ wildcard: `${paths.processed}*/${SUCCESS_MARKER}` }] } } },
    });
    const event = { detail: { object: { key: `${processedRunPrefix(paths, 'run-42')}${SUCCESS_MARKER}` } } };
    expect(definition.StartAt).toBe('FindProcessedRun');
    expect(evaluateRunIdExpression(definition.States.RunFromEvent.Parameters['processedRun.$'], event)).toBe('run-42');
    // train -> evaluate -> register, nothing else
    expect([definition.States.NameJob.Next, train.Next, definition.States.Evaluate.Next]).toEqual(['Train', 'Evaluate', 'Register']);
    expect(definition.States.Evaluate.Resource).toMatch(/createProcessingJob\.sync$/);
    expect(definition.States.Register.End).toBe(true);
    expect(Object.values(definition.States).filter((s: any) => /aws-sdk/.test(s.Resource ?? ''))).toEqual([]);
  });

  test('registration: a processing job running the training image with exactly the contract launch', () => {
    const register = resolvedDefinition(template(env), 'Training').States.Register;
    const stack = synth.stacks[env]!;
    const launch = sageMakerRegisterLaunch(launchContext(project, env), deployed(synth, env, stack.registry.image('serving').imageUri), REGISTER_PATHS);
    expect(register.Resource).toMatch(/:states:::sagemaker:createProcessingJob\.sync$/);
    expect(register.Parameters.AppSpecification).toEqual({ ImageUri: deployed(synth, env, stack.registry.image('training').imageUri), ContainerArguments: launch.args });
    expect(register.Parameters.Environment).toEqual(launch.env);
    const run = runPackagePrefix(layout(), 'j1');
    const input = { jobName: 'j1' };
    expect(register.Parameters.ProcessingInputs.map((i: any) => [i.InputName, i.S3Input.LocalPath])).toEqual([
      ['model', REGISTER_PATHS.model],
      ['evaluation', REGISTER_PATHS.evaluation],
    ]);
    expect(evaluateFormat(register.Parameters.ProcessingInputs[1].S3Input['S3Uri.$'], input)).toBe(`s3://${aws().storage.bucket}/${run}evaluation/`);
    expect(evaluateFormat(register.Parameters.ProcessingOutputConfig.Outputs[0].S3Output['S3Uri.$'], input)).toBe(`s3://${aws().storage.bucket}/${run}registration`);
  });

  test('tuning: a SageMaker hyperparameter tuning job sized by pipeline.json tuning, trials with the contract Environment', () => {
    const tuning = project.pipeline.tuning!;
    const tune = resolvedDefinition(template(env), 'Tuning').States.Tune;
    expect(tune.Resource).toMatch(/createHyperParameterTuningJob\.sync$/);
    const config = tune.Parameters.HyperParameterTuningJobConfig;
    expect(config.Strategy).toBe(tuning.strategy === 'successive_halving' ? 'Hyperband' : 'Random');
    expect(config.ResourceLimits.MaxNumberOfTrainingJobs).toBe(tuning.trials);
    expect(config.HyperParameterTuningJobObjective).toEqual({ Type: 'Maximize', MetricName: `validation:${tuning.metric}` });
    const definition = tune.Parameters.TrainingJobDefinition;
    expect(definition.ResourceConfig.InstanceType).toBe(aws().training.instance_type);
    expect(definition.ResourceConfig).not.toHaveProperty('VolumeKmsKeyId');
    expect(definition.Environment).toEqual(sageMakerTrainingEnvironment({ envName: env }));
  });

  test('ingestion: EventBridge Scheduler runs `ingest` on Fargate with exactly the contract environment; no token secret without auth', () => {
    const environment = project.environments[env];
    template(env).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: environment.ingestion_schedule,
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: { EcsParameters: { LaunchType: 'FARGATE', NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } } } },
    });
    const launch = ingestionLaunch(launchContext(project, env), environment.ingestion_source!, undefined);
    const container = ingestionContainer(template(env));
    expect(container.Command).toEqual(launch.args);
    expect(Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]))).toEqual(launch.env);
    expect(container.Secrets).toBeUndefined();
    template(env).resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('monitoring: an encrypted SNS topic with the alarm email and one dashboard', () => {
    template(env).hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template(env).hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: project.environments[env].alarm_email });
    template(env).resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template(env).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: awsNames(project.pipeline, env).dashboard });
  });

  test('IAM: no wildcard action in any role policy', () => {
    expect(iamActions(template(env)).filter((a) => a.includes('*'))).toEqual([]);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding in either stack', () => {
    expect(synth.stacks[env]!.unjustifiedWildcards).toEqual([]);
    for (const stack of [synth.registryStacks[env]!, synth.stacks[env]!]) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      expect(report.violations.map((v) => `${stack.stackName}: ${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`)).toEqual([]);
    }
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

    test('the model serves the version archive registration writes, with the serving image, in the VPC', () => {
      const models = Object.values(template(env).findResources('AWS::SageMaker::Model'));
      expect(models).toHaveLength(1);
      const { PrimaryContainer: container, VpcConfig } = models[0].Properties;
      const key = versionArchiveKey(storagePaths(project.environments[env], 'aws', project.pipeline.project), version);
      expect(key).toBe(`${aws().storage.models_path}${project.pipeline.project}/${version}/${MODEL_ARCHIVE}`);
      expect(deployed(synth, env, container.ModelDataUrl)).toBe(`s3://${aws().storage.bucket}/${key}`);
      expect(container.Environment).toEqual(sageMakerServingEnvironment(version));
      expect(deployed(synth, env, container.Image)).toBe(deployed(synth, env, synth.stacks[env]!.registry.image('serving').imageUri));
      expect(VpcConfig.Subnets.length).toBeGreaterThanOrEqual(2);
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
        EndpointName: awsNames(project.pipeline, env).endpoint,
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

describe('MlStack-dev with a pinned image tag, a pinned model and parser.json auth.token_env', () => {
  const t = () => pinned.templates.dev;
  /** Where `mlstack images push --cloud aws` puts an image, with the account the stack resolves at deploy time. */
  const pushed = (image: ImageName) => ecrImageUri(pinnedProject.pipeline, 'dev', image, { account: '<account>', region: pinnedProject.environments.dev.aws!.region, tag: CI_TAG });

  test('declares no Docker image asset: cdk deploy needs no Docker', () => {
    expect(dockerImages(pinned, 'dev')).toEqual([]);
    expect(pinned.stacks.dev!.node.findAll().filter((c) => c.constructor.name === 'DockerImageAsset')).toEqual([]);
  });

  test("every job, task and the endpoint's model run <repository>:<tag> in the registry stack's repositories", () => {
    const declared = Object.values(pinned.registryTemplates.dev.findResources('AWS::ECR::Repository')).map((r) => r.Properties.RepositoryName);
    const names = awsNames(pinnedProject.pipeline, 'dev').repositories;
    expect([names.ingestion, names['training-gpu'], names.serving].every((n) => declared.includes(n))).toBe(true);
    const states = resolvedDefinition(t(), 'Training').States;
    expect(states.Train.Parameters.AlgorithmSpecification.TrainingImage).toBe(pushed('training-gpu'));
    expect(states.Evaluate.Parameters.AppSpecification.ImageUri).toBe(pushed('training-gpu'));
    expect(states.Register.Parameters.AppSpecification.ImageUri).toBe(pushed('training-gpu'));
    const registerLaunch = sageMakerRegisterLaunch(launchContext(pinnedProject, 'dev'), pushed('serving'), REGISTER_PATHS);
    expect(states.Register.Parameters.Environment).toEqual(registerLaunch.env);
    const tune = resolvedDefinition(t(), 'Tuning').States.Tune;
    expect(tune.Parameters.TrainingJobDefinition.AlgorithmSpecification.TrainingImage).toBe(pushed('training-gpu'));
    expect(deployed(pinned, 'dev', ingestionContainer(t()).Image)).toBe(pushed('ingestion'));
    const models = Object.values(t().findResources('AWS::SageMaker::Model'));
    expect(models).toHaveLength(1);
    expect(deployed(pinned, 'dev', models[0].Properties.PrimaryContainer.Image)).toBe(pushed('serving'));
    // Pulls are granted on the repositories by name: the ARNs the registry stack's repositories get.
    const pullResources = Object.values(t().findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st: any) => [st.Action].flat().includes('ecr:BatchGetImage'))
      .flatMap((st: any) => [deployed(pinned, 'dev', st.Resource)].flat());
    expect(new Set(pullResources)).toEqual(new Set(['ingestion', 'training-gpu', 'serving'].map((i) => `arn:aws:ecr:us-east-1:<account>:repository/${names[i as ImageName]}`)));
  });

  test('the token secret holds a placeholder the runtime refuses, and is injected whole as auth.token_env', () => {
    const secrets = Object.entries(t().findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    const [secretId, secret] = secrets[0];
    const name = awsNames(pinnedProject.pipeline, 'dev').ingestionSecret;
    expect(secret.Properties.Name).toBe(name);
    expect(isSecretPlaceholder(secret.Properties.SecretString)).toBe(true);
    expect(secret.Properties.SecretString).toContain(`--secret-id ${name} --secret-string <token>`);
    const container = ingestionContainer(t());
    expect(container.Secrets).toEqual([{ Name: TOKEN_ENV, ValueFrom: { Ref: secretId } }]);
    const launch = ingestionLaunch(launchContext(pinnedProject, 'dev'), pinnedProject.environments.dev.ingestion_source!, TOKEN_ENV);
    expect(Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]))).toEqual(launch.env);
    expect(Object.keys(launch.secretEnv)).toEqual([TOKEN_ENV]);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding in either stack', () => {
    expect(pinned.stacks.dev!.unjustifiedWildcards).toEqual([]);
    for (const stack of [pinned.registryStacks.dev!, pinned.stacks.dev!]) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      expect(report.violations.map((v) => `${stack.stackName}: ${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`)).toEqual([]);
    }
  });
});

test('a gradient_boosting config declares the hyperparameters the training container takes (the tree block, flat)', () => {
  const configDir = configWith({});
  editJson(path.join(configDir, 'pipeline.json'), (doc) => {
    doc.model_type = 'gradient_boosting';
    doc.training_params.gradient_boosting = { num_leaves: 15, learning_rate: 0.05 };
    doc.tuning.search_space = { num_leaves: { values: [15, 31] }, learning_rate: { min: 0.02, max: 0.2, log: true } };
  });
  const { stacks } = buildMlApp({ configDir, environments: ['qa'], nag: false, buildContext: REPO_ROOT });
  const hyper = stacks.qa!.trainingJob.jobDefinition.StaticHyperParameters;
  expect(hyper).toMatchObject({ num_leaves: '15', learning_rate: '0.05', num_trees: expect.any(String) });
  expect(Object.keys(hyper)).not.toEqual(expect.arrayContaining(['gradient_boosting']));
  expect(hyper).not.toHaveProperty('hidden_layers');
  // what the container does with them: the tree block gets them back, nothing is refused
  const overrides = overridesFrom({ ...hyper });
  const params = resolveTrainingParams(loadProjectConfig(configDir).pipeline.training_params, overrides, 'gradient_boosting');
  expect(params.gradient_boosting).toMatchObject({ num_leaves: 15, learning_rate: 0.05 });
  fs.rmSync(configDir, { recursive: true, force: true });
});

test('an environment without an aws section gets neither stack', () => {
  const configDir = configWith({ qa: (doc) => delete doc.aws });
  expect(mlAppStackNames({ configDir })).toEqual(['dev', 'staging', 'prod'].flatMap((e) => [`MlStack-${e}-registry`, `MlStack-${e}`]));
  const { app, registryStacks } = buildMlApp({ configDir, environments: ['dev', 'qa'], nag: false, buildContext: REPO_ROOT });
  expect(app.node.children.filter((c): c is Stack => c instanceof Stack).map((c) => c.stackName)).toEqual(['MlStack-dev-registry', 'MlStack-dev']);
  expect(Object.keys(registryStacks)).toEqual(['dev']);
  fs.rmSync(configDir, { recursive: true, force: true });
});

test('without ingestion_source no ingestion is declared, and a warning says what to set', () => {
  const configDir = configWith({ qa: (doc) => delete doc.ingestion_source });
  const { stacks } = buildMlApp({ configDir, environments: ['qa'], nag: false, buildContext: REPO_ROOT });
  const stack = stacks.qa!;
  expect(stack.ingestion).toBeUndefined();
  expect(stack.node.findAll().filter((c) => c.node.id === 'Ingestion')).toEqual([]);
  const warnings = stack.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data));
  expect(warnings).toEqual([expect.stringMatching(/No ingestion_source in .*environments\/qa\.json, so no scheduled ingestion is declared\. Set ingestion_source/)]);
  fs.rmSync(configDir, { recursive: true, force: true });
});

describe('cfn-lint', () => {
  if (!lintAvailable && requireAllServices) {
    test(`cfn-lint is installed (${ENV.requireServices}=1)`, () => {
      throw new Error('cfn-lint is not on PATH: install it (pip install cfn-lint) to lint the synthesized templates');
    });
  }
  (lintAvailable ? test : test.skip)('zero errors on every template the app writes (both stacks of each environment) and the pinned variant', async () => {
    expect(templateFiles(synth.outdir)).toHaveLength(2 * ENVIRONMENTS.length);
    const result = await lint!;
    expect(result.output.split('\n').filter((l) => /:E\d{4}:/.test(l))).toEqual([]);
    expect(result.errors).toBe(false);
  });
});
