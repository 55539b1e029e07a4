import { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { ContainerRegistry } from '@cdktf/provider-azurerm/lib/container-registry';
import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { KeyVaultSecret } from '@cdktf/provider-azurerm/lib/key-vault-secret';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig, PipelineConfig } from '../../config/schema';
import { storagePaths } from '../../runtime/contract/layout';
import { applyBackend, chooseBackend } from '../cdktf/backend';
import { imageRef, type ImageName } from '../../runtime/contract/images';
import { toUnixCron } from '../cdktf/schedule';
import { ContainerApps } from './apps';
import { azureNames, type AzureNames } from '../../runtime/contract/azure-names';
import { DataLake } from './storage';
import { MlWorkspace } from './workspace';

export interface AzureMlStackProps {
  pipeline: PipelineConfig;
  env: EnvironmentConfig;
  /** Environment variables that choose the state backend (see infra/cdktf/backend.ts). @default process.env */
  backendEnv?: NodeJS.ProcessEnv;
}

/** Value written when the stack creates the API secret; set the real one with `az keyvault secret set`. */
export const API_SECRET_PLACEHOLDER = 'set-me: az keyvault secret set --vault-name <vault> --name api-token --value <token>';

/** `cdktf deploy azure-<env>`: storage, ACR, Key Vault, ML workspace + GPU cluster, serving and ingestion. */
export class AzureMlStack extends TerraformStack {
  readonly names: AzureNames;
  readonly dataLake: DataLake;
  readonly registry: ContainerRegistry;
  readonly keyVault: KeyVault;
  readonly ml: MlWorkspace;
  readonly apps: ContainerApps;

