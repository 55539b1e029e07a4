import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { isBurstableInstanceType, isGpuInstanceType, isSageMakerInstanceType } from '../instance-types';
import {
  grantPassRoleToSageMaker,
  grantSageMakerLogging,
  grantSageMakerSyncJob,
  grantSageMakerVpcAccess,
  sageMakerExecutionRole,
  sageMakerSyncState,
} from '../sagemaker-iam';
import { SAGEMAKER_METRIC_DEFINITIONS, TUNABLE_METRICS, type TunableMetric } from '../../../runtime/training/telemetry';
import { PropsValidator } from '../validation';
import type { DataLake } from './data-lake';
import type { ImageReference, Registry } from './registry';

/**
 * Validation metrics the training image prints as `validation:<name>=<value>` (SageMaker scrapes its logs).
 * The names and regexes come from the runtime that prints them, so the two cannot drift apart.
 */
export const TRAINING_METRICS = TUNABLE_METRICS;
export type TrainingMetric = TunableMetric;

/** The training job's MetricDefinitions: exactly the runtime's SAGEMAKER_METRIC_DEFINITIONS. */
export function metricDefinitions(): { Name: string; Regex: string }[] {
  return SAGEMAKER_METRIC_DEFINITIONS.map((d) => ({ ...d }));
}

export interface TrainingJobProps {
  readonly dataLake: DataLake;
  /** Provides the training and serving images and the model package group. */
  readonly registry: Registry;
  /** VPC the training and evaluation jobs run in. */
  readonly vpc: ec2.IVpc;
  /** Subnets for the jobs. @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Prefix of job names (jobs are named `<prefix>-<12 hex>`), at most 45 characters. */
  readonly jobNamePrefix: string;
  /** Training instance type (config `aws.training.instance_type`), e.g. `ml.g5.xlarge`. */
  readonly instanceType: string;
  /** Training instances (config `aws.training.instance_count`). @default 1 */
  readonly instanceCount?: number;
  /** Fail synth unless instanceType has a GPU (config `aws.training.require_gpu`). @default false */
  readonly requireGpu?: boolean;
  /** Managed spot training, resumed from checkpoints (config `aws.training.spot`). @default false */
  readonly spot?: boolean;
  /** Longest a job may train (config `aws.training.max_runtime_seconds`). @default Duration.days(1) */
  readonly maxRuntime?: Duration;
  /**
   * Longest a spot job may wait for capacity plus run (config `aws.training.max_wait_seconds`).
   * @default - twice maxRuntime when spot is on
   */
  readonly maxWait?: Duration;
  /** Training volume size (config `aws.training.volume_size_gb`). @default 50 */
  readonly volumeSizeGb?: number;
  /** Static hyperparameters passed to every training job (values are strings). @default {} */
  readonly hyperparameters?: Record<string, string>;
  /** Instance type of the evaluation processing job (CPU is enough). @default 'ml.m5.xlarge' */
  readonly evaluationInstanceType?: string;
  /**
   * Start training when an object with this name lands under the processed prefix
   * (the ingestion run writes it last). Set `undefined`-free `false` to disable.
   * @default '_SUCCESS.json'
   */
  readonly startOnDataMarker?: string | false;
  /** Also start training on this schedule. @default - no schedule */
  readonly schedule?: events.Schedule;
  /** Keep the state machine's log group on stack deletion. @default true */
  readonly retainOnDelete?: boolean;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/**
 * A Step Functions state machine that trains on SageMaker (GPU, optional
 * spot with checkpoints, VPC, KMS-encrypted volume and output), evaluates the
 * model with a processing job, publishes the model tarball at
 * `<models>/<version>/model.tar.gz` and registers a model package with its
 * metrics. Started when processed data lands and/or on a schedule.
 *
 * The training job name is the model version.
 */
export class TrainingJob extends Construct implements iam.IGrantable {
  /** The role SageMaker assumes inside training jobs (and tuning trials). */
  readonly executionRole: iam.Role;
  /** The role SageMaker assumes inside the evaluation processing job. */
  readonly evaluationRole: iam.Role;
  readonly stateMachine: sfn.StateMachine;
  readonly securityGroup: ec2.SecurityGroup;
  readonly grantPrincipal: iam.IPrincipal;
  /** The `AlgorithmSpecification` / `ResourceConfig` / `VpcConfig` / ... shared with tuning. */
  readonly jobDefinition: Record<string, unknown>;
  readonly image: ImageReference;
  readonly subnets: ec2.ISubnet[];

