import { Construct } from 'constructs';
import { Annotations, TerraformOutput, TerraformStack } from 'cdktf';
import { ContainerApp } from '@cdktf/provider-azurerm/lib/container-app';
import { ContainerAppJob } from '@cdktf/provider-azurerm/lib/container-app-job';
import { ContainerRegistry } from '@cdktf/provider-azurerm/lib/container-registry';
import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { KeyVaultSecret } from '@cdktf/provider-azurerm/lib/key-vault-secret';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { requireCloud } from '../../config/load';
import type { WithCloud } from '../../config/schema';
import { azureNames, type AzureNames } from '../../runtime/contract/azure-names';
import { SECRET_PLACEHOLDER_PREFIX, ingestionLaunch, registryServingLaunch } from '../../runtime/contract/env';
import { imageRef, type ImageName } from '../../runtime/contract/images';
import { applyBackend, chooseBackend } from '../cdktf/backend';
import { assertWithinLimits } from '../cdktf/limits';
import { toUnixCron } from '../cdktf/schedule';
import { stackInputs, terraformAddress, warnNoIngestionSource, warnNoPinnedModel, type CdktfMlStackProps, type StackInputs } from '../cdktf/stack-inputs';
import { ContainerApps } from './apps';
import { azureLimitProblems } from './limits';
import { Alerts } from './monitoring';
import { DataLake } from './storage';
import { MlWorkspace } from './workspace';

/** What AzureMlStack is built from: one environment of the project's config. */
export type AzureMlStackProps = CdktfMlStackProps;

/** Key Vault secret holding the API token. */
export const API_SECRET_NAME = 'api-token';

/** Value written when the stack creates the API secret, which the runtime refuses; set the real token over it. */
export function apiSecretPlaceholder(vaultName: string): string {
  return `${SECRET_PLACEHOLDER_PREFIX}: az keyvault secret set --vault-name ${vaultName} --name ${API_SECRET_NAME} --file <token file>`;
}

/**
 * Lets an identity submit Azure ML command jobs and register environment versions in the workspace:
 * "AzureML Data Scientist" allows every workspace action except creating or deleting compute and
 * changing the workspace itself.
 */
export const AZUREML_JOB_SUBMITTER_ROLE = 'AzureML Data Scientist';

/** The stack's user-assigned identities; each exists only when what runs as it is declared. */
interface Identities {
  readonly training: UserAssignedIdentity;
  readonly ingestion?: UserAssignedIdentity;
  readonly serving?: UserAssignedIdentity;
}

/**
 * `cdktf deploy azure-<env>`: storage, ACR, Key Vault, the ML workspace with its GPU cluster and
 * alerts, and, when config asks for them, scheduled ingestion (ingestion_source) that submits training
 * to the cluster, and serving (a pinned model_version). Built from the same steps as GcpMlStack:
 * provider, storage, registry, identities, training, ingestion, serving, monitoring, outputs.
 */
export class AzureMlStack extends TerraformStack {
  readonly names: AzureNames;
  readonly dataLake: DataLake;
  readonly registry: ContainerRegistry;
  readonly keyVault: KeyVault;
  readonly ml: MlWorkspace;
  readonly alerts: Alerts;
  /** Undefined when neither ingestion nor serving is declared. */
  readonly apps?: ContainerApps;
  readonly ingestion?: ContainerAppJob;
  readonly serving?: ContainerApp;
  /** Terraform addresses to apply before images are pushed (`terraform apply -target=...`). */
  readonly registryTargets: string[];

  private readonly client: DataAzurermClientConfig;
  private readonly resourceGroupName: string;
  private readonly identities: Identities;

  constructor(scope: Construct, id: string, props: AzureMlStackProps) {
    super(scope, id);
    const env = requireCloud(props.env, 'azure');
    this.names = azureNames(props.pipeline, env);
    assertWithinLimits(azureLimitProblems(env));
    const inputs = stackInputs('azure', props, env);
    const { client, resourceGroupName } = this.declareProvider(id, props, inputs);
    this.client = client;
    this.resourceGroupName = resourceGroupName;
    this.dataLake = this.declareStorage(inputs);
    this.registry = this.declareRegistry(inputs);
    this.registryTargets = [terraformAddress(this.registry)];
    this.identities = this.declareIdentities(inputs);
    this.keyVault = this.declareKeyVault(inputs);
    this.ml = this.declareTraining(inputs);
    this.apps = this.declareContainerApps(inputs);
    this.ingestion = this.declareIngestion(inputs);
    this.serving = this.declareServing(inputs);
    this.alerts = this.declareMonitoring(inputs);
    this.declareOutputs(inputs);
  }

  /** The state backend, the provider, the deploying principal and the resource group. */
  private declareProvider(id: string, props: AzureMlStackProps, { env, labels }: StackInputs<'azure'>): { client: DataAzurermClientConfig; resourceGroupName: string } {
    applyBackend(this, chooseBackend(id, props.backendEnv));
    // Containers are created through the management plane and blobs reached with Entra ID, never account keys.
    new AzurermProvider(this, 'azurerm', { features: [{}], storageUseAzuread: true });
    const client = new DataAzurermClientConfig(this, 'client');
    const group = new ResourceGroup(this, 'group', { name: this.names.resourceGroup, location: env.azure.region, tags: labels });
    return { client, resourceGroupName: group.name };
  }

