import { Construct, type IConstruct } from 'constructs';
import { Aspects, TerraformOutput, TerraformResource, TerraformStack, type IAspect } from 'cdktf';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret';
import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member';
import { SecretManagerSecretVersion } from '@cdktf/provider-google/lib/secret-manager-secret-version';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig, PipelineConfig } from '../../config/schema';
import { storagePaths } from '../../runtime/contract/layout';
import { applyBackend, chooseBackend } from '../cdktf/backend';
import { toUnixCron } from '../cdktf/schedule';
import { GpuTrainingJob, ScheduledIngestion } from './jobs';
import { ServingAlerts } from './monitoring';
import { gcpNames, type GcpNames } from '../../runtime/contract/gcp-names';
import { ImageRepository } from './registry';
import { ServingService, type CanaryTraffic } from './serving';
import { DataBucket } from './storage';

/** APIs the stack's resources need; each resource waits for them on the first apply. */
export const GCP_APIS = [
  'artifactregistry.googleapis.com',
  'cloudscheduler.googleapis.com',
  'iam.googleapis.com',
  'monitoring.googleapis.com',
  'run.googleapis.com',
  'secretmanager.googleapis.com',
  'storage.googleapis.com',
];

export interface GcpMlStackProps {
  pipeline: PipelineConfig;
  env: EnvironmentConfig;
  /** Canary split for the serving service. @default none: all traffic on the latest revision */
  servingCanary?: CanaryTraffic;
  /** Environment variables that choose the state backend (see infra/cdktf/backend.ts). @default process.env */
  backendEnv?: NodeJS.ProcessEnv;
}

/** First version of the API secret; replace it with `gcloud secrets versions add <secret> --data-file=-`. */
export const API_SECRET_PLACEHOLDER = 'set-me: gcloud secrets versions add <secret> --data-file=-';

/** Makes every resource wait for the enabled APIs, so a fresh project deploys in one apply. */
class AfterApis implements IAspect {
  constructor(private readonly apis: ProjectService[]) {}

  visit(node: IConstruct): void {
    if (node instanceof TerraformResource && !(node instanceof ProjectService)) {
      node.dependsOn = [...new Set([...(node.dependsOn ?? []), ...this.apis.map((a) => a.fqn)])];
    }
  }
}

/** `cdktf deploy gcp-<env>`: storage, registry, GPU training, serving, ingestion and alerts for one environment. */
export class GcpMlStack extends TerraformStack {
  readonly names: GcpNames;
  readonly dataBucket: DataBucket;
  readonly images: ImageRepository;
  readonly training: GpuTrainingJob;
  readonly ingestion: ScheduledIngestion;
  readonly serving: ServingService;
  readonly alerts: ServingAlerts;

