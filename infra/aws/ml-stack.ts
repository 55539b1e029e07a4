import * as path from 'node:path';
import { Annotations, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { requireCloud } from '../../config/load';
import { searchParameters, type EnvironmentName, type ParserConfig, type PipelineConfig, type ProjectConfig, type WithCloud } from '../../config/schema';
import { awsNames, type AwsNames } from '../../runtime/contract/aws-names';
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

/** What every step of MlStack reads: the environment's config and the names derived from it. */
interface StackInputs {
  readonly env: WithCloud<'aws'>;
  readonly pipeline: PipelineConfig;
  readonly parser: ParserConfig;
  readonly names: AwsNames;
  readonly launchContext: LaunchContext;
  /** environments/<env>.json as errors show it. */
  readonly configFile: string;
  /** parser.json as errors show it. */
  readonly parserFile: string;
  readonly buildContext?: string;
}

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
    super(scope, id, {
      ...props,
      env: { region: env.aws.region, account: env.aws.account },
      description: `mlstack ${props.environment}: data lake, training, tuning, ingestion and serving for ${props.project.pipeline.project}`,
    });
    const inputs = stackInputs(props, env);
    this.addTags(inputs);
    this.vpc = this.createVpc();
    this.dataLake = this.createDataLake(inputs);
    this.registry = this.createRegistry(inputs);
    this.trainingJob = this.createTrainingJob(inputs);
    this.tuning = this.createTuning(inputs);
    this.ingestion = this.createIngestion(inputs);
    this.modelEndpoint = this.createModelEndpoint(inputs);
    this.monitoring = this.createMonitoring(inputs);
    this.unjustifiedWildcards = acknowledgeJustifiedWildcards(this, WILDCARD_JUSTIFICATIONS);
  }

  private addTags({ pipeline, launchContext }: StackInputs): void {
    // cfn-lint 1.51's resource schemas do not know Tags on these types yet (aws-cdk-lib 2.276 emits them).
    const untaggable = { excludeResourceTypes: ['AWS::CloudWatch::Dashboard', 'AWS::ApplicationAutoScaling::ScalableTarget'] };
    Tags.of(this).add('project', pipeline.project, untaggable);
    Tags.of(this).add('environment', launchContext.envName, untaggable);
  }

  /** Two AZs, one NAT gateway, an S3 gateway endpoint and rejected-traffic flow logs. */
  private createVpc(): ec2.Vpc {
    return new ec2.Vpc(this, 'Vpc', {
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
  }

  private createDataLake({ env, pipeline, configFile }: StackInputs): DataLake {
    return new DataLake(this, 'DataLake', {
      bucketName: env.aws.storage.bucket,
      prefixes: storagePaths(env, 'aws', pipeline.project),
      retainOnDelete: env.retain_on_delete,
      configFile,
    });
  }

  private createRegistry({ env, names, configFile, buildContext }: StackInputs): Registry {
    return new Registry(this, 'Registry', {
      repositoryNames: names.repositories,
      modelPackageGroupName: names.modelPackageGroup,
      imageTag: env.aws.image_tag,
      buildContext,
      retainOnDelete: env.retain_on_delete,
      configFile,
    });
  }

  private createTrainingJob({ env, pipeline, names, launchContext, configFile }: StackInputs): TrainingJob {
    const training = env.aws.training;
    return new TrainingJob(this, 'Training', {
      dataLake: this.dataLake,
      registry: this.registry,
      vpc: this.vpc,
      launchContext,
      jobNamePrefix: names.trainingJobPrefix,
      instanceType: training.instance_type,
      instanceCount: training.instance_count,
      requireGpu: training.require_gpu,
      spot: training.spot,
      maxRuntime: Duration.seconds(training.max_runtime_seconds),
      maxWait: training.max_wait_seconds === undefined ? undefined : Duration.seconds(training.max_wait_seconds),
      volumeSizeGb: training.volume_size_gb,
      hyperparameters: staticHyperparameters(pipeline),
      retainOnDelete: env.retain_on_delete,
      configFile,
    });
  }

  /** Undefined when pipeline.json has no tuning section. */
  private createTuning({ env, pipeline, names, configFile }: StackInputs): HyperparameterTuning | undefined {
    const tuning = pipeline.tuning;
    if (!tuning) return undefined;
    return new HyperparameterTuning(this, 'Tuning', {
      trainingJob: this.trainingJob,
      dataLake: this.dataLake,
      jobNamePrefix: names.tuningJobPrefix,
      searchSpace: tuning.search_space,
      trials: tuning.trials,
      metric: tuning.metric,
      strategy: tuning.strategy,
      epochsPerTrial: { min: tuning.min_epochs, max: pipeline.training_params.epochs },
      retainOnDelete: env.retain_on_delete,
      configFile,
    });
  }

  /** Undefined, with a warning, when the environment sets no ingestion_source. */
  private createIngestion({ env, parser, names, launchContext, configFile, parserFile }: StackInputs): Ingestion | undefined {
    if (env.ingestion_source === undefined) {
      Annotations.of(this).addWarningV2(
        '@mlstack/aws:noIngestionSource',
        `No ingestion_source in ${configFile}, so no scheduled ingestion is declared. Set ingestion_source ` +
          '(an https://, s3://, postgres:// or mysql:// URL) there and deploy again.',
      );
      return undefined;
    }
    const auth = parser.ingestion.auth;
    return new Ingestion(this, 'Ingestion', {
      dataLake: this.dataLake,
      image: this.registry.image('ingestion'),
      vpc: this.vpc,
      schedule: env.ingestion_schedule,
      launch: ingestionLaunch(launchContext, env.ingestion_source, auth?.token_env),
      tokenFile: auth?.token_file,
      secretName: names.ingestionSecret,
      retainOnDelete: env.retain_on_delete,
      // The schedule comes from the environment file, the token settings from parser.json.
      configFile: `${configFile} / ${parserFile}`,
    });
  }

  private createModelEndpoint({ env, pipeline, names, configFile }: StackInputs): ModelEndpoint {
    const serving = env.aws.serving;
    return new ModelEndpoint(this, 'Serving', {
      dataLake: this.dataLake,
      image: this.registry.image('serving'),
      modelVersion: env.model_version,
      project: pipeline.project,
      endpointName: names.endpoint,
      instanceType: serving.instance_type,
      autoscaling: {
        minCapacity: serving.autoscaling.min_capacity,
        maxCapacity: serving.autoscaling.max_capacity,
        invocationsPerInstance: serving.autoscaling.target_value,
      },
      dataCapturePercent: env.aws.data_capture_percent,
      vpc: this.vpc,
      configFile,
    });
  }

  /** The alarm topic and dashboard: the endpoint's rollback alarms and both pipelines' executions. */
  private createMonitoring({ env, names, configFile }: StackInputs): Monitoring {
    const monitoring = new Monitoring(this, 'Monitoring', { dashboardName: names.dashboard, alarmEmail: env.alarm_email, configFile });
    for (const alarm of this.modelEndpoint.rollbackAlarms) monitoring.addAlarm(alarm);
    monitoring.addWidgets(...this.modelEndpoint.widgets());
    monitoring.monitorStateMachine('Training', 'Training pipeline', this.trainingJob.stateMachine);
    if (this.tuning) monitoring.monitorStateMachine('Tuning', 'Hyperparameter tuning', this.tuning.stateMachine);
    return monitoring;
  }
}

function stackInputs(props: MlStackProps, env: WithCloud<'aws'>): StackInputs {
  const { pipeline, parser } = props.project;
  return {
    env,
    pipeline,
    parser,
    names: awsNames(pipeline, props.environment),
    launchContext: { cloud: 'aws', envName: props.environment, project: pipeline.project, bucket: bucketUri(env, 'aws') },
    configFile: environmentFile(props.project, props.environment),
    parserFile: displayPath(path.join(props.project.dir, 'parser.json')),
    buildContext: props.buildContext,
  };
}

/**
 * The training_params the configured model type reads, as SageMaker hyperparameters (strings; other values as
 * JSON), flat the way the container takes them: a tree or linear model's block keys by name (the container
 * nests them back), the net's keys for neural_network and auto. The container reads its environment
 * (require_gpu) from the job's Environment, not a hyperparameter.
 */
function staticHyperparameters(pipeline: PipelineConfig): Record<string, string> {
  const params = pipeline.training_params as unknown as Record<string, unknown>;
  const type = pipeline.model_type === 'auto' ? 'neural_network' : pipeline.model_type;
  const block = type === 'gradient_boosting' ? 'gradient_boosting' : type === 'neural_network' ? undefined : 'linear';
  const values: Record<string, unknown> = block ? { ...params, ...(params[block] as Record<string, unknown>) } : params;
  return Object.fromEntries(Object.keys(searchParameters(type)).map((k) => [k, values[k]]).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}