  private declareStorage({ env, labels }: StackInputs<'azure'>): DataLake {
    return new DataLake(this, 'data', {
      accountName: this.names.storageAccount,
      containerName: this.names.dataContainer,
      resourceGroupName: this.resourceGroupName,
      env,
      tags: labels,
    });
  }

  private declareRegistry({ env, labels }: StackInputs<'azure'>): ContainerRegistry {
    return new ContainerRegistry(this, 'registry', {
      name: this.names.containerRegistry,
      location: env.azure.region,
      resourceGroupName: this.resourceGroupName,
      sku: 'Standard',
      adminEnabled: false,
      anonymousPullEnabled: false,
      tags: labels,
    });
  }

  /** Training always; ingestion with ingestion_source; serving with a pinned version. */
  private declareIdentities({ env, labels, source, modelVersion }: StackInputs<'azure'>): Identities {
    const identity = (key: keyof AzureNames['identities']) =>
      new UserAssignedIdentity(this, `identity-${key}`, {
        name: this.names.identities[key],
        location: env.azure.region,
        resourceGroupName: this.resourceGroupName,
        tags: labels,
      });
    return { training: identity('training'), ingestion: source ? identity('ingestion') : undefined, serving: modelVersion ? identity('serving') : undefined };
  }

  /** The vault the ML workspace needs; it also holds the API token. Purge protection when the environment is retained. */
  private declareKeyVault({ env, labels }: StackInputs<'azure'>): KeyVault {
    return new KeyVault(this, 'vault', {
      name: this.names.keyVault,
      location: env.azure.region,
      resourceGroupName: this.resourceGroupName,
      tenantId: this.client.tenantId,
      skuName: 'standard',
      rbacAuthorizationEnabled: true,
      purgeProtectionEnabled: env.retain_on_delete,
      softDeleteRetentionDays: env.retain_on_delete ? 90 : 7,
      tags: labels,
    });
  }

  /**
   * The ML workspace and its GPU cluster, running as the training identity. Training reads processed
   * data, writes checkpoints, its package and state, and registers the version.
   */
  private declareTraining({ env, labels, paths }: StackInputs<'azure'>): MlWorkspace {
    const training = this.identities.training;
    this.dataLake.grantPrefixes('training-reads', training.principalId, 'Storage Blob Data Reader', [paths.processed]);
    this.dataLake.grantPrefixes('training-writes', training.principalId, 'Storage Blob Data Contributor', [paths.models, paths.checkpoints, paths.state, paths.registry]);
    this.grantAcrPull('training', training);
    return new MlWorkspace(this, 'ml', {
      env,
      resourceGroupName: this.resourceGroupName,
      names: this.names,
      storageAccountId: this.dataLake.account.id,
      keyVaultId: this.keyVault.id,
      containerRegistryId: this.registry.id,
      trainingIdentityId: training.id,
      tags: labels,
    });
  }

  /** The Container Apps environment ingestion and serving run in; undefined when neither is declared. */
  private declareContainerApps({ env, labels, source, modelVersion }: StackInputs<'azure'>): ContainerApps | undefined {
    if (!source && !modelVersion) return undefined;
    return new ContainerApps(this, 'apps', {
      env,
      resourceGroupName: this.resourceGroupName,
      environmentName: this.names.containerAppsEnvironment,
      logAnalyticsWorkspaceId: this.ml.logs.id,
      registryServer: this.registry.loginServer,
      tags: labels,
    });
  }

  /** Undefined, with a warning, without ingestion_source. After a complete run the job submits training to the GPU cluster. */
  private declareIngestion({ env, paths, launchContext, source, tokenEnv }: StackInputs<'azure'>): ContainerAppJob | undefined {
    const identity = this.identities.ingestion;
    if (!source || !this.apps || !identity) {
      warnNoIngestionSource(this, env);
      return undefined;
    }
    const grants = [
      this.dataLake.grantPrefixes('ingestion-writes', identity.principalId, 'Storage Blob Data Contributor', [paths.raw, paths.processed, paths.state]),
      this.grantAcrPull('ingestion', identity),
      new RoleAssignment(this, 'ingestion-submits-training', {
        scope: this.ml.workspace.id,
        roleDefinitionName: AZUREML_JOB_SUBMITTER_ROLE,
        principalId: identity.principalId,
        principalType: 'ServicePrincipal',
        description: 'submit Azure ML training jobs to the GPU cluster and register their environments',
      }),
    ];
    const secret = tokenEnv ? this.declareApiSecret(identity.principalId) : undefined;
    return this.apps.addScheduledIngestion('ingestion', {
      name: this.names.ingestionJob,
      image: this.image(env, 'ingestion'),
      identity,
      cron: toUnixCron(env.ingestion_schedule),
      launch: ingestionLaunch(launchContext, source, tokenEnv, {
        kind: 'azureml',
        workspace: this.ml.workspace.id,
        compute: this.names.computeCluster,
        image: this.image(env, 'training-gpu'),
        identityClientId: this.identities.training.clientId,
      }),
      apiSecretUri: secret?.uri,
      dependsOn: [...grants, ...(secret ? [secret.access] : [])],
    });
  }

