import { azureResourceNames } from '../../config/naming';
import type { PipelineConfig, WithCloud } from '../../config/schema';
import { NameChecker } from './naming';

// The rules live in config/naming.ts, so `mlstack config validate` checks the same ones synth does.
export {
  COMPUTE_CLUSTER_RULE,
  CONTAINER_APP_RULE,
  CONTAINER_REGISTRY_RULE,
  KEY_VAULT_RULE,
  LOG_ANALYTICS_RULE,
  MANAGED_IDENTITY_RULE,
  ML_WORKSPACE_RULE,
  RESOURCE_GROUP_RULE,
  STORAGE_ACCOUNT_RULE,
  STORAGE_CONTAINER_RULE,
} from '../../config/naming';

/** Azure GPU virtual machines are the N family: NC (compute), ND (deep learning), NV (visualisation). */
export function isGpuVmSize(vmSize: string): boolean {
  return /^Standard_N[CDV]\d/i.test(vmSize);
}

export interface AzureNames {
  resourceGroup: string;
  storageAccount: string;
  dataContainer: string;
  containerRegistry: string;
  keyVault: string;
  logAnalytics: string;
  appInsights: string;
  mlWorkspace: string;
  computeCluster: string;
  containerAppsEnvironment: string;
  servingApp: string;
  ingestionJob: string;
  /** Azure Monitor action group mailing alarm_email, and its short name (at most 12 characters, shown in mails). */
  actionGroup: string;
  actionGroupShortName: string;
  identities: { ingestion: string; training: string; serving: string };
}

/**
 * Derives names from config (config/naming.ts azureResourceNames): the resource group and storage account
 * come from azure.resource_group and azure.storage.bucket, the rest from pipeline.project, endpoint_name and
 * the environment. Throws InvalidNameError listing every problem (the vm size a GPU training config needs is
 * checked in infra/azure/limits.ts).
 */
export function azureNames(pipeline: PipelineConfig, env: WithCloud<'azure'>): AzureNames {
  const checker = new NameChecker(env.name);
  const n = azureResourceNames(pipeline, env);
  const names: AzureNames = {
    resourceGroup: checker.checkName(n.resourceGroup),
    storageAccount: checker.checkName(n.storageAccount),
    dataContainer: checker.checkName(n.dataContainer),
    containerRegistry: checker.checkName(n.containerRegistry),
    keyVault: checker.checkName(n.keyVault),
    logAnalytics: checker.checkName(n.logAnalytics),
    appInsights: checker.checkName(n.appInsights),
    mlWorkspace: checker.checkName(n.mlWorkspace),
    computeCluster: checker.checkName(n.computeCluster),
    containerAppsEnvironment: checker.checkName(n.containerAppsEnvironment),
    servingApp: checker.checkName(n.servingApp),
    ingestionJob: checker.checkName(n.ingestionJob),
    actionGroup: checker.checkName(n.actionGroup),
    actionGroupShortName: checker.checkName(n.actionGroupShortName),
    identities: { ingestion: checker.checkName(n.ingestionIdentity), training: checker.checkName(n.trainingIdentity), serving: checker.checkName(n.servingIdentity) },
  };
  checker.throwIfAny();
  return names;
}
