import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PROCESSING_JOB_SUFFIXES } from '../../../runtime/contract/aws-names';
import { sageMakerRegisterLaunch, sageMakerTrainingEnvironment, type ContainerLaunch, type LaunchContext } from '../../../runtime/contract/env';
import { processedRunPrefix, runPackagePrefix, SUCCESS_MARKER } from '../../../runtime/contract/layout';
import { isBurstableInstanceType, isGpuInstanceType, isSageMakerInstanceType, volumeKmsKeyFor } from '../instance-types';
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

/** Where the state machine keeps the processed run id it trains on (`$.processedRun`). */
export const PROCESSED_RUN_PATH = '$.processedRun';

/** The execution input that names a processed run explicitly: `{"processed_run": "<run id>"}`. */
export const PROCESSED_RUN_INPUT = 'processed_run';

/** Folders of the registration processing job's inputs and output inside its container. */
export const REGISTER_PATHS = {
  model: '/opt/ml/processing/model',
  evaluation: '/opt/ml/processing/evaluation',
  output: '/opt/ml/processing/registration',
} as const;

/**
 * `States.Format('<template>', <paths>)`: each `{}` of the template takes the value at the next JSON path.
 * Templates here are bucket names, validated prefixes and CDK tokens, none of which holds a
 * character States.Format would need escaped (a quote or a backslash).
 */
