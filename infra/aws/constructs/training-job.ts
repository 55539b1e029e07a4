import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PROCESSING_JOB_SUFFIXES } from '../../../runtime/contract/aws-names';
import { sageMakerRegisterLaunch, sageMakerTrainingEnvironment, type ContainerLaunch, type LaunchContext } from '../../../runtime/contract/env';
import { processedRunPrefix, runPackagePrefix, runsPrefix, SUCCESS_MARKER } from '../../../runtime/contract/layout';
import { SAGEMAKER_METRIC_DEFINITIONS, TUNABLE_METRICS } from '../../../runtime/contract/metrics';
import { isBurstableInstanceType, isGpuInstanceType, isSageMakerInstanceType, volumeKmsKeyFor } from '../instance-types';
import { grantPassRoleToSageMaker, grantSageMakerLogging, grantSageMakerSyncJob, grantSageMakerVpcAccess, sageMakerExecutionRole } from '../sagemaker-iam';
import {
  PROCESSED_RUN_FIELD,
  PROCESSED_RUN_INPUT,
  PROCESSED_RUN_PATH,
  pipelineStateMachine,
  sageMakerSyncState,
  statesFormat,
  stringGiven,
  uniqueJobName,
} from '../step-functions';
import { PropsValidator, checkJobNamePrefix } from '../validation';
import type { DataLake } from './data-lake';
import type { ImageReference, Registry } from './registry';

export { statesFormat } from '../step-functions';

/** Folders of the evaluation processing job's inputs and output inside its container. */
export const EVALUATE_PATHS = {
  model: '/opt/ml/processing/model',
  data: '/opt/ml/processing/data',
  output: '/opt/ml/processing/evaluation',
} as const;

/** Folders of the registration processing job's inputs and output inside its container. */
export const REGISTER_PATHS = {
  model: '/opt/ml/processing/model',
  evaluation: '/opt/ml/processing/evaluation',
  output: '/opt/ml/processing/registration',
} as const;

/**
 * Validation metrics the training image prints as `validation:<name>=<value>` (SageMaker scrapes its logs).
 * The names and regexes come from the contract the runtime prints with, so the two cannot drift apart.
 */
export const TRAINING_METRICS = TUNABLE_METRICS;

/** A SageMaker MetricDefinition: a metric's name and the regex that finds its value in the job's logs. */
export interface MetricDefinition {
  readonly Name: string;
  readonly Regex: string;
}

/** The training job's MetricDefinitions: exactly the contract's SAGEMAKER_METRIC_DEFINITIONS. */
export function metricDefinitions(): MetricDefinition[] {
  return SAGEMAKER_METRIC_DEFINITIONS.map((d) => ({ ...d }));
}

/** VpcConfig of a SageMaker job. */
export interface SageMakerVpcConfig {
  readonly SecurityGroupIds: string[];
  readonly Subnets: string[];
}

/** One input channel of a training job; `S3Uri.$` is a Step Functions expression evaluated per execution. */
export interface TrainingChannel {
  readonly ChannelName: string;
  readonly ContentType: string;
  readonly DataSource: {
    readonly S3DataSource: { readonly S3DataType: 'S3Prefix'; readonly 'S3Uri.$': string; readonly S3DataDistributionType: 'FullyReplicated' };
  };
}

/**
 * The CreateTrainingJob parameters every training job and tuning trial of the pipeline shares, in the
 * SageMaker API's names. The Train state sends StaticHyperParameters as HyperParameters; HyperParameterTuning
 * sends the whole definition as its HyperParameterTrainingJobDefinition (which names them StaticHyperParameters).
 */
export interface TrainingJobDefinition {
  readonly AlgorithmSpecification: {
    readonly TrainingImage: string;
    readonly TrainingInputMode: 'File';
    readonly MetricDefinitions: MetricDefinition[];
  };
  readonly RoleArn: string;
  readonly InputDataConfig: TrainingChannel[];
  readonly OutputDataConfig: { readonly S3OutputPath: string; readonly KmsKeyId: string };
  readonly ResourceConfig: {
    readonly InstanceType: string;
    readonly InstanceCount: number;
    readonly VolumeSizeInGB: number;
    readonly VolumeKmsKeyId?: string;
  };
  readonly StoppingCondition: { readonly MaxRuntimeInSeconds: number; readonly MaxWaitTimeInSeconds?: number };
  readonly EnableManagedSpotTraining: boolean;
  readonly EnableInterContainerTrafficEncryption: boolean;
  readonly VpcConfig: SageMakerVpcConfig;
  readonly Environment: Readonly<Record<string, string>>;
  readonly StaticHyperParameters: Readonly<Record<string, string>>;
}

