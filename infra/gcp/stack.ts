import { Construct, type IConstruct } from 'constructs';
import { Aspects, TerraformOutput, TerraformResource, TerraformStack, type IAspect } from 'cdktf';
import { dependable } from 'cdktf/lib/tfExpression';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret';
import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member';
import { SecretManagerSecretVersion } from '@cdktf/provider-google/lib/secret-manager-secret-version';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { requireCloud } from '../../config/load';
import { SECRET_PLACEHOLDER_PREFIX, bucketTrainingLaunch, ingestionLaunch, registryServingLaunch } from '../../runtime/contract/env';
import { gcpNames, type GcpNames } from '../../runtime/contract/gcp-names';
import { applyBackend, chooseBackend } from '../cdktf/backend';
import { assertWithinLimits } from '../cdktf/limits';
import { toUnixCron } from '../cdktf/schedule';
import { stackInputs, terraformAddress, warnNoIngestionSource, warnNoPinnedModel, type CdktfMlStackProps, type StackInputs } from '../cdktf/stack-inputs';
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

export interface GcpMlStackProps extends CdktfMlStackProps {
  /** Canary split for the serving service. @default - none: all traffic on the latest revision */
  readonly servingCanary?: CanaryTraffic;
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

/** The stack's service accounts; each exists only when what runs as it is declared. */
interface ServiceAccounts {
  readonly training: ServiceAccount;
  readonly ingestion?: ServiceAccount;
  readonly scheduler?: ServiceAccount;
  readonly serving?: ServiceAccount;
}

/** How IAM bindings name a service account. */
function member(account: ServiceAccount): string {
  return `serviceAccount:${account.email}`;
}

/**
 * `cdktf deploy gcp-<env>`: storage, image registry, GPU training, and, when config asks for them,
 * scheduled ingestion (ingestion_source) and serving with alerts (a pinned model_version).
 * Built from the same steps as AzureMlStack: provider, storage, registry, identities, training,
 * ingestion, serving, monitoring, outputs.
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

  private readonly accounts: ServiceAccounts;

  constructor(scope: Construct, id: string, props: GcpMlStackProps) {
    super(scope, id);
    const env = requireCloud(props.env, 'gcp');
    this.names = gcpNames(props.pipeline, env);
    assertWithinLimits(gcpLimitProblems(env));
    const inputs = stackInputs('gcp', props, env);
    this.declareProvider(id, props, inputs);
    this.dataBucket = this.declareStorage(inputs);
    this.images = this.declareRegistry(inputs);
    this.registryTargets = [terraformAddress(this.images.repository)];
    this.accounts = this.declareIdentities(inputs);
    this.training = this.declareTraining(inputs);
    this.ingestion = this.declareIngestion(inputs);
    this.serving = this.declareServing(inputs, props.servingCanary);
    this.alerts = this.declareMonitoring(inputs);
    this.declareOutputs(inputs);
  }

  /** The state backend, the provider, and the APIs every resource waits for (AfterApis). */
  private declareProvider(id: string, props: GcpMlStackProps, { env, labels }: StackInputs<'gcp'>): void {
    applyBackend(this, chooseBackend(id, props.backendEnv));
    new GoogleProvider(this, 'google', { project: env.gcp.project_id, region: env.gcp.region, defaultLabels: labels });
    const apis = new Map(
      Object.keys(GCP_APIS).map((service) => [service, new ProjectService(this, `api-${service.split('.')[0]}`, { service, disableOnDestroy: false })]),
    );
    Aspects.of(this).add(new AfterApis(apis));
  }

  private declareStorage({ env, labels }: StackInputs<'gcp'>): DataBucket {
    return new DataBucket(this, 'data', { name: this.names.bucket, env, labels });
  }

  private declareRegistry({ env, labels }: StackInputs<'gcp'>): ImageRepository {
    return new ImageRepository(this, 'images', {
      repositoryId: this.names.artifactRepository,
      projectId: env.gcp.project_id,
      region: env.gcp.region,
      labels,
    });
  }

  /** Training always; ingestion and its scheduler with ingestion_source; serving with a pinned version. */
  private declareIdentities({ source, modelVersion }: StackInputs<'gcp'>): ServiceAccounts {
    const accounts = this.names.serviceAccounts;
    const training = this.serviceAccount('sa-training', accounts.training, 'GPU training job');
    const ingestion = source ? this.serviceAccount('sa-ingestion', accounts.ingestion, 'ingestion job') : undefined;
    const scheduler = source ? this.serviceAccount('sa-scheduler', accounts.scheduler, 'Cloud Scheduler: runs the ingestion job') : undefined;
    const serving = modelVersion ? this.serviceAccount('sa-serving', accounts.serving, 'serving service') : undefined;
    return { training, ingestion, scheduler, serving };
  }