export function statesFormat(template: string, ...paths: string[]): string {
  if (/['\\]/.test(template)) throw new Error(`States.Format template ${template} holds a quote or backslash`);
  return `States.Format('${template}', ${paths.join(', ')})`;
}

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
  /** VPC the training, evaluation and registration jobs run in. */
  readonly vpc: ec2.IVpc;
  /** Subnets for the jobs. @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * What every container of the pipeline is told about its environment (runtime/contract/env.ts):
   * the training job's Environment is sageMakerTrainingEnvironment(ctx), the registration job
   * runs sageMakerRegisterLaunch(ctx, <serving image>, REGISTER_PATHS).
   */
  readonly launchContext: LaunchContext;
  /** Prefix of job names (jobs are named `<prefix>-<12 hex>`), at most 45 characters (trainingJobNamePrefix in aws-names). */
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
  /** Instance type of the evaluation and registration processing jobs (CPU is enough). @default 'ml.m5.xlarge' */
  readonly evaluationInstanceType?: string;
  /**
   * Start training when an object with this name lands in a processed run folder
   * (the ingestion run writes it last); `false` disables the rule.
   * @default SUCCESS_MARKER (runtime/contract/layout.ts)
   */
  readonly startOnDataMarker?: string | false;
  /** Keep the state machine's log group on stack deletion. @default true */
  readonly retainOnDelete?: boolean;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/**
 * A Step Functions state machine that trains on one processed run with SageMaker
 * (GPU, optional spot with checkpoints, VPC, encrypted output and volumes), evaluates
 * the model with a processing job on the same run, and registers it with a processing
 * job running the training image's `register` command, which allocates the next
 * registry version, writes the version's archive (versionArchiveKey) and creates the
 * SageMaker model package. Started by the S3 event of `<processed><run>/<SUCCESS_MARKER>`
 * or by hand with `{"processed_run": "<run id>"}`.
 */
export class TrainingJob extends Construct implements iam.IGrantable {
  /** The role SageMaker assumes inside training jobs (and tuning trials). */
  readonly executionRole: iam.Role;
  /** The role SageMaker assumes inside the evaluation processing job. */
  readonly evaluationRole: iam.Role;
  /** The role SageMaker assumes inside the registration processing job. */
  readonly registrationRole: iam.Role;
  readonly stateMachine: sfn.StateMachine;
  readonly securityGroup: ec2.SecurityGroup;
  readonly grantPrincipal: iam.IPrincipal;
  /**
   * The `AlgorithmSpecification` / `ResourceConfig` / `VpcConfig` / `Environment` / ... shared with
   * tuning. Its train channel reads the run at PROCESSED_RUN_PATH of the state input.
   */
  readonly jobDefinition: Record<string, unknown>;
  readonly image: ImageReference;
  readonly subnets: ec2.ISubnet[];
  /** How the registration job starts (the contract's sageMakerRegisterLaunch). */
  readonly registerLaunch: ContainerLaunch;

  constructor(scope: Construct, id: string, props: TrainingJobProps) {
    super(scope, id);
    this.validate(props);
    const { dataLake, registry, vpc } = props;
    const paths = dataLake.prefixes;
    const instanceCount = props.instanceCount ?? 1;
    const maxRuntime = props.maxRuntime ?? Duration.days(1);
    const maxWait = props.spot ? (props.maxWait ?? Duration.seconds(maxRuntime.toSeconds() * 2)) : undefined;
    const key = dataLake.encryptionKey;
    const processingType = props.evaluationInstanceType ?? 'ml.m5.xlarge';

    this.subnets = vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'SageMaker training, evaluation and registration jobs',
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

    // Registration reads the run's package and evaluation, writes the version's copy under
    // <models><project>/<version>/ and its record under the registry prefix, and creates the model package.
    this.registrationRole = sageMakerExecutionRole(this, 'RegistrationRole', 'SageMaker model registration processing jobs');
    dataLake.grantRead(this.registrationRole, 'models', 'registry');
    dataLake.grantWrite(this.registrationRole, 'models', 'registry');
    registry.grantRegisterModel(this.registrationRole);
    this.image.grantPull(this.registrationRole);
    grantSageMakerLogging(this, this.registrationRole, 'ProcessingJobs');
    grantSageMakerVpcAccess(this.registrationRole, vpc, this.subnets, [this.securityGroup]);

    const vpcConfig = {
      SecurityGroupIds: [this.securityGroup.securityGroupId],
      Subnets: this.subnets.map((s) => s.subnetId),
    };
    const runDataUri = statesFormat(dataLake.objectUri(processedRunPrefix(paths, '{}')), PROCESSED_RUN_PATH);
    this.jobDefinition = {
      AlgorithmSpecification: { TrainingImage: this.image.imageUri, TrainingInputMode: 'File', MetricDefinitions: metricDefinitions() },
      RoleArn: this.executionRole.roleArn,
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv',
          DataSource: { S3DataSource: { S3DataType: 'S3Prefix', 'S3Uri.$': runDataUri, S3DataDistributionType: 'FullyReplicated' } },
        },
      ],
      OutputDataConfig: { S3OutputPath: dataLake.s3Uri('models'), KmsKeyId: key.keyArn },
      ResourceConfig: {
        InstanceType: props.instanceType,
        InstanceCount: instanceCount,
        VolumeSizeInGB: props.volumeSizeGb ?? 50,
        ...volumeKmsKeyFor(props.instanceType, key.keyArn),
      },
      StoppingCondition: {
        MaxRuntimeInSeconds: maxRuntime.toSeconds(),
        ...(maxWait ? { MaxWaitTimeInSeconds: maxWait.toSeconds() } : {}),
      },
      EnableManagedSpotTraining: props.spot ?? false,
      EnableInterContainerTrafficEncryption: instanceCount > 1,
      VpcConfig: vpcConfig,
      Environment: sageMakerTrainingEnvironment(props.launchContext),
      StaticHyperParameters: props.hyperparameters ?? {},
    };

    const findRun = this.findProcessedRun(paths.processed);
    const nameJob = new sfn.Pass(this, 'NameJob', {
      comment: 'Names the training job; its processing jobs add a suffix',
      parameters: {
        'jobName.$': `States.Format('${props.jobNamePrefix}-{}', States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4))`,
        [`${PROCESSED_RUN_PATH.slice(2)}.$`]: PROCESSED_RUN_PATH,
      },
    });

    const { StaticHyperParameters, ...trainingJob } = this.jobDefinition;
    const runPackage = dataLake.objectUri(runPackagePrefix(paths, '{}'));
    const train = sageMakerSyncState(
      this,
      'Train',
      'createTrainingJob',
      {
        ...trainingJob,
        'TrainingJobName.$': '$.jobName',
        HyperParameters: StaticHyperParameters,
        ...(props.spot
          ? { CheckpointConfig: { 'S3Uri.$': statesFormat(dataLake.objectUri(`${paths.checkpoints}{}/`), '$.jobName'), LocalPath: '/opt/ml/checkpoints' } }
          : {}),
      },
      '$.training',
    );

    const clusterConfig = { InstanceCount: 1, InstanceType: processingType, VolumeSizeInGB: 30, ...volumeKmsKeyFor(processingType, key.keyArn) };
    const networkConfig = { EnableInterContainerTrafficEncryption: true, VpcConfig: vpcConfig };
    const modelInput = (localPath: string) => ({
      InputName: 'model',
      S3Input: { 'S3Uri.$': '$.training.ModelArtifacts.S3ModelArtifacts', LocalPath: localPath, S3DataType: 'S3Prefix', S3InputMode: 'File' },
    });
    const evaluationUri = `${runPackage}evaluation`;
    const evaluate = sageMakerSyncState(
      this,
      'Evaluate',
      'createProcessingJob',
      {
        'ProcessingJobName.$': `States.Format('{}${PROCESSING_JOB_SUFFIXES.evaluate}', $.jobName)`,
        RoleArn: this.evaluationRole.roleArn,
        AppSpecification: {
          ImageUri: this.image.imageUri,
          ContainerArguments: ['evaluate', '--model', '/opt/ml/processing/model', '--data', '/opt/ml/processing/data', '--output', '/opt/ml/processing/evaluation'],
        },
        ProcessingInputs: [
          modelInput('/opt/ml/processing/model'),
          {
            InputName: 'data',
            S3Input: { 'S3Uri.$': runDataUri, LocalPath: '/opt/ml/processing/data', S3DataType: 'S3Prefix', S3InputMode: 'File' },
          },
        ],
        ProcessingOutputConfig: {
          KmsKeyId: key.keyArn,
          Outputs: [
            {
              OutputName: 'evaluation',
              S3Output: { 'S3Uri.$': statesFormat(evaluationUri, '$.jobName'), LocalPath: '/opt/ml/processing/evaluation', S3UploadMode: 'EndOfJob' },
            },
          ],
        },
        ProcessingResources: { ClusterConfig: clusterConfig },
        NetworkConfig: networkConfig,
        StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      },
      '$.evaluation',
    );

    const servingImage = registry.image('serving');
    this.registerLaunch = sageMakerRegisterLaunch(props.launchContext, servingImage.imageUri, REGISTER_PATHS);
    const register = sageMakerSyncState(
      this,
      'Register',
      'createProcessingJob',
      {
        'ProcessingJobName.$': `States.Format('{}${PROCESSING_JOB_SUFFIXES.register}', $.jobName)`,
        RoleArn: this.registrationRole.roleArn,
        AppSpecification: { ImageUri: this.image.imageUri, ContainerArguments: this.registerLaunch.args },
        Environment: this.registerLaunch.env,
        ProcessingInputs: [
          modelInput(REGISTER_PATHS.model),
          {
            InputName: 'evaluation',
            S3Input: { 'S3Uri.$': statesFormat(`${evaluationUri}/`, '$.jobName'), LocalPath: REGISTER_PATHS.evaluation, S3DataType: 'S3Prefix', S3InputMode: 'File' },
          },
        ],
        ProcessingOutputConfig: {
          KmsKeyId: key.keyArn,
          Outputs: [
            {
              OutputName: 'registration',
              S3Output: { 'S3Uri.$': statesFormat(`${runPackage}registration`, '$.jobName'), LocalPath: REGISTER_PATHS.output, S3UploadMode: 'EndOfJob' },
            },
          ],
        },
        ProcessingResources: { ClusterConfig: clusterConfig },
        NetworkConfig: networkConfig,
        StoppingCondition: { MaxRuntimeInSeconds: 1800 },
      },
      '$.registration',
    );

    const failed = new sfn.Fail(this, 'TrainingFailed', { error: 'TrainingPipelineFailed', cause: 'A training, evaluation or registration step failed' });
    for (const state of [train, evaluate, register]) state.addCatch(failed, { resultPath: '$.error' });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: (props.retainOnDelete ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    nameJob.next(train).next(evaluate).next(register);
    for (const found of findRun.found) found.next(nameJob);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(findRun.choice),
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
    grantPassRoleToSageMaker(role, this.executionRole, this.evaluationRole, this.registrationRole);

    if (props.startOnDataMarker !== false) {
      const marker = props.startOnDataMarker ?? SUCCESS_MARKER;
      new events.Rule(this, 'OnProcessedData', {
        description: `Train when ${dataLake.s3Uri('processed')}*/${marker} is written`,
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [dataLake.bucket.bucketName] },
            object: { key: events.Match.wildcard(`${paths.processed}*/${marker}`) },
          },
        },
        targets: [new targets.SfnStateMachine(this.stateMachine)],
      });
    }
  }

  /**
   * The run to train on: `{"processed_run": "<id>"}` when started by hand, else the folder of the
   * `<processed><run>/<SUCCESS_MARKER>` key in the S3 event (the segment right after the processed prefix).
   */
  private findProcessedRun(processedPrefix: string): { choice: sfn.Choice; found: sfn.Pass[] } {
    const runSegment = processedPrefix.split('/').filter((part) => part !== '').length;
    const runField = `${PROCESSED_RUN_PATH.slice(2)}.$`;
    const fromInput = new sfn.Pass(this, 'RunFromInput', { parameters: { [runField]: `$.${PROCESSED_RUN_INPUT}` } });
    const fromEvent = new sfn.Pass(this, 'RunFromEvent', {
      comment: `The run id is segment ${runSegment} of ${processedPrefix}<run>/${SUCCESS_MARKER}`,
      parameters: { [runField]: `States.ArrayGetItem(States.StringSplit($.detail.object.key, '/'), ${runSegment})` },
    });
    const missing = new sfn.Fail(this, 'NoProcessedRun', {
      error: 'NoProcessedRun',
      cause: `Start with {"${PROCESSED_RUN_INPUT}": "<run id>"} (a folder under ${processedPrefix}) or from the S3 Object Created event of ${processedPrefix}<run>/${SUCCESS_MARKER}`,
    });
    const given = (path: string) => sfn.Condition.and(sfn.Condition.isPresent(path), sfn.Condition.isString(path));
    const choice = new sfn.Choice(this, 'FindProcessedRun')
      .when(given(`$.${PROCESSED_RUN_INPUT}`), fromInput)
      .when(given('$.detail.object.key'), fromEvent)
      .otherwise(missing);
    return { choice, found: [fromInput, fromEvent] };
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
    for (const [name, value] of Object.entries(sageMakerTrainingEnvironment(props.launchContext))) {
      v.check(value.length <= 512, 'launchContext', name, `SageMaker accepts environment values of at most 512 characters, found ${value.length}`);
    }
    for (const [k, value] of Object.entries(props.hyperparameters ?? {})) {
      v.check(value.length <= 2500, 'hyperparameters', `pipeline.training_params.${k}`, `SageMaker accepts hyperparameter values of at most 2500 characters, found ${value.length}`);
    }
    v.throwIfInvalid();
  }
}
