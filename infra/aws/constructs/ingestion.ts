import { SecretValue, TimeZone, Token, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV, SECRET_PLACEHOLDER_PREFIX, type ContainerLaunch } from '../../../runtime/contract/env';
import { removalPolicyFor } from '../retention';
import { PropsValidator } from '../validation';
import type { DataLake } from './data-lake';
import type { ImageReference } from './registry';

/** The secret's value until an operator stores the token: the runtime refuses it (isSecretPlaceholder). */
export function secretPlaceholder(secretName: string): string {
  return `${SECRET_PLACEHOLDER_PREFIX}: aws secretsmanager put-secret-value --secret-id ${secretName} --secret-string <token>`;
}

export interface IngestionProps {
  /** The data lake the task writes raw and processed data and its watermark state to. */
  readonly dataLake: DataLake;
  /** The ingestion image. */
  readonly image: ImageReference;
  /** VPC the task runs in. */
  readonly vpc: ec2.IVpc;
  /** Subnets the task runs in (it calls the source API, so they need egress). @default - private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** EventBridge Scheduler expression, in UTC (config `ingestion_schedule`), e.g. `cron(0 2 * * ? *)`. */
  readonly schedule: string;
  /**
   * How the container starts (ingestionLaunch in runtime/contract/env.ts): `args` become the
   * command, `env` plain variables, and each `secretEnv` variable is filled with the whole
   * value of the API token secret.
   */
  readonly launch: ContainerLaunch;
  /**
   * The secret holding the API token itself (not JSON).
   * @default - a new secret named `secretName` holding a placeholder until an operator stores the token
   */
  readonly apiSecret?: secretsmanager.ISecret;
  /**
   * Name of the secret created when apiSecret is not given (awsNames(...).ingestionSecret).
   * @default - none: required when a token is injected and no apiSecret is given
   */
  readonly secretName?: string;
  /**
   * parser.json `ingestion.auth.token_file`: a mounted file is not how ECS passes secrets here,
   * so it is refused unless token_env is set too. @default - none
   */
  readonly tokenFile?: string;
  /** Fargate task CPU units. @default 1024 */
  readonly cpu?: number;
  /** Fargate task memory (MiB). @default 2048 */
  readonly memoryLimitMiB?: number;
  /** Turn the schedule off (the task can still be run by hand). @default true */
  readonly enabled?: boolean;
  /** Keep the log group and the created secret on stack deletion. @default true */
  readonly retainOnDelete?: boolean;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/** What Ingestion uses for each omitted prop; its validation checks the same values. */
export const INGESTION_DEFAULTS = {
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } as ec2.SubnetSelection,
  cpu: 1024,
  memoryLimitMiB: 2048,
  enabled: true,
  retainOnDelete: true,
} as const;

/** EventBridge Scheduler expressions: cron (6 fields), rate or a one-off at(). */
const SCHEDULE_EXPRESSION = /^(cron\(\S+( \S+){5}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\))$/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/** Valid Fargate cpu -> memory (MiB) combinations (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html). */
const FARGATE_MEMORY: Record<number, [number, number]> = {
  256: [512, 2048],
  512: [1024, 4096],
  1024: [2048, 8192],
  2048: [4096, 16_384],
  4096: [8192, 30_720],
};

/**
 * Scheduled ingestion: EventBridge Scheduler runs the ingestion image as a
 * Fargate task in private subnets, started exactly as `launch` says; the task
 * writes raw and processed data and its watermark state to the data lake. The
 * source API token, when the source needs one, comes from Secrets Manager
 * (never from a plain environment variable).
 */
