/**
 * Each cloud's naming rules, and every resource name a configured environment gives (a bucket, a container, a
 * resource group) or derives (from pipeline.project, endpoint_name and the environment's name). config/load.ts
 * checks them all when the config loads, so `mlstack config validate` and every command fail on a name a cloud
 * would refuse; runtime/contract/gcp-names.ts and azure-names.ts build the stacks' names from the same
 * derivations and check them against the same rules at synth (one spelling of each).
 */
import type { EnvironmentConfig, PipelineConfig, WithCloud } from './schema';

/** A naming rule: a description shown to the user and a predicate. */
export interface NameRule {
  rule: string;
  test: (value: string) => boolean;
}

export function patternRule(rule: string, pattern: RegExp, extra?: (value: string) => boolean): NameRule {
  return { rule, test: (value) => pattern.test(value) && (extra === undefined || extra(value)) };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

// AWS (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
export const S3_BUCKET_RULE = patternRule(
  '3-63 lowercase letters, digits, dots and dashes, starting and ending with a letter or digit, no "..", not an IP address, not starting with "xn--" or "sthree-", not ending with "-s3alias" or "--ol-s3"',
  /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  (value) =>
    !value.includes('..') &&
    !IPV4.test(value) &&
    !value.startsWith('xn--') &&
    !value.startsWith('sthree-') &&
    !value.endsWith('-s3alias') &&
    !value.endsWith('--ol-s3'),
);

// GCP.
/** Cloud Storage bucket naming rules (cloud.google.com/storage/docs/buckets#naming). */
export const GCS_BUCKET_RULE: NameRule = {
  rule: '3-63 characters (dotted names up to 222, 63 per dot-separated part) of lowercase letters, digits, dashes, underscores and dots, starting and ending with a letter or digit, not starting with "goog", not containing "google", not an IP address',
  test: (value) => {
    if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(value)) return false;
    if (value.length < 3 || value.length > (value.includes('.') ? 222 : 63)) return false;
    if (value.split('.').some((part) => part.length === 0 || part.length > 63)) return false;
    if (value.startsWith('goog') || value.includes('google')) return false;
    return !IPV4.test(value);
  },
};

/** Service account ids: 6-30 characters. */
export const SERVICE_ACCOUNT_ID_RULE = patternRule(
  '6-30 lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit',
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
);

/** Cloud Run services: at most 49 characters (the revision suffix takes the rest of 63). */
export const CLOUD_RUN_SERVICE_RULE = patternRule(
  'at most 49 lowercase letters, digits and dashes, starting with a letter, not ending with a dash',
  /^[a-z](?:[a-z0-9-]{0,47}[a-z0-9])?$/,
);

export const CLOUD_RUN_JOB_RULE = patternRule(
  'at most 63 lowercase letters, digits and dashes, starting with a letter, not ending with a dash',
  /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
);

export const ARTIFACT_REPOSITORY_RULE = patternRule(
  'at most 63 lowercase letters, digits and dashes, starting with a letter, ending with a letter or digit',
  /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
);

export const SECRET_ID_RULE = patternRule('1-255 letters, digits, dashes and underscores', /^[A-Za-z0-9_-]{1,255}$/);

// Azure (learn.microsoft.com "Naming rules and restrictions for Azure resources").
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

/** One resource name of one environment's stack: its value, the rule it must meet and the config key to change. */
export interface ResourceName {
  /** How synth names it: the config key, or the derivation, e.g. `service account (pipeline.project + env + "-ingest")`. */
  key: string;
  value: string;
  /** What the name names, e.g. "GCP service account". */
  resource: string;
  /** The cloud's rule; absent for a name the config's own patterns already keep valid. */
  rule?: NameRule;
  /** Where the name comes from: a key of the environment's file, or of pipeline.json (a derived name). */
  source: { file: 'environment' | 'pipeline'; keyPath: string };
}

