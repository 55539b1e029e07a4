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
import type { EnvironmentConfig, ParserConfig, PipelineConfig } from '../../config/schema';
import { azureNames, type AzureNames } from '../../runtime/contract/azure-names';
import { SECRET_PLACEHOLDER_PREFIX, ingestionLaunch, registryServingLaunch, type LaunchContext } from '../../runtime/contract/env';
import { imageRef, type ImageName } from '../../runtime/contract/images';
import { bucketUri, storagePaths } from '../../runtime/contract/layout';
import { applyBackend, chooseBackend } from '../cdktf/backend';
import { deployedTokenEnv, pinnedModelVersion } from '../cdktf/ingestion';
import { PlatformLimitError } from '../cdktf/limits';
import { toUnixCron } from '../cdktf/schedule';
import { ContainerApps } from './apps';
import { azureLimitProblems } from './limits';
import { Alerts } from './monitoring';
import { DataLake } from './storage';
import { MlWorkspace } from './workspace';

export interface AzureMlStackProps {
  pipeline: PipelineConfig;
  /** parser.json: its ingestion.auth.token_env decides whether the stack declares the API secret. */
  parser: ParserConfig;
  env: EnvironmentConfig;
  /** Environment variables that choose the state backend (see infra/cdktf/backend.ts). @default process.env */
  backendEnv?: NodeJS.ProcessEnv;
}

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

type Identities = { training: UserAssignedIdentity; ingestion?: UserAssignedIdentity; serving?: UserAssignedIdentity };

