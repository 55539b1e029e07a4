import { Construct, type IConstruct } from 'constructs';
import { Annotations, Aspects, TerraformOutput, TerraformResource, TerraformStack, type IAspect } from 'cdktf';
import { dependable } from 'cdktf/lib/tfExpression';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret';
import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member';
import { SecretManagerSecretVersion } from '@cdktf/provider-google/lib/secret-manager-secret-version';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig, ParserConfig, PipelineConfig, WithCloud } from '../../config/schema';
import {
  SECRET_PLACEHOLDER_PREFIX,
  bucketTrainingLaunch,
  ingestionLaunch,
  registryServingLaunch,
  type LaunchContext,
} from '../../runtime/contract/env';
import { gcpNames, type GcpNames } from '../../runtime/contract/gcp-names';
import { bucketUri, storagePaths, type StoragePaths } from '../../runtime/contract/layout';
import { applyBackend, chooseBackend } from '../cdktf/backend';
import { deployedTokenEnv, pinnedModelVersion } from '../cdktf/ingestion';
import { PlatformLimitError } from '../cdktf/limits';
import { toUnixCron } from '../cdktf/schedule';
import { GpuTrainingJob, ScheduledIngestion } from './jobs';
import { gcpLimitProblems } from './limits';
import { ServingAlerts } from './monitoring';
import { ImageRepository } from './registry';
import { ServingService, type CanaryTraffic } from './serving';
import { DataBucket } from './storage';

/** APIs the stack's resources need, by the resource types that need them. */
export const GCP_APIS = {
  'artifactregistry.googleapis.com': ['google_artifact_registry_'],
  'cloudscheduler.googleapis.com': ['google_cloud_scheduler_'],
  'iam.googleapis.com': ['google_service_account'],
  'monitoring.googleapis.com': ['google_monitoring_'],
  'run.googleapis.com': ['google_cloud_run_'],
  'secretmanager.googleapis.com': ['google_secret_manager_'],
  'storage.googleapis.com': ['google_storage_'],
} as const;

export interface GcpMlStackProps {
  pipeline: PipelineConfig;
  /** parser.json: its ingestion.auth.token_env decides whether the stack declares the API secret. */
  parser: ParserConfig;
  env: EnvironmentConfig;
  /** Canary split for the serving service. @default none: all traffic on the latest revision */
  servingCanary?: CanaryTraffic;
  /** Environment variables that choose the state backend (see infra/cdktf/backend.ts). @default process.env */
  backendEnv?: NodeJS.ProcessEnv;
}

/** First version of the API secret, which the runtime refuses; the operator adds the token as a newer version. */
export function apiSecretPlaceholder(secretId: string): string {
  return `${SECRET_PLACEHOLDER_PREFIX}: gcloud secrets versions add ${secretId} --data-file=-`;
}

/**
 * Makes each resource wait for the APIs its type needs, so a fresh project deploys in one apply.
 * depends_on takes static references (`google_project_service.api-run`), which cdktf writes for a
 * dependable token; an interpolation string (`${...}`) is rejected by `terraform init`.
 */
class AfterApis implements IAspect {
  /** Synthesizing twice (a test, then the app) visits a node twice; its dependencies are added once. */
  private readonly visited = new WeakSet<IConstruct>();

  constructor(private readonly apis: Map<string, ProjectService>) {}

  visit(node: IConstruct): void {
    if (!(node instanceof TerraformResource) || node instanceof ProjectService || this.visited.has(node)) return;
    this.visited.add(node);
    const needed = [...this.apis.entries()]
      .filter(([service]) => GCP_APIS[service as keyof typeof GCP_APIS].some((prefix) => node.terraformResourceType.startsWith(prefix)))
      .map(([, api]) => api);
    const apis = needed.length > 0 ? needed : [...this.apis.values()];
    node.dependsOn = [...(node.dependsOn ?? []), ...apis.map((api) => dependable(api))];
  }
}

/**
 * `cdktf deploy gcp-<env>`: storage, image registry, GPU training, and, when config asks for them,
 * scheduled ingestion (ingestion_source) and serving with alerts (a pinned model_version).
 */