/** A name derived from the environment's name alone. */
function fromEnvName(key: string, resource: string, value: string, rule: NameRule): ResourceName {
  return { key, value, resource, rule, source: { file: 'environment', keyPath: 'name' } };
}

type NamingPipeline = Pick<PipelineConfig, 'project' | 'endpoint_name'>;

function fromEnv(keyPath: string, resource: string, value: string, rule: NameRule): ResourceName {
  return { key: keyPath, value, resource, rule, source: { file: 'environment', keyPath } };
}

function fromPipeline(keyPath: 'project' | 'endpoint_name', key: string, resource: string, value: string, rule?: NameRule): ResourceName {
  return { key, value, resource, rule, source: { file: 'pipeline', keyPath } };
}

/** The AWS names config/ can judge: the data bucket (the rest derive from names the config's patterns keep valid). */
export function awsResourceNames(env: WithCloud<'aws'>): { bucket: ResourceName } {
  return { bucket: fromEnv('aws.storage.bucket', 'S3 bucket', env.aws.storage.bucket, S3_BUCKET_RULE) };
}

/** The names of one environment's GCP stack (runtime/contract/gcp-names.ts checks and returns them). */
export function gcpResourceNames(pipeline: NamingPipeline, env: WithCloud<'gcp'>) {
  const base = `${pipeline.project}-${env.name}`;
  const account = (suffix: string) =>
    fromPipeline('project', `service account (pipeline.project + env + "-${suffix}")`, 'GCP service account', `${base}-${suffix}`, SERVICE_ACCOUNT_ID_RULE);
  return {
    bucket: fromEnv('gcp.storage.bucket', 'Cloud Storage bucket', env.gcp.storage.bucket, GCS_BUCKET_RULE),
    artifactRepository: fromPipeline('project', 'artifact registry (pipeline.project + env)', 'Artifact Registry repository', base, ARTIFACT_REPOSITORY_RULE),
    servingService: fromPipeline(
      'endpoint_name',
      'serving service (pipeline.endpoint_name + env, lowercased)',
      'Cloud Run service',
      `${pipeline.endpoint_name.toLowerCase()}-${env.name}`,
      CLOUD_RUN_SERVICE_RULE,
    ),
    trainingJob: fromPipeline('project', 'training job (pipeline.project + env + "-training")', 'Cloud Run job', `${base}-training`, CLOUD_RUN_JOB_RULE),
    ingestionJob: fromPipeline('project', 'ingestion job (pipeline.project + env + "-ingestion")', 'Cloud Run job', `${base}-ingestion`, CLOUD_RUN_JOB_RULE),
    schedulerJob: fromPipeline('project', 'scheduler job (pipeline.project + env + "-ingestion-schedule")', 'Cloud Scheduler job', `${base}-ingestion-schedule`),
    apiSecret: fromPipeline('project', 'api secret (pipeline.project + env + "-api-secret")', 'Secret Manager secret', `${base}-api-secret`, SECRET_ID_RULE),
    ingestionAccount: account('ingest'),
    trainingAccount: account('train'),
    servingAccount: account('serve'),
    schedulerAccount: account('sched'),
  };
}