/** One S3 input of a processing job; `S3Uri.$` is a Step Functions JSON path or expression. */
export interface ProcessingInput {
  readonly InputName: string;
  readonly S3Input: { readonly 'S3Uri.$': string; readonly LocalPath: string; readonly S3DataType: 'S3Prefix'; readonly S3InputMode: 'File' };
}

/** The CreateProcessingJob parameters of the evaluation and registration steps. */
export interface ProcessingJobDefinition {
  readonly 'ProcessingJobName.$': string;
  readonly RoleArn: string;
  readonly AppSpecification: { readonly ImageUri: string; readonly ContainerArguments: readonly string[] };
  readonly Environment?: Readonly<Record<string, string>>;
  readonly ProcessingInputs: ProcessingInput[];
  readonly ProcessingOutputConfig: {
    readonly KmsKeyId: string;
    readonly Outputs: { readonly OutputName: string; readonly S3Output: { readonly 'S3Uri.$': string; readonly LocalPath: string; readonly S3UploadMode: 'EndOfJob' } }[];
  };
  readonly ProcessingResources: {
    readonly ClusterConfig: { readonly InstanceCount: number; readonly InstanceType: string; readonly VolumeSizeInGB: number; readonly VolumeKmsKeyId?: string };
  };
  readonly NetworkConfig: { readonly EnableInterContainerTrafficEncryption: boolean; readonly VpcConfig: SageMakerVpcConfig };
  readonly StoppingCondition: { readonly MaxRuntimeInSeconds: number };
}

/** What TrainingJob uses for each omitted prop; its validation checks the same values. */
export const TRAINING_JOB_DEFAULTS = {
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } as ec2.SubnetSelection,
  instanceCount: 1,
  requireGpu: false,
  spot: false,
  maxRuntime: Duration.days(1),
  /** With spot and no maxWait, a job may wait for capacity plus run this many times maxRuntime. */
  spotMaxWaitFactor: 2,
  volumeSizeGb: 50,
  hyperparameters: {} as Readonly<Record<string, string>>,
  evaluationInstanceType: 'ml.m5.xlarge',
  startOnDataMarker: SUCCESS_MARKER as string | false,
  retainOnDelete: true,
} as const;

/** The evaluation and registration processing jobs: one CPU instance each, with these limits. */
const PROCESSING_JOBS = {
  instanceCount: 1,
  volumeSizeGb: 30,
  evaluationTimeout: Duration.hours(1),
  registrationTimeout: Duration.minutes(30),
} as const;

/** Time the state machine allows beyond the training job's own limit, for evaluation and registration. */
const TIME_AFTER_TRAINING = Duration.hours(2);

/** SageMaker's limits on what a training job accepts. */
const SAGEMAKER_LIMITS = {
  maxRuntimeSeconds: 28 * 86_400,
  volumeSizeGb: 16_384,
  environmentValueLength: 512,
  hyperparameterValueLength: 2500,
  /** Job names are at most 63 characters; `-<12 hex>` and the processing suffixes take the rest. */
  jobNamePrefixLength: 45,
} as const;