export class GcpMlStack extends TerraformStack {
  readonly names: GcpNames;
  readonly dataBucket: DataBucket;
  readonly images: ImageRepository;
  readonly training: GpuTrainingJob;
  /** Undefined when the environment sets no ingestion_source. */
  readonly ingestion?: ScheduledIngestion;
  /** Undefined when no model version is pinned. */
  readonly serving?: ServingService;
  readonly alerts?: ServingAlerts;
  /** Terraform addresses to apply before images are pushed (`terraform apply -target=...`). */
  readonly registryTargets: string[];

  constructor(scope: Construct, id: string, props: GcpMlStackProps) {
    super(scope, id);
    const { pipeline } = props;
    const env = requireCloud(props.env, 'gcp');
    const gcp = env.gcp;
    this.names = gcpNames(pipeline, env);
    const limits = gcpLimitProblems(env);
    if (limits.length > 0) throw new PlatformLimitError(limits);
    const tokenEnv = deployedTokenEnv(props.parser);
    // managed_by, not managed-by: `cdktf synth --hcl` rewrites dashed keys in the provider block.
    const labels = { project: pipeline.project, environment: env.name, managed_by: 'cdktf' };
    const ctx: LaunchContext = { cloud: 'gcp', envName: env.name, project: pipeline.project, bucket: bucketUri(env, 'gcp') };
    const paths = storagePaths(env, 'gcp');

    applyBackend(this, chooseBackend(id, props.backendEnv));
    new GoogleProvider(this, 'google', { project: gcp.project_id, region: gcp.region, defaultLabels: labels });
    const apis = new Map(
      Object.keys(GCP_APIS).map((service) => [service, new ProjectService(this, `api-${service.split('.')[0]}`, { service, disableOnDestroy: false })]),
    );
    Aspects.of(this).add(new AfterApis(apis));
    const member = (sa: ServiceAccount) => `serviceAccount:${sa.email}`;

    this.dataBucket = new DataBucket(this, 'data', { name: this.names.bucket, env, labels });
    this.images = new ImageRepository(this, 'images', {
      repositoryId: this.names.artifactRepository,
      projectId: gcp.project_id,
      region: gcp.region,
      labels,
    });
    this.registryTargets = [`${this.images.repository.terraformResourceType}.${this.images.repository.friendlyUniqueId}`];

    // Training reads processed data, writes checkpoints, its package and state, and registers the version.
    const trainingAccount = this.serviceAccount('sa-training', this.names.serviceAccounts.training, 'GPU training job');
    this.dataBucket.grantPrefixes('training-reads', member(trainingAccount), 'roles/storage.objectViewer', [paths.processed]);
    this.dataBucket.grantPrefixes('training-writes', member(trainingAccount), 'roles/storage.objectUser', [
      paths.models,
      paths.checkpoints,
      paths.state,
      paths.registry,
    ]);
    this.images.grantPull('training-pulls', member(trainingAccount));
    this.training = new GpuTrainingJob(this, 'training', {
      name: this.names.trainingJob,
      env,
      image: this.images.imageUri('training-gpu', gcp.image_tag),
      serviceAccountEmail: trainingAccount.email,
      launch: bucketTrainingLaunch(ctx),
      labels,
    });

    const source = env.ingestion_source;
    if (source) {
      this.ingestion = this.declareIngestion({ env, ctx, source, tokenEnv, labels, paths, member });
    } else {
      Annotations.of(this).addWarning(
        `No ingestion_source is set for ${env.name}, so no scheduled ingestion is declared. ` +
          `Set ingestion_source in config/environments/${env.name}.json to ingest on ${env.ingestion_schedule}.`,
      );
    }

    const modelVersion = pinnedModelVersion(env);
    if (modelVersion) {
      const servingAccount = this.serviceAccount('sa-serving', this.names.serviceAccounts.serving, 'serving service');
      this.dataBucket.grantPrefixes('serving-reads', member(servingAccount), 'roles/storage.objectViewer', [paths.models, paths.registry]);
      this.images.grantPull('serving-pulls', member(servingAccount));
      this.serving = new ServingService(this, 'serving', {
        name: this.names.servingService,
        env,
        image: this.images.imageUri('serving', gcp.image_tag),
        serviceAccountEmail: servingAccount.email,
        launch: registryServingLaunch(ctx, modelVersion),
        labels,
        canary: props.servingCanary,
      });
      this.alerts = new ServingAlerts(this, 'alerts', { serviceName: this.names.servingService, envName: env.name, alarmEmail: env.alarm_email });
      new TerraformOutput(this, 'serving_url', { value: this.serving.service.uri });
    } else {
      Annotations.of(this).addWarning(
        `No model_version is pinned for ${env.name}${env.model_version === 'latest' ? ' ("latest" is not a pin)' : ''}, ` +
          `so serving service ${this.names.servingService} is not declared. ` +
          `Run \`mlstack promote --model <version> --to ${env.name}\` and deploy again.`,
      );
    }

    new TerraformOutput(this, 'data_bucket', { value: ctx.bucket });
    new TerraformOutput(this, 'image_repository', { value: this.images.host });
    new TerraformOutput(this, 'training_job', { value: this.names.trainingJob });
  }

