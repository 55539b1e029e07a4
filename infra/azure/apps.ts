import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { ContainerApp } from '@cdktf/provider-azurerm/lib/container-app';
import { ContainerAppEnvironment } from '@cdktf/provider-azurerm/lib/container-app-environment';
import { ContainerAppJob } from '@cdktf/provider-azurerm/lib/container-app-job';
import type { WithCloud } from '../../config/schema';
import { PLATFORM_ENV, type ContainerLaunch } from '../../runtime/contract/env';
import { SERVING_CONTRACT } from '../../runtime/contract/images';

export interface AppIdentity {
  /** Resource id of the user-assigned identity. */
  readonly id: string;
  /** Client id @azure/identity picks the identity by. */
  readonly clientId: string;
}

export interface ContainerAppsProps {
  /** The environment: region, azure.serving sizes and autoscaling. */
  readonly env: WithCloud<'azure'>;
  readonly resourceGroupName: string;
  /** Container Apps environment name (azureNames(...).containerAppsEnvironment). */
  readonly environmentName: string;
  /** Log Analytics workspace the apps log to. */
  readonly logAnalyticsWorkspaceId: string;
  /** ACR login server the images are pulled from. */
  readonly registryServer: string;
  /** Tags on every resource. */
  readonly tags: Record<string, string>;
}

export interface ServingAppProps {
  /** Container App name (azureNames(...).servingApp). */
  readonly name: string;
  /** The serving image reference. */
  readonly image: string;
  /** The identity the app runs as and pulls with. */
  readonly identity: AppIdentity;
  /** registryServingLaunch: `serve` with the pinned version, the registry's store and the project. */
  readonly launch: ContainerLaunch;
  /** Role assignments (AcrPull, storage) the first revision needs before it starts. */
  readonly dependsOn: ITerraformDependable[];
}

export interface IngestionJobProps {
  /** Container Apps job name (azureNames(...).ingestionJob). */
  readonly name: string;
  /** The ingestion image reference. */
  readonly image: string;
  /** The identity the job runs as and pulls with. */
  readonly identity: AppIdentity;
  /** 5-field unix cron, UTC. */
  readonly cron: string;
  /** ingestionLaunch: `ingest` with the source and the Azure ML cluster to submit training to. */
  readonly launch: ContainerLaunch;
  /** Key Vault secret URI (versionless) that fills the launch's secret variables. @default - none */
  readonly apiSecretUri?: string;
  /** Role assignments and the secret grant the job needs before it is created. */
  readonly dependsOn: ITerraformDependable[];
}

/** Container Apps secret names: lowercase letters, digits and dashes. */
const API_TOKEN_SECRET = 'api-token';

/**
 * Serving and scheduled ingestion on Azure Container Apps (consumption, CPU).
 * azurerm has no managed online endpoint resource and rejects GPU workload
 * profiles, so CPU Container Apps with an HTTP concurrency scale rule is the
 * declarable serving path; a small dense model serves well on CPU.
 */
export class ContainerApps extends Construct {
  readonly environment: ContainerAppEnvironment;

  constructor(scope: Construct, id: string, private readonly props: ContainerAppsProps) {
    super(scope, id);
    this.environment = new ContainerAppEnvironment(this, 'environment', {
      name: props.environmentName,
      location: props.env.azure.region,
      resourceGroupName: props.resourceGroupName,
      logAnalyticsWorkspaceId: props.logAnalyticsWorkspaceId,
      tags: props.tags,
    });
  }

  /** The serving app: HTTP concurrency autoscaling, health probes, a revision per deployment. */
  addServing(id: string, app: ServingAppProps): ContainerApp {
    const { serving } = this.props.env.azure;
    const probe = (path: string) => ({ transport: 'HTTP', port: SERVING_CONTRACT.port, path });
    return new ContainerApp(this, id, {
      name: app.name,
      resourceGroupName: this.props.resourceGroupName,
      containerAppEnvironmentId: this.environment.id,
      // Multiple revisions so traffic can be split between a stable and a canary revision.
      revisionMode: 'Multiple',
      identity: { type: 'UserAssigned', identityIds: [app.identity.id] },
      registry: [{ server: this.props.registryServer, identity: app.identity.id }],
      ingress: {
        externalEnabled: true,
        targetPort: SERVING_CONTRACT.port,
        transport: 'http',
        allowInsecureConnections: false,
        trafficWeight: [{ latestRevision: true, percentage: 100 }],
      },
      template: {
        minReplicas: serving.autoscaling.min_capacity,
        maxReplicas: serving.autoscaling.max_capacity,
        httpScaleRule: [{ name: 'http-concurrency', concurrentRequests: String(Math.max(1, Math.round(serving.autoscaling.target_value))) }],
        container: [
          {
            name: 'serving',
            image: app.image,
            args: app.launch.args,
            cpu: Number(serving.cpu),
            memory: serving.memory,
            env: [
              ...plainEnv(app.launch),
              // Container Apps routes to target_port but does not tell the container: the server reads PORT.
              { name: PLATFORM_ENV.port, value: String(SERVING_CONTRACT.port) },
              // @azure/identity picks the user-assigned identity by client id.
              { name: PLATFORM_ENV.azureClientId, value: app.identity.clientId },
            ],
            readinessProbe: [{ ...probe(SERVING_CONTRACT.healthPath), intervalSeconds: 5, timeout: 2 }],
            livenessProbe: [{ ...probe(SERVING_CONTRACT.livenessPath), intervalSeconds: 15, timeout: 2, initialDelay: 10 }],
          },
        ],
      },
      tags: this.props.tags,
      dependsOn: app.dependsOn,
    });
  }

  /** The ingestion job, run on its cron schedule; the API token comes from the Key Vault secret. */
  addScheduledIngestion(id: string, job: IngestionJobProps): ContainerAppJob {
    const secretNames = Object.keys(job.launch.secretEnv);
    if (secretNames.length > 0 && !job.apiSecretUri) throw new Error(`secret variables ${secretNames.join(', ')} need a Key Vault secret`);
    return new ContainerAppJob(this, id, {
      name: job.name,
      location: this.props.env.azure.region,
      resourceGroupName: this.props.resourceGroupName,
      containerAppEnvironmentId: this.environment.id,
      replicaTimeoutInSeconds: 3600,
      replicaRetryLimit: 1,
      scheduleTriggerConfig: { cronExpression: job.cron, parallelism: 1, replicaCompletionCount: 1 },
      identity: { type: 'UserAssigned', identityIds: [job.identity.id] },
      registry: [{ server: this.props.registryServer, identity: job.identity.id }],
      secret: job.apiSecretUri ? [{ name: API_TOKEN_SECRET, keyVaultSecretId: job.apiSecretUri, identity: job.identity.id }] : undefined,
      template: {
        container: [
          {
            name: 'ingestion',
            image: job.image,
            args: job.launch.args,
            cpu: 0.5,
            memory: '1Gi',
            env: [
              ...plainEnv(job.launch),
              { name: PLATFORM_ENV.azureClientId, value: job.identity.clientId },
              ...secretNames.map((name) => ({ name, secretName: API_TOKEN_SECRET })),
            ],
          },
        ],
      },
      tags: this.props.tags,
      dependsOn: job.dependsOn,
    });
  }
}

function plainEnv(launch: ContainerLaunch): { name: string; value: string }[] {
  return Object.entries(launch.env).map(([name, value]) => ({ name, value }));
}