  /**
   * The API token's secret: the deploying principal writes the placeholder, the ingestion identity only
   * reads it. Terraform ignores later values (the operator sets the token).
   */
  private declareApiSecret(ingestionPrincipalId: string): { uri: string; access: RoleAssignment } {
    const deployerWrites = new RoleAssignment(this, 'deployer-secrets-officer', {
      scope: this.keyVault.id,
      roleDefinitionName: 'Key Vault Secrets Officer',
      principalId: this.client.objectId,
    });
    const secret = new KeyVaultSecret(this, 'api-secret', {
      name: API_SECRET_NAME,
      keyVaultId: this.keyVault.id,
      value: apiSecretPlaceholder(this.names.keyVault),
      contentType: 'REST API token for ingestion',
      lifecycle: { ignoreChanges: ['value'] },
      dependsOn: [deployerWrites],
    });
    const access = new RoleAssignment(this, 'ingestion-secrets-user', {
      scope: secret.resourceVersionlessId,
      roleDefinitionName: 'Key Vault Secrets User',
      principalId: ingestionPrincipalId,
      principalType: 'ServicePrincipal',
    });
    return { uri: secret.versionlessId, access };
  }

  /** Undefined, with a warning, without a pinned version. Serving reads the models and the registry. */
  private declareServing({ env, paths, launchContext, modelVersion }: StackInputs<'azure'>): ContainerApp | undefined {
    const identity = this.identities.serving;
    if (!modelVersion || !this.apps || !identity) {
      warnNoPinnedModel(this, env, `serving app ${this.names.servingApp}`);
      return undefined;
    }
    const grants = [
      this.dataLake.grantPrefixes('serving-reads', identity.principalId, 'Storage Blob Data Reader', [paths.models, paths.registry]),
      this.grantAcrPull('serving', identity),
    ];
    return this.apps.addServing('serving', {
      name: this.names.servingApp,
      image: this.image(env, 'serving'),
      identity,
      launch: registryServingLaunch(launchContext, modelVersion),
      dependsOn: grants,
    });
  }

  /** Failed training runs always; failed ingestion and serving 5xx/latency when declared; mailed to alarm_email. */
  private declareMonitoring({ env, labels }: StackInputs<'azure'>): Alerts {
    const alerts = new Alerts(this, 'alerts', {
      resourceGroupName: this.resourceGroupName,
      alarmEmail: env.alarm_email,
      actionGroupName: this.names.actionGroup,
      actionGroupShortName: this.names.actionGroupShortName,
      tags: labels,
    });
    if (!env.alarm_email) {
      Annotations.of(this).addWarning(
        `No alarm_email is set for ${env.name}, so no action group is declared and the alerts notify nobody. ` +
          `Set alarm_email in config/environments/${env.name}.json.`,
      );
    }
    alerts.addTraining(this.names.mlWorkspace, this.ml.workspace.id);
    if (this.ingestion) alerts.addIngestion(this.names.ingestionJob, this.ingestion.id);
    if (this.serving) alerts.addServing(this.names.servingApp, this.serving.id);
    return alerts;
  }

  private declareOutputs({ env, launchContext }: StackInputs<'azure'>): void {
    if (this.ingestion) new TerraformOutput(this, 'ingestion_job', { value: this.names.ingestionJob });
    if (this.serving) new TerraformOutput(this, 'serving_url', { value: `https://${this.serving.latestRevisionFqdn}` });
    new TerraformOutput(this, 'data_store', { value: launchContext.bucket });
    new TerraformOutput(this, 'container_registry', { value: this.registryServer });
    new TerraformOutput(this, 'training_image', { value: this.image(env, 'training-gpu') });
    new TerraformOutput(this, 'compute_cluster', { value: this.names.computeCluster });
    new TerraformOutput(this, 'ml_workspace', { value: this.names.mlWorkspace });
  }

  /** `<registry>.azurecr.io`: the login server the images are pushed to. */
  private get registryServer(): string {
    return `${this.names.containerRegistry.toLowerCase()}.azurecr.io`;
  }

  /** An image of the environment's tag in the registry. */
  private image(env: WithCloud<'azure'>, name: ImageName): string {
    return imageRef(this.registryServer, name, env.azure.image_tag);
  }

  private grantAcrPull(key: string, identity: UserAssignedIdentity): RoleAssignment {
    return new RoleAssignment(this, `${key}-acr-pull`, {
      scope: this.registry.id,
      roleDefinitionName: 'AcrPull',
      principalId: identity.principalId,
      principalType: 'ServicePrincipal',
    });
  }
}