  private declareIngestion(args: {
    env: WithCloud<'gcp'>;
    ctx: LaunchContext;
    source: string;
    tokenEnv: string | undefined;
    labels: Record<string, string>;
    paths: StoragePaths;
    member: (sa: ServiceAccount) => string;
  }): ScheduledIngestion {
    const { env, ctx, source, tokenEnv, labels, paths, member } = args;
    const gcp = env.gcp;
    const account = this.serviceAccount('sa-ingestion', this.names.serviceAccounts.ingestion, 'ingestion job');
    const scheduler = this.serviceAccount('sa-scheduler', this.names.serviceAccounts.scheduler, 'Cloud Scheduler: runs the ingestion job');
    this.dataBucket.grantPrefixes('ingestion-writes', member(account), 'roles/storage.objectUser', [paths.raw, paths.processed, paths.state]);
    this.images.grantPull('ingestion-pulls', member(account));
    // After a complete run the ingestion container runs the training job with the run's data as an override.
    this.training.grantRunWithOverrides('ingestion-runs-training', member(account));
    const apiSecret = tokenEnv ? this.declareApiSecret(member(account), labels, env.retain_on_delete) : undefined;
    const job = `projects/${gcp.project_id}/locations/${gcp.region}/jobs/${this.names.trainingJob}`;
    const ingestion = new ScheduledIngestion(this, 'ingestion', {
      name: this.names.ingestionJob,
      schedulerName: this.names.schedulerJob,
      schedule: toUnixCron(env.ingestion_schedule),
      env,
      image: this.images.imageUri('ingestion', gcp.image_tag),
      serviceAccountEmail: account.email,
      schedulerServiceAccountEmail: scheduler.email,
      launch: ingestionLaunch(ctx, source, tokenEnv, { kind: 'cloud-run-job', job }),
      apiSecretId: apiSecret ? this.names.apiSecret : undefined,
      // Cloud Run checks at deploy time that the job's account can read the secret.
      dependsOn: apiSecret ? [apiSecret.access] : undefined,
      labels,
    });
    new TerraformOutput(this, 'ingestion_job', { value: this.names.ingestionJob });
    return ingestion;
  }

  /** The API token's secret, readable by the ingestion account only; the job waits for `access`. */
  private declareApiSecret(ingestionMember: string, labels: Record<string, string>, retain: boolean): { access: SecretManagerSecretIamMember } {
    const secret = new SecretManagerSecret(this, 'api-secret', {
      secretId: this.names.apiSecret,
      replication: { auto: {} },
      labels,
      deletionProtection: retain,
    });
    // A placeholder first version lets the job deploy; the operator adds the real token as a newer version,
    // which "latest" then resolves to. Terraform ignores later changes.
    new SecretManagerSecretVersion(this, 'api-secret-placeholder', {
      secret: secret.id,
      secretData: apiSecretPlaceholder(this.names.apiSecret),
      deletionPolicy: 'ABANDON',
      lifecycle: { ignoreChanges: ['secret_data', 'enabled'] },
    });
    const access = new SecretManagerSecretIamMember(this, 'api-secret-ingestion', {
      secretId: secret.id,
      role: 'roles/secretmanager.secretAccessor',
      member: ingestionMember,
    });
    return { access };
  }

  private serviceAccount(id: string, accountId: string, purpose: string): ServiceAccount {
    return new ServiceAccount(this, id, { accountId, displayName: `mlstack ${purpose}` });
  }
}