  constructor(scope: Construct, id: string, props: AzureMlStackProps) {
    super(scope, id);
    const { pipeline } = props;
    const env = requireCloud(props.env, 'azure');
    const azure = env.azure;
    this.names = azureNames(pipeline, env);
    const cron = toUnixCron(env.ingestion_schedule);
    const tags = { project: pipeline.project, environment: env.name, managed_by: 'cdktf' };
    const location = azure.region;

    applyBackend(this, chooseBackend(id, props.backendEnv));
    // Containers are created through the management plane and blobs reached with Entra ID, never account keys.
    new AzurermProvider(this, 'azurerm', { features: [{}], storageUseAzuread: true });
    const client = new DataAzurermClientConfig(this, 'client');

    const group = new ResourceGroup(this, 'group', { name: this.names.resourceGroup, location, tags });
    const resourceGroupName = group.name;

    const identity = (key: keyof AzureNames['identities']) =>
      new UserAssignedIdentity(this, `identity-${key}`, { name: this.names.identities[key], location, resourceGroupName, tags });
    const identities = { ingestion: identity('ingestion'), training: identity('training'), serving: identity('serving') };

    this.dataLake = new DataLake(this, 'data', {
      accountName: this.names.storageAccount,
      containerName: this.names.dataContainer,
      resourceGroupName,
      env,
      tags,
    });
    // The runtime's layout inside the container, so grants follow it if it moves.
    const paths = storagePaths(env, 'azure');
    const grants = {
      ingestion: [
        this.dataLake.grantPrefixes('ingestion-writes', identities.ingestion.principalId, 'Storage Blob Data Contributor', [paths.raw, paths.processed, paths.state]),
      ],
      training: [
        this.dataLake.grantPrefixes('training-reads', identities.training.principalId, 'Storage Blob Data Reader', [paths.processed]),
        this.dataLake.grantPrefixes('training-writes', identities.training.principalId, 'Storage Blob Data Contributor', [paths.models, paths.checkpoints, paths.state]),
      ],
      serving: [
        this.dataLake.grantPrefixes('serving-reads', identities.serving.principalId, 'Storage Blob Data Reader', [paths.models, paths.registry]),
      ],
    };

    this.registry = new ContainerRegistry(this, 'registry', {
      name: this.names.containerRegistry,
      location,
      resourceGroupName,
      sku: 'Standard',
      adminEnabled: false,
      anonymousPullEnabled: false,
      tags,
    });
    const acrPull = Object.fromEntries(
      Object.entries(identities).map(([key, id]) => [
        key,
        new RoleAssignment(this, `${key}-acr-pull`, {
          scope: this.registry.id,
          roleDefinitionName: 'AcrPull',
          principalId: id.principalId,
          principalType: 'ServicePrincipal',
        }),
      ]),
    ) as Record<keyof typeof identities, RoleAssignment>;

    this.keyVault = new KeyVault(this, 'vault', {
      name: this.names.keyVault,
      location,
      resourceGroupName,
      tenantId: client.tenantId,
      skuName: 'standard',
      rbacAuthorizationEnabled: true,
      purgeProtectionEnabled: env.retain_on_delete,
      softDeleteRetentionDays: env.retain_on_delete ? 90 : 7,
      tags,
    });
    // The deploying principal writes the placeholder secret; the ingestion identity only reads it.
    const deployerWrites = new RoleAssignment(this, 'deployer-secrets-officer', {
      scope: this.keyVault.id,
      roleDefinitionName: 'Key Vault Secrets Officer',
      principalId: client.objectId,
    });
    const apiSecret = new KeyVaultSecret(this, 'api-secret', {
      name: 'api-token',
      keyVaultId: this.keyVault.id,
      value: API_SECRET_PLACEHOLDER,
      contentType: 'REST API token for ingestion',
      lifecycle: { ignoreChanges: ['value'] },
      dependsOn: [deployerWrites],
    });
    const ingestionReadsSecret = new RoleAssignment(this, 'ingestion-secrets-user', {
      scope: apiSecret.resourceVersionlessId,
      roleDefinitionName: 'Key Vault Secrets User',
      principalId: identities.ingestion.principalId,
      principalType: 'ServicePrincipal',
    });

    this.ml = new MlWorkspace(this, 'ml', {
      env,
      resourceGroupName,
      names: this.names,
      storageAccountId: this.dataLake.account.id,
      keyVaultId: this.keyVault.id,
      containerRegistryId: this.registry.id,
      trainingIdentityId: identities.training.id,
      tags,
    });

    const registryServer = `${this.names.containerRegistry.toLowerCase()}.azurecr.io`;
    const image = (name: ImageName) => imageRef(registryServer, name, azure.image_tag);
    this.apps = new ContainerApps(this, 'apps', {
      env,
      resourceGroupName,
      environmentName: this.names.containerAppsEnvironment,
      logAnalyticsWorkspaceId: this.ml.logs.id,
      registryServer: this.registry.loginServer,
      tags,
    });
    const common = [
      { name: 'MLSTACK_ENV', value: env.name },
      { name: 'MLSTACK_CLOUD', value: 'azure' },
      // The runtime's object URI for Azure Blob (runtime/storage/open.ts): az://<account>/<container>.
      { name: 'MLSTACK_BUCKET', value: `az://${this.names.storageAccount}/${this.names.dataContainer}` },
    ];
    const servingApp = this.apps.addServing('serving', {
      name: this.names.servingApp,
      image: image('serving'),
      identity: identities.serving,
      environment: [
        ...common,
        // The entrypoint resolves MLSTACK_MODEL_VERSION in the registry at MLSTACK_REGISTRY_URI (runtime/serving/entrypoint.ts).
        { name: 'MLSTACK_MODEL_VERSION', value: env.model_version ?? 'latest' },
        { name: 'MLSTACK_REGISTRY_URI', value: `az://${this.names.storageAccount}/${this.names.dataContainer}/` },
      ],
      secrets: { APPLICATIONINSIGHTS_CONNECTION_STRING: this.ml.insights.connectionString },
      dependsOn: [acrPull.serving, ...grants.serving],
    });
    this.apps.addScheduledIngestion('ingestion', {
      name: this.names.ingestionJob,
      image: image('ingestion'),
      identity: identities.ingestion,
      cron,
      apiSecretUri: apiSecret.versionlessId,
      environment: common,
      dependsOn: [acrPull.ingestion, ingestionReadsSecret, ...grants.ingestion],
    });

    new TerraformOutput(this, 'serving_url', { value: `https://${servingApp.latestRevisionFqdn}` });
    new TerraformOutput(this, 'training_image', { value: image('training-gpu') });
    new TerraformOutput(this, 'compute_cluster', { value: this.ml.gpuCluster.name });
  }
}