export interface TrainingJobProps {
  /** The data lake the jobs read the processed run from and write the model to. */
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

/** One processing step of the pipeline (Evaluate, Register), as processingState() builds it. */
interface ProcessingStep {
  readonly id: string;
  readonly jobNameSuffix: string;
  readonly role: iam.IRole;
  readonly args: readonly string[];
  /** @default - no Environment */
  readonly environment?: Readonly<Record<string, string>>;
  readonly inputs: ProcessingInput[];
  /** The one output: its name, the folder in the container, and the S3 URI with `{}` for the job name. */
  readonly output: { readonly name: string; readonly localPath: string; readonly uriTemplate: string };
  readonly timeout: Duration;
  readonly resultPath: string;
}

/** A processing input read from S3 at `s3UriPath` (a JSON path or a States.Format expression). */
function s3Input(name: string, s3UriPath: string, localPath: string): ProcessingInput {
  return { InputName: name, S3Input: { 'S3Uri.$': s3UriPath, LocalPath: localPath, S3DataType: 'S3Prefix', S3InputMode: 'File' } };
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
   * The CreateTrainingJob parameters shared with tuning. Its train channel reads the run at
   * PROCESSED_RUN_PATH of the state input.
   */
  readonly jobDefinition: TrainingJobDefinition;
  readonly image: ImageReference;
  readonly subnets: ec2.ISubnet[];
  /** How the registration job starts (the contract's sageMakerRegisterLaunch). */
  readonly registerLaunch: ContainerLaunch;

  constructor(scope: Construct, id: string, props: TrainingJobProps) {
    super(scope, id);
    this.validate(props);
    this.subnets = props.vpc.selectSubnets(props.vpcSubnets ?? TRAINING_JOB_DEFAULTS.vpcSubnets).subnets;
    this.securityGroup = this.createSecurityGroup(props);
    this.image = props.registry.image('training');
    this.executionRole = this.createExecutionRole(props);
    this.grantPrincipal = this.executionRole;
    this.evaluationRole = this.createEvaluationRole(props);
    this.registrationRole = this.createRegistrationRole(props);
    this.jobDefinition = this.defineTrainingJob(props);
    this.registerLaunch = sageMakerRegisterLaunch(props.launchContext, props.registry.image('serving').imageUri, REGISTER_PATHS);
    this.stateMachine = this.createStateMachine(props);
    this.grantJobsToStateMachine(props.jobNamePrefix);
    this.startOnProcessedData(props);
  }

  /** Lets the grantee start a training run. */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private createSecurityGroup(props: TrainingJobProps): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'SageMaker training, evaluation and registration jobs',
      allowAllOutbound: true,
    });
    if ((props.instanceCount ?? TRAINING_JOB_DEFAULTS.instanceCount) > 1) {
      group.connections.allowInternally(ec2.Port.allTraffic(), 'distributed training between instances');
    }
    return group;
  }

  private createExecutionRole({ dataLake, vpc }: TrainingJobProps): iam.Role {
    return this.createJobRole('ExecutionRole', 'SageMaker training jobs and tuning trials', 'TrainingJobs', vpc, (role) => {
      dataLake.grantRead(role, 'processed');
      dataLake.grantReadWrite(role, 'checkpoints', 'state');
      // tracking/: the training container records its run there (runtime/training/container-tracking.ts).
      dataLake.grantWrite(role, 'models', 'tracking');
    });
  }

  private createEvaluationRole({ dataLake, vpc }: TrainingJobProps): iam.Role {
    return this.createJobRole('EvaluationRole', 'SageMaker model evaluation processing jobs', 'ProcessingJobs', vpc, (role) => {
      dataLake.grantRead(role, 'processed', 'models');
      dataLake.grantWrite(role, 'models');
    });
  }

  /**
   * Registration reads the run's package and evaluation, writes the version's copy under
   * <models><project>/<version>/ and its record under the registry prefix, and creates the model package.
   */
  private createRegistrationRole({ dataLake, registry, vpc }: TrainingJobProps): iam.Role {
    return this.createJobRole('RegistrationRole', 'SageMaker model registration processing jobs', 'ProcessingJobs', vpc, (role) => {
      dataLake.grantRead(role, 'models', 'registry');
      dataLake.grantWrite(role, 'models', 'registry');
      registry.grantRegisterModel(role);
    });
  }

  /** A role SageMaker assumes for one kind of job: its data access (`grantData`), then the image, logs and VPC. */
  private createJobRole(id: string, description: string, logGroupKind: string, vpc: ec2.IVpc, grantData: (role: iam.Role) => void): iam.Role {
    const role = sageMakerExecutionRole(this, id, description);
    grantData(role);
    this.image.grantPull(role);
    grantSageMakerLogging(this, role, logGroupKind);
    grantSageMakerVpcAccess(role, vpc, this.subnets, [this.securityGroup]);
    return role;
  }

  private defineTrainingJob(props: TrainingJobProps): TrainingJobDefinition {
    const { dataLake } = props;
    const key = dataLake.encryptionKey;
    const instanceCount = props.instanceCount ?? TRAINING_JOB_DEFAULTS.instanceCount;
    const { maxRuntime, maxWait } = this.parseTimeLimits(props);
    return {
      AlgorithmSpecification: { TrainingImage: this.image.imageUri, TrainingInputMode: 'File', MetricDefinitions: metricDefinitions() },
      RoleArn: this.executionRole.roleArn,
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv',
          DataSource: { S3DataSource: { S3DataType: 'S3Prefix', 'S3Uri.$': this.runDataUri(dataLake), S3DataDistributionType: 'FullyReplicated' } },
        },
      ],
      // SageMaker writes <S3OutputPath><job>/output/model.tar.gz: inside the job's run folder, beside its evaluation.
      OutputDataConfig: { S3OutputPath: dataLake.objectUri(runsPrefix(dataLake.prefixes)), KmsKeyId: key.keyArn },
      ResourceConfig: {
        InstanceType: props.instanceType,
        InstanceCount: instanceCount,
        VolumeSizeInGB: props.volumeSizeGb ?? TRAINING_JOB_DEFAULTS.volumeSizeGb,
        ...volumeKmsKeyFor(props.instanceType, key.keyArn),
      },
      StoppingCondition: {
        MaxRuntimeInSeconds: maxRuntime.toSeconds(),
        ...(maxWait ? { MaxWaitTimeInSeconds: maxWait.toSeconds() } : {}),
      },
      EnableManagedSpotTraining: props.spot ?? TRAINING_JOB_DEFAULTS.spot,
      EnableInterContainerTrafficEncryption: instanceCount > 1,
      VpcConfig: this.vpcConfig(),
      Environment: sageMakerTrainingEnvironment(props.launchContext),
      StaticHyperParameters: props.hyperparameters ?? TRAINING_JOB_DEFAULTS.hyperparameters,
    };
  }

  /** maxRuntime, and maxWait for spot jobs (TRAINING_JOB_DEFAULTS.spotMaxWaitFactor times maxRuntime unless given). */
  private parseTimeLimits(props: TrainingJobProps): { maxRuntime: Duration; maxWait?: Duration } {
    const maxRuntime = props.maxRuntime ?? TRAINING_JOB_DEFAULTS.maxRuntime;
    if (!(props.spot ?? TRAINING_JOB_DEFAULTS.spot)) return { maxRuntime };
    return { maxRuntime, maxWait: props.maxWait ?? Duration.seconds(maxRuntime.toSeconds() * TRAINING_JOB_DEFAULTS.spotMaxWaitFactor) };
  }

  /** The processed run at PROCESSED_RUN_PATH as an S3 URI expression. */
  private runDataUri(dataLake: DataLake): string {
    return statesFormat(dataLake.objectUri(processedRunPrefix(dataLake.prefixes, '{}')), PROCESSED_RUN_PATH);
  }

  private vpcConfig(): SageMakerVpcConfig {
    return { SecurityGroupIds: [this.securityGroup.securityGroupId], Subnets: this.subnets.map((s) => s.subnetId) };
  }

  /** FindProcessedRun -> NameJob -> Train -> Evaluate -> Register; a failed job ends in TrainingFailed. */
  private createStateMachine(props: TrainingJobProps): sfn.StateMachine {
    const findRun = this.findProcessedRun(props.dataLake.prefixes.processed);
    const nameJob = new sfn.Pass(this, 'NameJob', {
      comment: 'Names the training job; its processing jobs add a suffix',
      parameters: { 'jobName.$': uniqueJobName(props.jobNamePrefix, 4), [PROCESSED_RUN_FIELD]: PROCESSED_RUN_PATH },
    });
    const jobs = [this.trainState(props), this.evaluateState(props), this.registerState(props)];
    const failed = new sfn.Fail(this, 'TrainingFailed', { error: 'TrainingPipelineFailed', cause: 'A training, evaluation or registration step failed' });
    for (const state of jobs) state.addCatch(failed, { resultPath: '$.error' });
    const [train, evaluate, register] = jobs;
    nameJob.next(train).next(evaluate).next(register);
    for (const found of findRun.found) found.next(nameJob);
    const { maxRuntime, maxWait } = this.parseTimeLimits(props);
    return pipelineStateMachine(this, {
      start: findRun.choice,
      timeout: Duration.seconds((maxWait ?? maxRuntime).toSeconds() + TIME_AFTER_TRAINING.toSeconds()),
      retainOnDelete: props.retainOnDelete ?? TRAINING_JOB_DEFAULTS.retainOnDelete,
    });
  }

  /**
   * The run to train on: `{"processed_run": "<id>"}` when started by hand, else the folder of the
   * `<processed><run>/<SUCCESS_MARKER>` key in the S3 event (the segment right after the processed prefix).
   */
  private findProcessedRun(processedPrefix: string): { choice: sfn.Choice; found: sfn.Pass[] } {
    const runSegment = processedPrefix.split('/').filter((part) => part !== '').length;
    const fromInput = new sfn.Pass(this, 'RunFromInput', { parameters: { [PROCESSED_RUN_FIELD]: `$.${PROCESSED_RUN_INPUT}` } });
    const fromEvent = new sfn.Pass(this, 'RunFromEvent', {
      comment: `The run id is segment ${runSegment} of ${processedPrefix}<run>/${SUCCESS_MARKER}`,
      parameters: { [PROCESSED_RUN_FIELD]: `States.ArrayGetItem(States.StringSplit($.detail.object.key, '/'), ${runSegment})` },
    });
    const missing = new sfn.Fail(this, 'NoProcessedRun', {
      error: 'NoProcessedRun',
      cause: `Start with {"${PROCESSED_RUN_INPUT}": "<run id>"} (a folder under ${processedPrefix}) or from the S3 Object Created event of ${processedPrefix}<run>/${SUCCESS_MARKER}`,
    });
    const choice = new sfn.Choice(this, 'FindProcessedRun')
      .when(stringGiven(`$.${PROCESSED_RUN_INPUT}`), fromInput)
      .when(stringGiven('$.detail.object.key'), fromEvent)
      .otherwise(missing);
    return { choice, found: [fromInput, fromEvent] };
  }

  /** The training job of the run; spot jobs checkpoint under `<checkpoints><project>/<job name>/` (the data lake's prefixes carry the project level). */
  private trainState(props: TrainingJobProps): sfn.CustomState {
    const { StaticHyperParameters, ...job } = this.jobDefinition;
    const checkpoints = `${props.dataLake.prefixes.checkpoints}{}/`;
    const checkpointConfig = { 'S3Uri.$': statesFormat(props.dataLake.objectUri(checkpoints), '$.jobName'), LocalPath: '/opt/ml/checkpoints' };
    const parameters = {
      ...job,
      'TrainingJobName.$': '$.jobName',
      HyperParameters: StaticHyperParameters,
      ...((props.spot ?? TRAINING_JOB_DEFAULTS.spot) ? { CheckpointConfig: checkpointConfig } : {}),
    };
    return sageMakerSyncState(this, 'Train', 'createTrainingJob', parameters, '$.training');
  }

  /** `<training image> evaluate` on the trained model and the same run; writes `<models><job>/evaluation`. */
  private evaluateState(props: TrainingJobProps): sfn.CustomState {
    return this.processingState(props, {
      id: 'Evaluate',
      jobNameSuffix: PROCESSING_JOB_SUFFIXES.evaluate,
      role: this.evaluationRole,
      args: ['evaluate', '--model', EVALUATE_PATHS.model, '--data', EVALUATE_PATHS.data, '--output', EVALUATE_PATHS.output],
      inputs: [this.modelInput(EVALUATE_PATHS.model), s3Input('data', this.runDataUri(props.dataLake), EVALUATE_PATHS.data)],
      output: { name: 'evaluation', localPath: EVALUATE_PATHS.output, uriTemplate: `${this.runPackageUri(props.dataLake)}evaluation` },
      timeout: PROCESSING_JOBS.evaluationTimeout,
      resultPath: '$.evaluation',
    });
  }

  /** `<training image> register` with the contract's launch: the next registry version and its model package. */
  private registerState(props: TrainingJobProps): sfn.CustomState {
    const runPackage = this.runPackageUri(props.dataLake);
    return this.processingState(props, {
      id: 'Register',
      jobNameSuffix: PROCESSING_JOB_SUFFIXES.register,
      role: this.registrationRole,
      args: this.registerLaunch.args,
      environment: this.registerLaunch.env,
      inputs: [
        this.modelInput(REGISTER_PATHS.model),
        s3Input('evaluation', statesFormat(`${runPackage}evaluation/`, '$.jobName'), REGISTER_PATHS.evaluation),
      ],
      output: { name: 'registration', localPath: REGISTER_PATHS.output, uriTemplate: `${runPackage}registration` },
      timeout: PROCESSING_JOBS.registrationTimeout,
      resultPath: '$.registration',
    });
  }

  private processingState(props: TrainingJobProps, step: ProcessingStep): sfn.CustomState {
    const keyArn = props.dataLake.encryptionKey.keyArn;
    const instanceType = props.evaluationInstanceType ?? TRAINING_JOB_DEFAULTS.evaluationInstanceType;
    const job: ProcessingJobDefinition = {
      'ProcessingJobName.$': `States.Format('{}${step.jobNameSuffix}', $.jobName)`,
      RoleArn: step.role.roleArn,
      AppSpecification: { ImageUri: this.image.imageUri, ContainerArguments: step.args },
      ...(step.environment ? { Environment: step.environment } : {}),
      ProcessingInputs: step.inputs,
      ProcessingOutputConfig: {
        KmsKeyId: keyArn,
        Outputs: [
          {
            OutputName: step.output.name,
            S3Output: { 'S3Uri.$': statesFormat(step.output.uriTemplate, '$.jobName'), LocalPath: step.output.localPath, S3UploadMode: 'EndOfJob' },
          },
        ],
      },
      ProcessingResources: {
        ClusterConfig: {
          InstanceCount: PROCESSING_JOBS.instanceCount,
          InstanceType: instanceType,
          VolumeSizeInGB: PROCESSING_JOBS.volumeSizeGb,
          ...volumeKmsKeyFor(instanceType, keyArn),
        },
      },
      NetworkConfig: { EnableInterContainerTrafficEncryption: true, VpcConfig: this.vpcConfig() },
      StoppingCondition: { MaxRuntimeInSeconds: step.timeout.toSeconds() },
    };
    return sageMakerSyncState(this, step.id, 'createProcessingJob', job, step.resultPath);
  }

  /** The model archive the Train state produced. */
  private modelInput(localPath: string): ProcessingInput {
    return s3Input('model', '$.training.ModelArtifacts.S3ModelArtifacts', localPath);
  }

  /** `s3://<bucket>/<models>{}/`: the job's package folder, `{}` standing for the job name. */
  private runPackageUri(dataLake: DataLake): string {
    return dataLake.objectUri(runPackagePrefix(dataLake.prefixes, '{}'));
  }

  /** What the `.sync` integrations need: the jobs under the prefix, and passing the three roles to SageMaker. */
  private grantJobsToStateMachine(jobNamePrefix: string): void {
    grantSageMakerSyncJob(this.stateMachine, this, {
      resource: 'training-job',
      actions: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'],
      namePrefix: jobNamePrefix,
      ruleName: 'StepFunctionsGetEventsForSageMakerTrainingJobsRule',
    });
    grantSageMakerSyncJob(this.stateMachine, this, {
      resource: 'processing-job',
      actions: ['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob'],
      namePrefix: jobNamePrefix,
      ruleName: 'StepFunctionsGetEventsForSageMakerProcessingJobsRule',
    });
    grantPassRoleToSageMaker(this.stateMachine, this.executionRole, this.evaluationRole, this.registrationRole);
  }

  /** The EventBridge rule that starts a run when `<processed><run>/<marker>` is written (none when the marker is false). */
  private startOnProcessedData({ dataLake, startOnDataMarker }: TrainingJobProps): void {
    const marker = startOnDataMarker ?? TRAINING_JOB_DEFAULTS.startOnDataMarker;
    if (marker === false) return;
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

  private validate(props: TrainingJobProps): void {
    const v = new PropsValidator(this, props.configFile);
    this.validateInstanceType(v, props);
    const count = props.instanceCount ?? TRAINING_JOB_DEFAULTS.instanceCount;
    v.checkResolved(count, (n) => Number.isInteger(n) && n >= 1, 'instanceCount', 'aws.training.instance_count', `must be a whole number >= 1, found ${count}`);
    this.validateTimeLimits(v, props);
    const volume = props.volumeSizeGb ?? TRAINING_JOB_DEFAULTS.volumeSizeGb;
    v.checkResolved(
      volume,
      (gb) => Number.isInteger(gb) && gb >= 1 && gb <= SAGEMAKER_LIMITS.volumeSizeGb,
      'volumeSizeGb',
      'aws.training.volume_size_gb',
      `must be 1-${SAGEMAKER_LIMITS.volumeSizeGb} GB, found ${volume}`,
    );
    checkJobNamePrefix(v, props.jobNamePrefix, SAGEMAKER_LIMITS.jobNamePrefixLength, 'SageMaker job names are at most 63 characters');
    const evalType = props.evaluationInstanceType ?? TRAINING_JOB_DEFAULTS.evaluationInstanceType;
    v.checkResolved(evalType, isSageMakerInstanceType, 'evaluationInstanceType', 'evaluationInstanceType', `"${evalType}" is not a SageMaker instance type`);
    for (const [name, value] of Object.entries(sageMakerTrainingEnvironment(props.launchContext))) {
      const max = SAGEMAKER_LIMITS.environmentValueLength;
      v.check(value.length <= max, 'launchContext', name, `SageMaker accepts environment values of at most ${max} characters, found ${value.length}`);
    }
    for (const [k, value] of Object.entries(props.hyperparameters ?? TRAINING_JOB_DEFAULTS.hyperparameters)) {
      const max = SAGEMAKER_LIMITS.hyperparameterValueLength;
      v.check(value.length <= max, 'hyperparameters', `pipeline.training_params.${k}`, `SageMaker accepts hyperparameter values of at most ${max} characters, found ${value.length}`);
    }
    v.throwIfInvalid();
  }

  /** The training type exists, has a GPU when required and is not burstable. */
  private validateInstanceType(v: PropsValidator, props: TrainingJobProps): void {
    const type = props.instanceType;
    if (Token.isUnresolved(type)) return;
    v.check(isSageMakerInstanceType(type), 'instanceType', 'aws.training.instance_type', `"${type}" is not a SageMaker instance type such as ml.g5.xlarge`);
    if (isSageMakerInstanceType(type)) {
      v.check(
        !(props.requireGpu ?? TRAINING_JOB_DEFAULTS.requireGpu) || isGpuInstanceType(type),
        'instanceType',
        'aws.training.instance_type',
        `"${type}" has no GPU but aws.training.require_gpu is true: use an ml.g* or ml.p* type (e.g. ml.g5.xlarge) or set require_gpu to false`,
      );
      v.check(!isBurstableInstanceType(type), 'instanceType', 'aws.training.instance_type', `"${type}" is burstable; SageMaker training does not offer ml.t* types`);
    }
  }

  private validateTimeLimits(v: PropsValidator, props: TrainingJobProps): void {
    const runtime = (props.maxRuntime ?? TRAINING_JOB_DEFAULTS.maxRuntime).toSeconds();
    const max = SAGEMAKER_LIMITS.maxRuntimeSeconds;
    v.check(runtime >= 1 && runtime <= max, 'maxRuntime', 'aws.training.max_runtime_seconds', `must be 1 s to 28 days (SageMaker's limit), found ${runtime} s`);
    if (props.maxWait === undefined) return;
    v.check(props.spot === true, 'maxWait', 'aws.training.max_wait_seconds', 'only applies to spot training: set aws.training.spot to true or remove max_wait_seconds');
    v.check(
      props.maxWait.toSeconds() >= runtime,
      'maxWait',
      'aws.training.max_wait_seconds',
      `must be >= max_runtime_seconds (${runtime}), found ${props.maxWait.toSeconds()}`,
    );
  }
}