  constructor(scope: Construct, id: string, props: TrainingJobProps) {
    super(scope, id);
    this.validate(props);
    const stack = Stack.of(this);
    const { dataLake, registry, vpc } = props;
    const instanceCount = props.instanceCount ?? 1;
    const maxRuntime = props.maxRuntime ?? Duration.days(1);
    const maxWait = props.spot ? (props.maxWait ?? Duration.seconds(maxRuntime.toSeconds() * 2)) : undefined;
    const key = dataLake.encryptionKey;

    this.subnets = vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'SageMaker training and evaluation jobs',
      allowAllOutbound: true,
    });
    if (instanceCount > 1) {
      this.securityGroup.connections.allowInternally(ec2.Port.allTraffic(), 'distributed training between instances');
    }

    this.image = registry.image('training');
    this.executionRole = sageMakerExecutionRole(this, 'ExecutionRole', 'SageMaker training jobs and tuning trials');
    this.grantPrincipal = this.executionRole;
    dataLake.grantRead(this.executionRole, 'processed');
    dataLake.grantReadWrite(this.executionRole, 'checkpoints', 'state');
    dataLake.grantWrite(this.executionRole, 'models');
    this.image.grantPull(this.executionRole);
    grantSageMakerLogging(this, this.executionRole, 'TrainingJobs');
    grantSageMakerVpcAccess(this.executionRole, vpc, this.subnets, [this.securityGroup]);

    this.evaluationRole = sageMakerExecutionRole(this, 'EvaluationRole', 'SageMaker model evaluation processing jobs');
    dataLake.grantRead(this.evaluationRole, 'processed', 'models');
    dataLake.grantWrite(this.evaluationRole, 'models');
    this.image.grantPull(this.evaluationRole);
    grantSageMakerLogging(this, this.evaluationRole, 'ProcessingJobs');
    grantSageMakerVpcAccess(this.evaluationRole, vpc, this.subnets, [this.securityGroup]);

