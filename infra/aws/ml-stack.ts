import * as path from 'node:path';
import { Annotations, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { requireCloud } from '../../config/load';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';
import { awsNames } from '../../runtime/contract/aws-names';
import { ingestionLaunch, type LaunchContext } from '../../runtime/contract/env';
import { bucketUri, storagePaths } from '../../runtime/contract/layout';
import { awsStackName } from '../../runtime/contract/stack-names';
import { displayPath, environmentFile } from './config-files';
import { DataLake } from './constructs/data-lake';
import { HyperparameterTuning } from './constructs/hyperparameter-tuning';
import { Ingestion } from './constructs/ingestion';
import { ModelEndpoint } from './constructs/model-endpoint';
import { Monitoring } from './constructs/monitoring';
import { Registry } from './constructs/registry';
import { TrainingJob } from './constructs/training-job';
import { acknowledgeJustifiedWildcards, type WildcardJustification } from './nag';

export interface MlStackProps extends StackProps {
  /** The validated project configuration (config/load.ts). */
  readonly project: ProjectConfig;
  /** Which environments/<env>.json this stack declares. */
  readonly environment: EnvironmentName;
  /** Docker build context of the images. @default - the current working directory */
  readonly buildContext?: string;
}

/** The stack name of an environment: `MlStack-<env>`. */
export const stackName = awsStackName;

/** Wildcards left after least-privilege scoping, each with the reason it cannot be narrower. */
const WILDCARD_JUSTIFICATIONS: WildcardJustification[] = [
  {
    finding: /^Resource::<\w*DataLakeBucket\w*\.Arn>\/[A-Za-z0-9._/-]+\/\*$/,
    reason: 'Object access is limited to one data-lake prefix; the keys below it (run ids, model versions) are created at run time.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:logs:[^:]+:<AWS::AccountId>:log-group:\/aws\/sagemaker\/\w+\*$/,
    reason: 'SageMaker writes one log group per job kind and one stream per job, named at run time.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:sagemaker:[^:]+:<AWS::AccountId>:(training-job|processing-job|hyper-parameter-tuning-job)\/[a-z0-9-]+\*$/,
    reason: 'Job names are generated per run under this stack-owned prefix.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:sagemaker:[^:]+:<AWS::AccountId>:model-package\/[A-Za-z0-9-]+\/\*$/,
    reason: 'Model versions are created at run time inside this stack’s model package group.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:ec2:[^:]+:<AWS::AccountId>:network-interface\/\*$/,
    reason: 'SageMaker creates the job’s network interfaces at run time; deletion is limited to this VPC by an ec2:Vpc condition.',
  },
];

/**
 * Everything one environment needs on AWS: data lake, model registry and images,
 * training and tuning pipelines, scheduled ingestion, the endpoint for the
 * pinned model version, alarms and a dashboard. All per-environment values
 * come from config/environments/<env>.json. The ECR repositories are in the
 * registry stack (RegistryStack, deployed first); this stack refers to them by name.
 */
export class MlStack extends Stack {
  readonly dataLake: DataLake;
  readonly registry: Registry;
  readonly trainingJob: TrainingJob;
  readonly tuning?: HyperparameterTuning;
  /** Undefined when the environment sets no ingestion_source. */
  readonly ingestion?: Ingestion;
  readonly modelEndpoint: ModelEndpoint;
  readonly monitoring: Monitoring;
  readonly vpc: ec2.Vpc;
  /** IAM5 findings no justification covers (left for cdk-nag to report). */
  readonly unjustifiedWildcards: string[];

  constructor(scope: Construct, id: string, props: MlStackProps) {
    const env = requireCloud(props.project.environments[props.environment], 'aws');
    const aws = env.aws;
    super(scope, id, {
      ...props,
      env: { region: aws.region, account: aws.account },
      description: `mlstack ${props.environment}: data lake, training, tuning, ingestion and serving for ${props.project.pipeline.project}`,
    });
    const { pipeline, parser } = props.project;
    const configFile = environmentFile(props.project, props.environment);
    const parserFile = displayPath(path.join(props.project.dir, 'parser.json'));
    const names = awsNames(pipeline, props.environment);
    const launchContext: LaunchContext = { cloud: 'aws', envName: props.environment, project: pipeline.project, bucket: bucketUri(env, 'aws') };
    const retainOnDelete = env.retain_on_delete;
    // cfn-lint 1.51's resource schemas do not know Tags on these types yet (aws-cdk-lib 2.276 emits them).
    const untaggable = { excludeResourceTypes: ['AWS::CloudWatch::Dashboard', 'AWS::ApplicationAutoScaling::ScalableTarget'] };
    Tags.of(this).add('project', pipeline.project, untaggable);
    Tags.of(this).add('environment', props.environment, untaggable);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'VpcFlowLogs', { retention: logs.RetentionDays.ONE_MONTH })),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });

    this.dataLake = new DataLake(this, 'DataLake', {
      bucketName: aws.storage.bucket,
      prefixes: storagePaths(env, 'aws'),
      retainOnDelete,
      configFile,
    });

    this.registry = new Registry(this, 'Registry', {
      repositoryNames: names.repositories,
      modelPackageGroupName: names.modelPackageGroup,
      imageTag: aws.image_tag,
      buildContext: props.buildContext,
      retainOnDelete,
      configFile,
    });

    // The container reads its environment (require_gpu) from the job's Environment, not a hyperparameter.
    const hyperparameters = Object.fromEntries(
      Object.entries(pipeline.training_params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
    this.trainingJob = new TrainingJob(this, 'Training', {
      dataLake: this.dataLake,
      registry: this.registry,
      vpc: this.vpc,
      launchContext,
      jobNamePrefix: names.trainingJobPrefix,
      instanceType: aws.training.instance_type,
      instanceCount: aws.training.instance_count,
      requireGpu: aws.training.require_gpu,
      spot: aws.training.spot,
      maxRuntime: Duration.seconds(aws.training.max_runtime_seconds),
      maxWait: aws.training.max_wait_seconds === undefined ? undefined : Duration.seconds(aws.training.max_wait_seconds),
      volumeSizeGb: aws.training.volume_size_gb,
      hyperparameters,
      retainOnDelete,
      configFile,
    });

    if (pipeline.tuning) {
      this.tuning = new HyperparameterTuning(this, 'Tuning', {
        trainingJob: this.trainingJob,
        dataLake: this.dataLake,
        jobNamePrefix: names.tuningJobPrefix,
        searchSpace: pipeline.tuning.search_space,
        trials: pipeline.tuning.trials,
        metric: pipeline.tuning.metric,
        strategy: pipeline.tuning.strategy,
        epochsPerTrial: { min: pipeline.tuning.min_epochs, max: pipeline.training_params.epochs },
        retainOnDelete,
        configFile,
      });
    }

    const auth = parser.ingestion.auth;
    if (env.ingestion_source === undefined) {
      Annotations.of(this).addWarningV2(
        '@mlstack/aws:noIngestionSource',
        `No ingestion_source in ${configFile}, so no scheduled ingestion is declared. Set ingestion_source ` +
          '(an https://, s3://, postgres:// or mysql:// URL) there and deploy again.',
      );
    } else {
      this.ingestion = new Ingestion(this, 'Ingestion', {
        dataLake: this.dataLake,
        image: this.registry.image('ingestion'),
        vpc: this.vpc,
        schedule: env.ingestion_schedule,
        launch: ingestionLaunch(launchContext, env.ingestion_source, auth?.token_env),
        tokenFile: auth?.token_file,
        secretName: names.ingestionSecret,
        retainOnDelete,
        // The schedule comes from the environment file, the token settings from parser.json.
        configFile: `${configFile} / ${parserFile}`,
      });
    }

    this.modelEndpoint = new ModelEndpoint(this, 'Serving', {
      dataLake: this.dataLake,
      image: this.registry.image('serving'),
      modelVersion: env.model_version,
      project: pipeline.project,
      endpointName: names.endpoint,
      instanceType: aws.serving.instance_type,
      autoscaling: {
        minCapacity: aws.serving.autoscaling.min_capacity,
        maxCapacity: aws.serving.autoscaling.max_capacity,
        invocationsPerInstance: aws.serving.autoscaling.target_value,
      },
      dataCapturePercent: aws.data_capture_percent,
      vpc: this.vpc,
      configFile,
    });

    this.monitoring = new Monitoring(this, 'Monitoring', { dashboardName: names.dashboard, alarmEmail: env.alarm_email, configFile });
    for (const alarm of this.modelEndpoint.rollbackAlarms) this.monitoring.addAlarm(alarm);
    this.monitoring.addWidgets(...this.modelEndpoint.widgets());
    this.monitoring.monitorStateMachine('Training', 'Training pipeline', this.trainingJob.stateMachine);
    if (this.tuning) this.monitoring.monitorStateMachine('Tuning', 'Hyperparameter tuning', this.tuning.stateMachine);

    this.unjustifiedWildcards = acknowledgeJustifiedWildcards(this, WILDCARD_JUSTIFICATIONS);
  }
}