export class Ingestion extends Construct {
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly schedule: scheduler.Schedule;
  /** Undefined when the launch injects no token. */
  readonly apiSecret?: secretsmanager.ISecret;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    this.validate(props);
    const removalPolicy = removalPolicyFor(props.retainOnDelete ?? INGESTION_DEFAULTS.retainOnDelete);
    if (tokenVariables(props.launch).length > 0) this.apiSecret = props.apiSecret ?? this.createSecret(props.secretName!, props.dataLake, removalPolicy);
    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy });
    this.taskDefinition = this.createTaskDefinition(props);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Scheduled ingestion task: outbound only (source API, S3)',
      allowAllOutbound: true,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Runs the ingestion task',
      schedule: scheduler.ScheduleExpression.expression(props.schedule, TimeZone.ETC_UTC),
      enabled: props.enabled ?? INGESTION_DEFAULTS.enabled,
      target: new schedulerTargets.EcsRunFargateTask(this.cluster, {
        taskDefinition: this.taskDefinition,
        vpcSubnets: props.vpcSubnets ?? INGESTION_DEFAULTS.vpcSubnets,
        securityGroups: [this.securityGroup],
        assignPublicIp: false,
      }),
    });
  }

  /** The Fargate task: the image started exactly as `launch` says, reading and writing its prefixes of the data lake. */
  private createTaskDefinition(props: IngestionProps): ecs.FargateTaskDefinition {
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? INGESTION_DEFAULTS.cpu,
      memoryLimitMiB: props.memoryLimitMiB ?? INGESTION_DEFAULTS.memoryLimitMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const secret = this.apiSecret;
    task.addContainer('ingestion', {
      image: ecs.ContainerImage.fromRegistry(props.image.imageUri),
      command: props.launch.args,
      environment: props.launch.env,
      // The secret holds the token itself, so the whole value is injected (no JSON field).
      secrets: secret ? Object.fromEntries(tokenVariables(props.launch).map((name) => [name, ecs.Secret.fromSecretsManager(secret)])) : undefined,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'ingestion' }),
      readonlyRootFilesystem: false,
    });
    Validations.of(task).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'Only non-secret run settings (environment, cloud, bucket, project, source URL) are plain variables; the API token comes from Secrets Manager.',
    });
    props.image.grantPull(task.obtainExecutionRole());
    props.dataLake.grantReadWrite(task.taskRole, 'raw', 'processed', 'state');
    return task;
  }

  /** Lets the grantee read the source API token (e.g. a one-off backfill job). */
  grantReadSecret(grantee: iam.IGrantable): iam.Grant {
    if (!this.apiSecret) throw new Error(`${this.node.path} injects no API token (parser.json sets no ingestion.auth.token_env), so there is no secret to grant`);
    return this.apiSecret.grantRead(grantee);
  }

  private createSecret(secretName: string, dataLake: DataLake, removalPolicy: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'ApiSecret', {
      secretName,
      description: `Token for the ingestion source API (the token itself, not JSON); replace the placeholder after the first deploy`,
      // A placeholder, not a secret: the runtime refuses it with a message naming this command.
      secretStringValue: SecretValue.unsafePlainText(secretPlaceholder(secretName)),
      encryptionKey: dataLake.encryptionKey,
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A third-party API token cannot be rotated by a Lambda here; the provider issues it and an operator replaces it.',
    });
    return secret;
  }

  private validate(props: IngestionProps): void {
    const v = new PropsValidator(this, props.configFile);
    const scheduleExample = '"cron(0 2 * * ? *)" (6 fields) or "rate(1 day)"';
    v.checkPattern(props.schedule, SCHEDULE_EXPRESSION, 'schedule', 'ingestion_schedule', `"${props.schedule}" is not an EventBridge Scheduler expression such as ${scheduleExample}`);
    this.validateToken(v, props);
    v.check(ENV.source in props.launch.env, 'launch', 'ingestion_source', `the launch sets no ${ENV.source}: the task would have nothing to ingest`);
    const cpu = props.cpu ?? INGESTION_DEFAULTS.cpu;
    const memory = props.memoryLimitMiB ?? INGESTION_DEFAULTS.memoryLimitMiB;
    const range = FARGATE_MEMORY[cpu];
    v.check(range !== undefined, 'cpu', 'cpu', `Fargate accepts ${Object.keys(FARGATE_MEMORY).join(', ')} CPU units, found ${cpu}`);
    if (range) {
      v.check(memory >= range[0] && memory <= range[1], 'memoryLimitMiB', 'memoryLimitMiB', `with ${cpu} CPU units Fargate accepts ${range[0]}-${range[1]} MiB, found ${memory}`);
    }
    v.throwIfInvalid();
  }

  /** At most one token variable, filled only from the secret, and a secret to fill it from. */
  private validateToken(v: PropsValidator, props: IngestionProps): void {
    const names = tokenVariables(props.launch);
    const key = 'ingestion.auth.token_env (parser.json)';
    v.check(
      props.tokenFile === undefined || names.length > 0,
      'tokenFile',
      'ingestion.auth.token_file (parser.json)',
      `"${props.tokenFile}": on AWS the ingestion task receives the API token from Secrets Manager as an environment variable, not a file; set ingestion.auth.token_env (e.g. "SOURCE_API_TOKEN") instead`,
    );
    for (const name of names) {
      v.check(VARIABLE_NAME.test(name), 'launch.secretEnv', key, `"${name}" is not an environment variable name`);
      v.check(!(name in props.launch.env), 'launch', key, `${name} comes from the secret; it must not also be a plain variable`);
    }
    v.check(names.length <= 1, 'launch.secretEnv', key, `one API token secret is declared, found ${names.length} token variables`);
    v.check(
      names.length === 0 || props.apiSecret !== undefined || (props.secretName !== undefined && (Token.isUnresolved(props.secretName) || SECRET_NAME.test(props.secretName))),
      'secretName',
      'project (pipeline.json) + environment',
      `"${props.secretName}" must be a Secrets Manager name (1-512 letters, digits and /_+=.@-) when no apiSecret is given`,
    );
  }
}

/** The variables the launch fills from the API token secret. */
function tokenVariables(launch: ContainerLaunch): string[] {
  return Object.keys(launch.secretEnv);
}
