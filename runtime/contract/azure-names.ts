import type { PipelineConfig, WithCloud } from '../../config/schema';
import { NameChecker, patternRule } from './naming';

// Rules from learn.microsoft.com "Naming rules and restrictions for Azure resources".
export const RESOURCE_GROUP_RULE = patternRule(
  '1-90 letters, digits, underscores, dashes, periods and parentheses, not ending with a period',
  /^[\w().-]{0,89}[\w()-]$/,
);
export const STORAGE_ACCOUNT_RULE = patternRule('3-24 lowercase letters and digits', /^[a-z0-9]{3,24}$/);
export const STORAGE_CONTAINER_RULE = patternRule(
  '3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit',
  /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
);
export const CONTAINER_REGISTRY_RULE = patternRule('5-50 letters and digits', /^[a-zA-Z0-9]{5,50}$/);
export const KEY_VAULT_RULE = patternRule(
  '3-24 letters, digits and single dashes, starting with a letter, ending with a letter or digit',
  /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/,
);
export const LOG_ANALYTICS_RULE = patternRule(
  '4-63 letters, digits and dashes, starting and ending with a letter or digit',
  /^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$/,
);
export const ML_WORKSPACE_RULE = patternRule(
  '3-33 letters, digits, dashes and underscores, starting with a letter or digit',
  /^[a-zA-Z0-9][\w-]{2,32}$/,
);
export const COMPUTE_CLUSTER_RULE = patternRule(
  '2-16 letters, digits and dashes, starting with a letter, not ending with a dash',
  /^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$/,
);
export const CONTAINER_APP_RULE = patternRule(
  '2-32 lowercase letters, digits and single dashes, starting with a letter, ending with a letter or digit',
  /^[a-z](?!.*--)[a-z0-9-]{0,30}[a-z0-9]$/,
);
export const MANAGED_IDENTITY_RULE = patternRule(
  '3-128 letters, digits, dashes and underscores, starting with a letter or digit',
  /^[a-zA-Z0-9][\w-]{2,127}$/,
);

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
 * Derives names from config: the resource group and storage account come from
 * azure.resource_group and azure.storage.bucket, the rest from pipeline.project,
 * endpoint_name and the environment. Throws InvalidNameError listing every problem
 * (the vm size a GPU training config needs is checked in infra/azure/limits.ts).
 */
export function azureNames(pipeline: PipelineConfig, env: WithCloud<'azure'>): AzureNames {
  const checker = new NameChecker(env.name);
  const base = `${pipeline.project}-${env.name}`;
  const compact = `${pipeline.project.replace(/-/g, '')}${env.name}`;
  const identity = (suffix: string) =>
    checker.check(`managed identity (pipeline.project + env + "-${suffix}")`, `${base}-${suffix}`, MANAGED_IDENTITY_RULE);
  const names: AzureNames = {
    resourceGroup: checker.check('azure.resource_group', env.azure.resource_group, RESOURCE_GROUP_RULE),
    storageAccount: checker.check('azure.storage.bucket', env.azure.storage.bucket, STORAGE_ACCOUNT_RULE),
    dataContainer: checker.check('azure.storage.container', env.azure.storage.container ?? 'mlstack', STORAGE_CONTAINER_RULE),
    containerRegistry: checker.check('container registry (pipeline.project without dashes + env + "acr")', `${compact}acr`, CONTAINER_REGISTRY_RULE),
    keyVault: checker.check('key vault (pipeline.project + env + "-kv")', `${base}-kv`, KEY_VAULT_RULE),
    logAnalytics: checker.check('log analytics (pipeline.project + env + "-logs")', `${base}-logs`, LOG_ANALYTICS_RULE),
    appInsights: `${base}-insights`,
    mlWorkspace: checker.check('ml workspace (pipeline.project + env + "-mlw")', `${base}-mlw`, ML_WORKSPACE_RULE),
    computeCluster: checker.check('compute cluster ("gpu-" + env)', `gpu-${env.name}`, COMPUTE_CLUSTER_RULE),
    containerAppsEnvironment: checker.check('container apps environment (pipeline.project + env + "-cae")', `${base}-cae`, LOG_ANALYTICS_RULE),
    servingApp: checker.check(
      'serving app (pipeline.endpoint_name + env, lowercased)',
      `${pipeline.endpoint_name.toLowerCase()}-${env.name}`,
      CONTAINER_APP_RULE,
    ),
    ingestionJob: checker.check('ingestion job (pipeline.project + env + "-ingest")', `${base}-ingest`, CONTAINER_APP_RULE),
    actionGroup: `${base}-alerts`,
    actionGroupShortName: compact.slice(0, 12),
    identities: { ingestion: identity('ingestion'), training: identity('training'), serving: identity('serving') },
  };
  checker.throwIfAny();
  return names;
}