/** The names of one environment's Azure stack (runtime/contract/azure-names.ts checks and returns them). */
export function azureResourceNames(pipeline: NamingPipeline, env: WithCloud<'azure'>) {
  const base = `${pipeline.project}-${env.name}`;
  const compact = `${pipeline.project.replace(/-/g, '')}${env.name}`;
  const identity = (suffix: string) =>
    fromPipeline('project', `managed identity (pipeline.project + env + "-${suffix}")`, 'Azure managed identity', `${base}-${suffix}`, MANAGED_IDENTITY_RULE);
  return {
    resourceGroup: fromEnv('azure.resource_group', 'Azure resource group', env.azure.resource_group, RESOURCE_GROUP_RULE),
    storageAccount: fromEnv('azure.storage.bucket', 'Azure storage account', env.azure.storage.bucket, STORAGE_ACCOUNT_RULE),
    dataContainer: fromEnv('azure.storage.container', 'Azure blob container', env.azure.storage.container ?? 'mlstack', STORAGE_CONTAINER_RULE),
    containerRegistry: fromPipeline(
      'project',
      'container registry (pipeline.project without dashes + env + "acr")',
      'Azure container registry',
      `${compact}acr`,
      CONTAINER_REGISTRY_RULE,
    ),
    keyVault: fromPipeline('project', 'key vault (pipeline.project + env + "-kv")', 'Azure key vault', `${base}-kv`, KEY_VAULT_RULE),
    logAnalytics: fromPipeline('project', 'log analytics (pipeline.project + env + "-logs")', 'Log Analytics workspace', `${base}-logs`, LOG_ANALYTICS_RULE),
    appInsights: fromPipeline('project', 'app insights (pipeline.project + env + "-insights")', 'Application Insights component', `${base}-insights`),
    mlWorkspace: fromPipeline('project', 'ml workspace (pipeline.project + env + "-mlw")', 'Azure ML workspace', `${base}-mlw`, ML_WORKSPACE_RULE),
    computeCluster: fromEnvName('compute cluster ("gpu-" + env)', 'Azure ML compute cluster', `gpu-${env.name}`, COMPUTE_CLUSTER_RULE),
    containerAppsEnvironment: fromPipeline(
      'project',
      'container apps environment (pipeline.project + env + "-cae")',
      'Container Apps environment',
      `${base}-cae`,
      LOG_ANALYTICS_RULE,
    ),
    servingApp: fromPipeline(
      'endpoint_name',
      'serving app (pipeline.endpoint_name + env, lowercased)',
      'Container App',
      `${pipeline.endpoint_name.toLowerCase()}-${env.name}`,
      CONTAINER_APP_RULE,
    ),
    ingestionJob: fromPipeline('project', 'ingestion job (pipeline.project + env + "-ingest")', 'Container Apps job', `${base}-ingest`, CONTAINER_APP_RULE),
    actionGroup: fromPipeline('project', 'action group (pipeline.project + env + "-alerts")', 'Azure Monitor action group', `${base}-alerts`),
    actionGroupShortName: fromPipeline('project', 'action group short name (first 12 of pipeline.project without dashes + env)', 'action group short name', compact.slice(0, 12)),
    ingestionIdentity: identity('ingestion'),
    trainingIdentity: identity('training'),
    servingIdentity: identity('serving'),
  };
}

/** A resource name that breaks its cloud's rule. */
export interface ResourceNameProblem extends ResourceName {
  rule: NameRule;
  cloud: 'aws' | 'gcp' | 'azure';
}

/**
 * Every name of every cloud `env` configures that breaks its cloud's rule, in a stable order. Without a
 * pipeline (pipeline.json did not load) only the names the environment's file gives are judged.
 */
export function resourceNameProblems(pipeline: NamingPipeline | undefined, env: EnvironmentConfig): ResourceNameProblem[] {
  // A stand-in for a pipeline.json that did not load: the names derived from it are dropped below.
  const from = pipeline ?? { project: 'placeholder', endpoint_name: 'placeholder' };
  const names: [ResourceNameProblem['cloud'], ResourceName[]][] = [
    ['aws', env.aws ? Object.values(awsResourceNames(env as WithCloud<'aws'>)) : []],
    ['gcp', env.gcp ? Object.values(gcpResourceNames(from, env as WithCloud<'gcp'>)) : []],
    ['azure', env.azure ? Object.values(azureResourceNames(from, env as WithCloud<'azure'>)) : []],
  ];
  return names.flatMap(([cloud, list]) =>
    list
      .filter((n): n is ResourceName & { rule: NameRule } => n.rule !== undefined && !n.rule.test(n.value))
      .filter((n) => pipeline !== undefined || n.source.file === 'environment')
      .map((n) => ({ ...n, cloud })),
  );
}