/**
 * `cdktf deploy azure-<env>`: storage, ACR, Key Vault, the ML workspace with its GPU cluster and
 * alerts, and, when config asks for them, scheduled ingestion (ingestion_source) that submits training
 * to the cluster, and serving (a pinned model_version).
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

  private readonly identities: Identities;

  constructor(scope: Construct, id: string, props: AzureMlStackProps) {
    super(scope, id);
    const { pipeline } = props;
    const env = requireCloud(props.env, 'azure');
    const azure = env.azure;
    this.names = azureNames(pipeline, env);
    const limits = azureLimitProblems(env);
    if (limits.length > 0) throw new PlatformLimitError(limits);
    const tokenEnv = deployedTokenEnv(props.parser);
    const tags = { project: pipeline.project, environment: env.name, managed_by: 'cdktf' };
    const location = azure.region;
    const ctx: LaunchContext = { cloud: 'azure', envName: env.name, project: pipeline.project, bucket: bucketUri(env, 'azure') };
    const paths = storagePaths(env, 'azure');
    const source = env.ingestion_source;
    const modelVersion = pinnedModelVersion(env);

    applyBackend(this, chooseBackend(id, props.backendEnv));
    // Containers are created through the management plane and blobs reached with Entra ID, never account keys.
    new AzurermProvider(this, 'azurerm', { features: [{}], storageUseAzuread: true });
    const client = new DataAzurermClientConfig(this, 'client');
    const group = new ResourceGroup(this, 'group', { name: this.names.resourceGroup, location, tags });
    const resourceGroupName = group.name;

    this.registry = new ContainerRegistry(this, 'registry', {
      name: this.names.containerRegistry,
      location,
      resourceGroupName,
      sku: 'Standard',
      adminEnabled: false,
      anonymousPullEnabled: false,
      tags,
    });
    this.registryTargets = [`${this.registry.terraformResourceType}.${this.registry.friendlyUniqueId}`];
    const registryServer = `${this.names.containerRegistry.toLowerCase()}.azurecr.io`;
    const image = (name: ImageName) => imageRef(registryServer, name, azure.image_tag);

    const identity = (key: keyof AzureNames['identities']) =>
      new UserAssignedIdentity(this, `identity-${key}`, { name: this.names.identities[key], location, resourceGroupName, tags });
    this.identities = {
      training: identity('training'),
      ingestion: source ? identity('ingestion') : undefined,
      serving: modelVersion ? identity('serving') : undefined,
    };

    this.dataLake = new DataLake(this, 'data', {
      accountName: this.names.storageAccount,
      containerName: this.names.dataContainer,
      resourceGroupName,
      env,
      tags,
    });
    const training = this.identities.training;
    // Training reads processed data, writes checkpoints, its package and state, and registers the version.
    this.dataLake.grantPrefixes('training-reads', training.principalId, 'Storage Blob Data Reader', [paths.processed]);
    this.dataLake.grantPrefixes('training-writes', training.principalId, 'Storage Blob Data Contributor', [
      paths.models,
      paths.checkpoints,
      paths.state,
      paths.registry,
    ]);
    this.grantAcrPull('training', training);

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

    this.ml = new MlWorkspace(this, 'ml', {
      env,
      resourceGroupName,
      names: this.names,
      storageAccountId: this.dataLake.account.id,
      keyVaultId: this.keyVault.id,
      containerRegistryId: this.registry.id,
      trainingIdentityId: training.id,
      tags,
    });

    this.alerts = new Alerts(this, 'alerts', {
      resourceGroupName,
      alarmEmail: env.alarm_email,
      actionGroupName: this.names.actionGroup,
      actionGroupShortName: this.names.actionGroupShortName,
      tags,
    });
    if (!env.alarm_email) {
      Annotations.of(this).addWarning(
        `No alarm_email is set for ${env.name}, so no action group is declared and the alerts notify nobody. ` +
          `Set alarm_email in config/environments/${env.name}.json.`,
      );
    }
    this.alerts.addTraining(this.names.mlWorkspace, this.ml.workspace.id);

    if (source || modelVersion) {
      this.apps = new ContainerApps(this, 'apps', {
        env,
        resourceGroupName,
        environmentName: this.names.containerAppsEnvironment,
        logAnalyticsWorkspaceId: this.ml.logs.id,
        registryServer: this.registry.loginServer,
        tags,
      });
    }

    if (source && this.apps && this.identities.ingestion) {
      const ingestion = this.identities.ingestion;
      const grants = [
        this.dataLake.grantPrefixes('ingestion-writes', ingestion.principalId, 'Storage Blob Data Contributor', [paths.raw, paths.processed, paths.state]),
        this.grantAcrPull('ingestion', ingestion),
        // After a complete run the ingestion container submits the training job to the GPU cluster.
        new RoleAssignment(this, 'ingestion-submits-training', {
          scope: this.ml.workspace.id,
          roleDefinitionName: AZUREML_JOB_SUBMITTER_ROLE,
          principalId: ingestion.principalId,
          principalType: 'ServicePrincipal',
          description: 'submit Azure ML training jobs to the GPU cluster and register their environments',
        }),
      ];
      const secret = tokenEnv ? this.declareApiSecret(client.objectId, ingestion.principalId) : undefined;
      this.ingestion = this.apps.addScheduledIngestion('ingestion', {
        name: this.names.ingestionJob,
        image: image('ingestion'),
        identity: ingestion,
        cron: toUnixCron(env.ingestion_schedule),
        launch: ingestionLaunch(ctx, source, tokenEnv, {
          kind: 'azureml',
          workspace: this.ml.workspace.id,
          compute: this.names.computeCluster,
          image: image('training-gpu'),
          identityClientId: training.clientId,
        }),
        apiSecretUri: secret?.uri,
        dependsOn: [...grants, ...(secret ? [secret.access] : [])],
      });
      this.alerts.addIngestion(this.names.ingestionJob, this.ingestion.id);
      new TerraformOutput(this, 'ingestion_job', { value: this.names.ingestionJob });
    } else {
      Annotations.of(this).addWarning(
        `No ingestion_source is set for ${env.name}, so no scheduled ingestion is declared. ` +
          `Set ingestion_source in config/environments/${env.name}.json to ingest on ${env.ingestion_schedule}.`,
      );
    }

    if (modelVersion && this.apps && this.identities.serving) {
      const serving = this.identities.serving;
      const grants = [
        this.dataLake.grantPrefixes('serving-reads', serving.principalId, 'Storage Blob Data Reader', [paths.models, paths.registry]),
        this.grantAcrPull('serving', serving),
      ];
      this.serving = this.apps.addServing('serving', {
        name: this.names.servingApp,
        image: image('serving'),
        identity: serving,
        launch: registryServingLaunch(ctx, modelVersion),
        dependsOn: grants,
      });
      this.alerts.addServing(this.names.servingApp, this.serving.id);
      new TerraformOutput(this, 'serving_url', { value: `https://${this.serving.latestRevisionFqdn}` });
    } else {
      Annotations.of(this).addWarning(
        `No model_version is pinned for ${env.name}${env.model_version === 'latest' ? ' ("latest" is not a pin)' : ''}, ` +
          `so serving app ${this.names.servingApp} is not declared. ` +
          `Run \`mlstack promote --model <version> --to ${env.name}\` and deploy again.`,
      );
    }

    new TerraformOutput(this, 'data_store', { value: ctx.bucket });
    new TerraformOutput(this, 'container_registry', { value: registryServer });
    new TerraformOutput(this, 'training_image', { value: image('training-gpu') });
    new TerraformOutput(this, 'compute_cluster', { value: this.names.computeCluster });
    new TerraformOutput(this, 'ml_workspace', { value: this.names.mlWorkspace });
  }

  private grantAcrPull(key: string, identity: UserAssignedIdentity): RoleAssignment {
    return new RoleAssignment(this, `${key}-acr-pull`, {
      scope: this.registry.id,
      roleDefinitionName: 'AcrPull',
      principalId: identity.principalId,
      principalType: 'ServicePrincipal',
    });
  }

  /**
   * The API token's secret: the deploying principal writes the placeholder, the ingestion identity only
   * reads it. Terraform ignores later values (the operator sets the token).
   */
  private declareApiSecret(deployerObjectId: string, ingestionPrincipalId: string): { uri: string; access: RoleAssignment } {
    const deployerWrites = new RoleAssignment(this, 'deployer-secrets-officer', {
      scope: this.keyVault.id,
      roleDefinitionName: 'Key Vault Secrets Officer',
      principalId: deployerObjectId,
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
}
