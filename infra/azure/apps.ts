import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { ContainerApp } from '@cdktf/provider-azurerm/lib/container-app';
import { ContainerAppEnvironment } from '@cdktf/provider-azurerm/lib/container-app-environment';
import { ContainerAppJob } from '@cdktf/provider-azurerm/lib/container-app-job';
import type { WithCloud } from '../../config/schema';
import { SERVING_CONTRACT } from '../../runtime/contract/images';

type EnvVar = { name: string; value: string };

export interface AppIdentity {
  /** Resource id of the user-assigned identity. */
  id: string;
  clientId: string;
}

export interface ContainerAppsProps {
  env: WithCloud<'azure'>;
  resourceGroupName: string;
  environmentName: string;
  logAnalyticsWorkspaceId: string;
  registryServer: string;
  tags: Record<string, string>;
}

export interface ServingAppProps {
  name: string;
  image: string;
  identity: AppIdentity;
  environment: EnvVar[];
  /** Sensitive values, passed as Container Apps secrets and exposed as env vars of the same name. @default none */
  secrets?: Record<string, string>;
  /** Role assignments (AcrPull, storage) the first revision needs before it starts. */
  dependsOn: ITerraformDependable[];
}

export interface IngestionJobProps {
  name: string;
  image: string;
  identity: AppIdentity;
  /** 5-field unix cron, UTC. */
  cron: string;
  /** Key Vault secret URI (versionless) passed to the job as MLSTACK_API_TOKEN. */
  apiSecretUri: string;
  environment: EnvVar[];
  dependsOn: ITerraformDependable[];
}

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

  addServing(id: string, app: ServingAppProps): ContainerApp {
    const { serving } = this.props.env.azure;
    const probe = (path: string) => ({ transport: 'HTTP', port: SERVING_CONTRACT.port, path });
    const secrets = Object.entries(app.secrets ?? {}).map(([envName, value]) => ({
      envName,
      // Container Apps secret names: lowercase letters, digits and dashes.
      secretName: envName.toLowerCase().replace(/_/g, '-'),
      value,
    }));
    return new ContainerApp(this, id, {
      name: app.name,
      resourceGroupName: this.props.resourceGroupName,
      containerAppEnvironmentId: this.environment.id,
      // Multiple revisions so traffic can be split between a stable and a canary revision.
      revisionMode: 'Multiple',
      identity: { type: 'UserAssigned', identityIds: [app.identity.id] },
      registry: [{ server: this.props.registryServer, identity: app.identity.id }],
      secret: secrets.length ? secrets.map((s) => ({ name: s.secretName, value: s.value })) : undefined,
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
            args: [...SERVING_CONTRACT.args],
            cpu: Number(serving.cpu),
            memory: serving.memory,
            env: [
              ...app.environment,
              { name: 'PORT', value: String(SERVING_CONTRACT.port) },
              { name: 'AZURE_CLIENT_ID', value: app.identity.clientId },
              ...secrets.map((s) => ({ name: s.envName, secretName: s.secretName })),
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

  addScheduledIngestion(id: string, job: IngestionJobProps): ContainerAppJob {
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
      secret: [{ name: 'api-token', keyVaultSecretId: job.apiSecretUri, identity: job.identity.id }],
      template: {
        container: [
          {
            name: 'ingestion',
            image: job.image,
            args: ['ingest', '--env', this.props.env.name, '--cloud', 'azure'],
            cpu: 0.5,
            memory: '1Gi',
            env: [
              ...job.environment,
              { name: 'AZURE_CLIENT_ID', value: job.identity.clientId },
              { name: 'MLSTACK_API_TOKEN', secretName: 'api-token' },
            ],
          },
        ],
      },
      tags: this.props.tags,
      dependsOn: job.dependsOn,
    });
  }
}