  /** Training reads processed data, writes checkpoints, its package and state, and registers the version. */
  private declareTraining({ env, paths, launchContext, labels }: StackInputs<'gcp'>): GpuTrainingJob {
    const account = member(this.accounts.training);
    this.dataBucket.grantPrefixes('training-reads', account, 'roles/storage.objectViewer', [paths.processed]);
    this.dataBucket.grantPrefixes('training-writes', account, 'roles/storage.objectUser', [paths.models, paths.checkpoints, paths.state, paths.registry]);
    this.images.grantPull('training-pulls', account);
    return new GpuTrainingJob(this, 'training', {
      name: this.names.trainingJob,
      env,
      image: this.images.imageUri('training-gpu', env.gcp.image_tag),
      serviceAccountEmail: this.accounts.training.email,
      launch: bucketTrainingLaunch(launchContext),
      labels,
    });
  }

  /** Undefined, with a warning, without ingestion_source. After a complete run the job runs the training job. */
  private declareIngestion(inputs: StackInputs<'gcp'>): ScheduledIngestion | undefined {
    const { env, paths, launchContext, labels, source, tokenEnv } = inputs;
    const { ingestion: account, scheduler } = this.accounts;
    if (!source || !account || !scheduler) {
      warnNoIngestionSource(this, env);
      return undefined;
    }
    this.dataBucket.grantPrefixes('ingestion-writes', member(account), 'roles/storage.objectUser', [paths.raw, paths.processed, paths.state]);
    this.images.grantPull('ingestion-pulls', member(account));
    // After a complete run the ingestion container runs the training job with the run's data as an override.
    this.training.grantRunWithOverrides('ingestion-runs-training', member(account));
    const apiSecret = tokenEnv ? this.declareApiSecret(member(account), labels, env.retain_on_delete) : undefined;
    const trainingJob = `projects/${env.gcp.project_id}/locations/${env.gcp.region}/jobs/${this.names.trainingJob}`;
    return new ScheduledIngestion(this, 'ingestion', {
      name: this.names.ingestionJob,
      schedulerName: this.names.schedulerJob,
      schedule: toUnixCron(env.ingestion_schedule),
      env,
      image: this.images.imageUri('ingestion', env.gcp.image_tag),
      serviceAccountEmail: account.email,
      schedulerServiceAccountEmail: scheduler.email,
      launch: ingestionLaunch(launchContext, source, tokenEnv, { kind: 'cloud-run-job', job: trainingJob }),
      apiSecretId: apiSecret ? this.names.apiSecret : undefined,
      // Cloud Run checks at deploy time that the job's account can read the secret.
      dependsOn: apiSecret ? [apiSecret.access] : undefined,
      labels,
    });
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

  /** Undefined, with a warning, without a pinned version. Serving reads the models and the registry. */
  private declareServing({ env, paths, launchContext, labels, modelVersion }: StackInputs<'gcp'>, canary?: CanaryTraffic): ServingService | undefined {
    const account = this.accounts.serving;
    if (!modelVersion || !account) {
      warnNoPinnedModel(this, env, `serving service ${this.names.servingService}`);
      return undefined;
    }
    this.dataBucket.grantPrefixes('serving-reads', member(account), 'roles/storage.objectViewer', [paths.models, paths.registry]);
    this.images.grantPull('serving-pulls', member(account));
    return new ServingService(this, 'serving', {
      name: this.names.servingService,
      env,
      image: this.images.imageUri('serving', env.gcp.image_tag),
      serviceAccountEmail: account.email,
      launch: registryServingLaunch(launchContext, modelVersion),
      labels,
      canary,
    });
  }

  /** Serving's 5xx and latency alerts, when serving is declared. */
  private declareMonitoring({ env }: StackInputs<'gcp'>): ServingAlerts | undefined {
    if (!this.serving) return undefined;
    return new ServingAlerts(this, 'alerts', { serviceName: this.names.servingService, envName: env.name, alarmEmail: env.alarm_email });
  }

  private declareOutputs({ launchContext }: StackInputs<'gcp'>): void {
    if (this.ingestion) new TerraformOutput(this, 'ingestion_job', { value: this.names.ingestionJob });
    if (this.serving) new TerraformOutput(this, 'serving_url', { value: this.serving.service.uri });
    new TerraformOutput(this, 'data_bucket', { value: launchContext.bucket });
    new TerraformOutput(this, 'image_repository', { value: this.images.host });
    new TerraformOutput(this, 'training_job', { value: this.names.trainingJob });
  }

  private serviceAccount(id: string, accountId: string, purpose: string): ServiceAccount {
    return new ServiceAccount(this, id, { accountId, displayName: `mlstack ${purpose}` });
  }
}