  constructor(scope: Construct, id: string, props: GcpMlStackProps) {
    super(scope, id);
    const { pipeline } = props;
    const env = requireCloud(props.env, 'gcp');
    const gcp = env.gcp;
    this.names = gcpNames(pipeline, env);
    const schedule = toUnixCron(env.ingestion_schedule);
    // managed_by, not managed-by: `cdktf synth --hcl` rewrites dashed keys in the provider block.
    const labels = { project: pipeline.project, environment: env.name, managed_by: 'cdktf' };

    applyBackend(this, chooseBackend(id, props.backendEnv));
    new GoogleProvider(this, 'google', { project: gcp.project_id, region: gcp.region, defaultLabels: labels });
    const apis = GCP_APIS.map(
      (service) => new ProjectService(this, `api-${service.split('.')[0]}`, { service, disableOnDestroy: false }),
    );
    Aspects.of(this).add(new AfterApis(apis));

    const accounts = {
      ingestion: this.serviceAccount('sa-ingestion', this.names.serviceAccounts.ingestion, 'ingestion job'),
      training: this.serviceAccount('sa-training', this.names.serviceAccounts.training, 'GPU training job'),
      serving: this.serviceAccount('sa-serving', this.names.serviceAccounts.serving, 'serving service'),
      scheduler: this.serviceAccount('sa-scheduler', this.names.serviceAccounts.scheduler, 'Cloud Scheduler: runs the ingestion job'),
    };
    const member = (sa: ServiceAccount) => `serviceAccount:${sa.email}`;

    this.dataBucket = new DataBucket(this, 'data', { name: this.names.bucket, env, labels });
    // The runtime's layout inside the bucket, so grants follow it if it moves.
    const paths = storagePaths(env, 'gcp');
    this.dataBucket.grantPrefixes('ingestion-writes', member(accounts.ingestion), 'roles/storage.objectUser', [paths.raw, paths.processed, paths.state]);
    this.dataBucket.grantPrefixes('training-reads', member(accounts.training), 'roles/storage.objectViewer', [paths.processed]);
    this.dataBucket.grantPrefixes('training-writes', member(accounts.training), 'roles/storage.objectUser', [paths.models, paths.checkpoints, paths.state]);
    this.dataBucket.grantPrefixes('serving-reads', member(accounts.serving), 'roles/storage.objectViewer', [paths.models, paths.registry]);

    this.images = new ImageRepository(this, 'images', {
      repositoryId: this.names.artifactRepository,
      projectId: gcp.project_id,
      region: gcp.region,
      labels,
    });
    for (const [job, sa] of [['ingestion', accounts.ingestion], ['training', accounts.training], ['serving', accounts.serving]] as const) {
      this.images.grantPull(`${job}-pulls`, member(sa));
    }

    const apiSecret = new SecretManagerSecret(this, 'api-secret', {
      secretId: this.names.apiSecret,
      replication: { auto: {} },
      labels,
      deletionProtection: env.retain_on_delete,
    });
    // A placeholder first version lets the job deploy; the operator adds the real token as a newer version
    // (`gcloud secrets versions add`), which "latest" then resolves to. Terraform ignores later changes.
    new SecretManagerSecretVersion(this, 'api-secret-placeholder', {
      secret: apiSecret.id,
      secretData: API_SECRET_PLACEHOLDER,
      deletionPolicy: 'ABANDON',
      lifecycle: { ignoreChanges: ['secret_data', 'enabled'] },
    });
    new SecretManagerSecretIamMember(this, 'api-secret-ingestion', {
      secretId: apiSecret.id,
      role: 'roles/secretmanager.secretAccessor',
      member: member(accounts.ingestion),
    });

    const common = [
      { name: 'MLSTACK_ENV', value: env.name },
      { name: 'MLSTACK_CLOUD', value: 'gcp' },
      { name: 'MLSTACK_BUCKET', value: `gs://${this.names.bucket}` },
    ];
    this.training = new GpuTrainingJob(this, 'training', {
      name: this.names.trainingJob,
      env,
      image: this.images.imageUri('training-gpu', gcp.image_tag),
      serviceAccountEmail: accounts.training.email,
      environment: [...common, { name: 'MLSTACK_CHECKPOINT_URI', value: `gs://${this.names.bucket}/${paths.checkpoints}` }],
      labels,
    });
    this.ingestion = new ScheduledIngestion(this, 'ingestion', {
      name: this.names.ingestionJob,
      schedulerName: this.names.schedulerJob,
      schedule,
      env,
      image: this.images.imageUri('ingestion', gcp.image_tag),
      serviceAccountEmail: accounts.ingestion.email,
      schedulerServiceAccountEmail: accounts.scheduler.email,
      apiSecretId: apiSecret.secretId,
      environment: common,
      labels,
    });
    this.serving = new ServingService(this, 'serving', {
      name: this.names.servingService,
      env,
      image: this.images.imageUri('serving', gcp.image_tag),
      serviceAccountEmail: accounts.serving.email,
      // The entrypoint resolves MLSTACK_MODEL_VERSION in the registry at MLSTACK_REGISTRY_URI (runtime/serving/entrypoint.ts).
      environment: [
        ...common,
        { name: 'MLSTACK_MODEL_VERSION', value: env.model_version ?? 'latest' },
        { name: 'MLSTACK_REGISTRY_URI', value: `gs://${this.names.bucket}/` },
      ],
      labels,
      canary: props.servingCanary,
    });
    this.alerts = new ServingAlerts(this, 'alerts', {
      serviceName: this.names.servingService,
      envName: env.name,
      alarmEmail: env.alarm_email,
    });

    new TerraformOutput(this, 'serving_url', { value: this.serving.service.uri });
    new TerraformOutput(this, 'data_bucket', { value: `gs://${this.names.bucket}` });
    new TerraformOutput(this, 'image_repository', { value: this.images.host });
  }

  private serviceAccount(id: string, accountId: string, purpose: string): ServiceAccount {
    return new ServiceAccount(this, id, { accountId, displayName: `mlstack ${purpose}` });
  }
}