    const vpcConfig = {
      SecurityGroupIds: [this.securityGroup.securityGroupId],
      Subnets: this.subnets.map((s) => s.subnetId),
    };
    this.jobDefinition = {
      AlgorithmSpecification: { TrainingImage: this.image.imageUri, TrainingInputMode: 'File', MetricDefinitions: metricDefinitions() },
      RoleArn: this.executionRole.roleArn,
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv',
          DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: dataLake.s3Uri('processed'), S3DataDistributionType: 'FullyReplicated' } },
        },
      ],
      OutputDataConfig: { S3OutputPath: dataLake.s3Uri('models'), KmsKeyId: key.keyArn },
      ResourceConfig: {
        InstanceType: props.instanceType,
        InstanceCount: instanceCount,
        VolumeSizeInGB: props.volumeSizeGb ?? 50,
        VolumeKmsKeyId: key.keyArn,
      },
      StoppingCondition: {
        MaxRuntimeInSeconds: maxRuntime.toSeconds(),
        ...(maxWait ? { MaxWaitTimeInSeconds: maxWait.toSeconds() } : {}),
      },
      EnableManagedSpotTraining: props.spot ?? false,
      EnableInterContainerTrafficEncryption: instanceCount > 1,
      VpcConfig: vpcConfig,
      StaticHyperParameters: props.hyperparameters ?? {},
    };

    const modelsUri = dataLake.s3Uri('models');
    const nameJob = new sfn.Pass(this, 'NameJob', {
      comment: 'The job name doubles as the model version',
      parameters: {
        'jobName.$': `States.Format('${props.jobNamePrefix}-{}', States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4))`,
      },
    });

    const { StaticHyperParameters, ...trainingJob } = this.jobDefinition;
    const train = sageMakerSyncState(
      this,
      'Train',
      'createTrainingJob',
      {
        ...trainingJob,
        'TrainingJobName.$': '$.jobName',
        HyperParameters: StaticHyperParameters,
        ...(props.spot
          ? { 'CheckpointConfig': { 'S3Uri.$': `States.Format('${dataLake.s3Uri('checkpoints')}{}/', $.jobName)`, LocalPath: '/opt/ml/checkpoints' } }
          : {}),
      },
      '$.training',
    );

    const evaluate = sageMakerSyncState(
      this,
      'Evaluate',
      'createProcessingJob',
      {
        'ProcessingJobName.$': "States.Format('{}-eval', $.jobName)",
        RoleArn: this.evaluationRole.roleArn,
        AppSpecification: {
          ImageUri: this.image.imageUri,
          ContainerArguments: ['evaluate', '--model', '/opt/ml/processing/model', '--data', '/opt/ml/processing/data', '--output', '/opt/ml/processing/evaluation'],
        },
        ProcessingInputs: [
          {
            InputName: 'model',
            S3Input: { 'S3Uri.$': '$.training.ModelArtifacts.S3ModelArtifacts', LocalPath: '/opt/ml/processing/model', S3DataType: 'S3Prefix', S3InputMode: 'File' },
          },
          {
            InputName: 'data',
            S3Input: { S3Uri: dataLake.s3Uri('processed'), LocalPath: '/opt/ml/processing/data', S3DataType: 'S3Prefix', S3InputMode: 'File' },
          },
        ],
        ProcessingOutputConfig: {
          KmsKeyId: key.keyArn,
          Outputs: [
            {
              OutputName: 'evaluation',
              S3Output: { 'S3Uri.$': `States.Format('${modelsUri}{}/evaluation', $.jobName)`, LocalPath: '/opt/ml/processing/evaluation', S3UploadMode: 'EndOfJob' },
            },
          ],
        },
        ProcessingResources: {
          ClusterConfig: { InstanceCount: 1, InstanceType: props.evaluationInstanceType ?? 'ml.m5.xlarge', VolumeSizeInGB: 30, VolumeKmsKeyId: key.keyArn },
        },
        NetworkConfig: { EnableInterContainerTrafficEncryption: true, VpcConfig: vpcConfig },
        StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      },
      '$.evaluation',
    );

    const modelsPrefix = dataLake.prefixes.models;
    const publish = new tasks.CallAwsService(this, 'PublishModel', {
      comment: 'Copy <models>/<job>/output/model.tar.gz to <models>/<version>/model.tar.gz, the path endpoints load',
      service: 's3',
      action: 'copyObject',
      iamAction: 's3:PutObject',
      iamResources: [dataLake.bucket.arnForObjects(`${modelsPrefix}*`)],
      parameters: {
        Bucket: dataLake.bucket.bucketName,
        'CopySource.$': `States.Format('${dataLake.bucket.bucketName}/${modelsPrefix}{}/output/model.tar.gz', $.jobName)`,
        'Key.$': `States.Format('${modelsPrefix}{}/model.tar.gz', $.jobName)`,
        ServerSideEncryption: 'aws:kms',
        SsekmsKeyId: key.keyArn,
      },
      resultPath: sfn.JsonPath.DISCARD,
    });

    const servingImage = registry.image('serving');
    const register = new tasks.CallAwsService(this, 'RegisterModel', {
      service: 'sagemaker',
      action: 'createModelPackage',
      iamAction: 'sagemaker:CreateModelPackage',
      iamResources: [registry.modelPackageGroup.attrModelPackageGroupArn, registry.modelPackageArnPattern],
      parameters: {
        ModelPackageGroupName: registry.modelPackageGroupName,
        'ModelPackageDescription.$': "States.Format('Trained by {}', $.jobName)",
        ModelApprovalStatus: 'PendingManualApproval',
        InferenceSpecification: {
          Containers: [{ Image: servingImage.imageUri, 'ModelDataUrl.$': `States.Format('${modelsUri}{}/model.tar.gz', $.jobName)` }],
          SupportedContentTypes: ['application/json', 'text/csv'],
          SupportedResponseMIMETypes: ['application/json'],
        },
        ModelMetrics: {
          ModelQuality: {
            Statistics: { ContentType: 'application/json', 'S3Uri.$': `States.Format('${modelsUri}{}/evaluation/evaluation.json', $.jobName)` },
          },
        },
        CustomerMetadataProperties: { 'model_version.$': '$.jobName' },
      },
      resultPath: '$.modelPackage',
    });

    const failed = new sfn.Fail(this, 'TrainingFailed', { error: 'TrainingPipelineFailed', cause: 'A training, evaluation or registration step failed' });
    for (const state of [train, evaluate]) state.addCatch(failed, { resultPath: '$.error' });
    publish.addCatch(failed, { resultPath: '$.error' });
    register.addCatch(failed, { resultPath: '$.error' });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: (props.retainOnDelete ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(nameJob.next(train).next(evaluate).next(publish).next(register)),
      timeout: Duration.seconds((maxWait ?? maxRuntime).toSeconds() + 2 * 3600),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    const role = this.stateMachine;
    grantSageMakerSyncJob(role, this, {
      resource: 'training-job',
      actions: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'],
      namePrefix: props.jobNamePrefix,
      ruleName: 'StepFunctionsGetEventsForSageMakerTrainingJobsRule',
    });
    grantSageMakerSyncJob(role, this, {
      resource: 'processing-job',
      actions: ['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob'],
      namePrefix: props.jobNamePrefix,
      ruleName: 'StepFunctionsGetEventsForSageMakerProcessingJobsRule',
    });
    grantPassRoleToSageMaker(role, this.executionRole, this.evaluationRole);
    dataLake.grantRead(role, 'models');
    dataLake.grantWrite(role, 'models');
    registry.grantRegisterModel(role);

    if (props.startOnDataMarker !== false) {
      const marker = props.startOnDataMarker ?? '_SUCCESS.json';
      new events.Rule(this, 'OnProcessedData', {
        description: `Train when ${dataLake.s3Uri('processed')}*/${marker} is written`,
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [dataLake.bucket.bucketName] },
            object: { key: events.Match.wildcard(`${dataLake.prefixes.processed}*/${marker}`) },
          },
        },
        targets: [new targets.SfnStateMachine(this.stateMachine)],
      });
    }
    if (props.schedule) {
      new events.Rule(this, 'OnSchedule', { schedule: props.schedule, targets: [new targets.SfnStateMachine(this.stateMachine)] });
    }
  }

  /** Lets the grantee start a training run. */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private validate(props: TrainingJobProps): void {
    const v = new PropsValidator(this, props.configFile);
    const type = props.instanceType;
    v.check(isSageMakerInstanceType(type), 'instanceType', 'aws.training.instance_type', `"${type}" is not a SageMaker instance type such as ml.g5.xlarge`);
    if (isSageMakerInstanceType(type)) {
      v.check(
        !props.requireGpu || isGpuInstanceType(type),
        'instanceType',
        'aws.training.instance_type',
        `"${type}" has no GPU but aws.training.require_gpu is true: use an ml.g* or ml.p* type (e.g. ml.g5.xlarge) or set require_gpu to false`,
      );
      v.check(!isBurstableInstanceType(type), 'instanceType', 'aws.training.instance_type', `"${type}" is burstable; SageMaker training does not offer ml.t* types`);
    }
    const count = props.instanceCount ?? 1;
    v.check(Number.isInteger(count) && count >= 1, 'instanceCount', 'aws.training.instance_count', `must be a whole number >= 1, found ${count}`);
    const runtime = props.maxRuntime?.toSeconds() ?? 86_400;
    v.check(runtime >= 1 && runtime <= 28 * 86_400, 'maxRuntime', 'aws.training.max_runtime_seconds', `must be 1 s to 28 days (SageMaker's limit), found ${runtime} s`);
    if (props.maxWait !== undefined) {
      v.check(props.spot === true, 'maxWait', 'aws.training.max_wait_seconds', 'only applies to spot training: set aws.training.spot to true or remove max_wait_seconds');
      v.check(
        props.maxWait.toSeconds() >= runtime,
        'maxWait',
        'aws.training.max_wait_seconds',
        `must be >= max_runtime_seconds (${runtime}), found ${props.maxWait.toSeconds()}`,
      );
    }
    const volume = props.volumeSizeGb ?? 50;
    v.check(Number.isInteger(volume) && volume >= 1 && volume <= 16_384, 'volumeSizeGb', 'aws.training.volume_size_gb', `must be 1-16384 GB, found ${volume}`);
    v.check(
      /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,44}$/.test(props.jobNamePrefix),
      'jobNamePrefix',
      'project (pipeline.json) + environment',
      `"${props.jobNamePrefix}" must be 1-45 letters, digits and dashes (SageMaker job names are at most 63 characters)`,
    );
    const evalType = props.evaluationInstanceType ?? 'ml.m5.xlarge';
    v.check(isSageMakerInstanceType(evalType), 'evaluationInstanceType', 'evaluationInstanceType', `"${evalType}" is not a SageMaker instance type`);
    for (const [k, value] of Object.entries(props.hyperparameters ?? {})) {
      v.check(value.length <= 2500, 'hyperparameters', `pipeline.training_params.${k}`, `SageMaker accepts hyperparameter values of at most 2500 characters, found ${value.length}`);
    }
    v.throwIfInvalid();
  }
}
