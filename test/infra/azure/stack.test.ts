import { Testing } from 'cdktf';
// Types of the cdktf matchers (toHaveResourceWithProperties, ...) that setupJest registers.
import type {} from 'cdktf/lib/testing/adapters/jest';
Testing.setupJest();

import * as path from 'node:path';
import type { IConstruct } from 'constructs';
import { ApplicationInsights } from '@cdktf/provider-azurerm/lib/application-insights';
import { ContainerApp } from '@cdktf/provider-azurerm/lib/container-app';
import { ContainerRegistry } from '@cdktf/provider-azurerm/lib/container-registry';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { MachineLearningComputeCluster } from '@cdktf/provider-azurerm/lib/machine-learning-compute-cluster';
import { MachineLearningWorkspace } from '@cdktf/provider-azurerm/lib/machine-learning-workspace';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { ConfigError } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName } from '../../../config/schema';
import { AZUREML_JOB_SUBMITTER_ROLE, type AzureMlStack } from '../../../infra/azure/stack';
import { buildCdktfApp } from '../../../infra/cdktf/app';
import { ENV, PLATFORM_ENV, ingestionLaunch, isSecretPlaceholder, registryServingLaunch, type LaunchContext } from '../../../runtime/contract/env';
import { FIXED_PREFIXES, storagePaths } from '../../../runtime/contract/layout';
import { PINNED_VERSION, TOKEN_ENV, repoConfig, servedConfig } from '../cdktf-configs';
import { copyConfig, editJson } from '../../helpers/tmp';
import { all, only, synthAzureStacks, type SynthesizedAzureStack } from './synth';

const config = repoConfig();
const served = servedConfig(config);
let stacks: Record<EnvironmentName, SynthesizedAzureStack>;
let servedStacks: Record<EnvironmentName, SynthesizedAzureStack>;

beforeAll(() => {
  stacks = synthAzureStacks(config);
  servedStacks = synthAzureStacks(served);
});

const WORKSPACE_ID = '${azurerm_machine_learning_workspace.ml_workspace_46391A20.id}';
const ctxOf = (envName: EnvironmentName): LaunchContext => {
  const azure = config.environments[envName].azure!;
  return { cloud: 'azure', envName, project: config.pipeline.project, bucket: `az://${azure.storage.bucket}/${azure.storage.container}` };
};
const plainEnv = (env: Record<string, string>) => Object.entries(env).map(([name, value]) => ({ name, value }));
const identityClientId = (key: string) => `\${azurerm_user_assigned_identity.identity-${key}.client_id}`;
const warningsOf = (construct: IConstruct): string[] =>
  construct.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === '@cdktf/warn').map((m) => String(m.data)));

describe.each(ENVIRONMENTS)('azure-%s (repository config: ingestion_source set, no model pinned, no API token)', (envName) => {
  const env = config.environments[envName];
  const azure = env.azure!;
  /** The project's prefixes in the bucket: what the stack grants. */
  const paths = storagePaths(env, 'azure', config.pipeline.project);
  const synth = () => stacks[envName].synth;
  const json = () => stacks[envName].json;
  const acr = `${config.pipeline.project}${envName}acr`;
  const roleOf = (name: string) => all(json(), 'azurerm_role_assignment').filter((a) => a.role_definition_name === name);

  test('resource group and storage account named from config; TLS 1.2, no public blobs, versioning', () => {
    expect(synth()).toHaveResourceWithProperties(ResourceGroup, { name: azure.resource_group, location: azure.region });
    expect(synth()).toHaveResourceWithProperties(StorageAccount, {
      name: azure.storage.bucket,
      min_tls_version: 'TLS1_2',
      allow_nested_items_to_be_public: false,
      https_traffic_only_enabled: true,
    });
    expect(only(json(), 'azurerm_storage_account').blob_properties.versioning_enabled).toBe(true);
    expect(synth()).toHaveResourceWithProperties(StorageContainer, { name: azure.storage.container, container_access_type: 'private' });
  });

  test('ACR with the admin user off; its address is the registry target the deploy applies first', () => {
    expect(synth()).toHaveResourceWithProperties(ContainerRegistry, { name: acr, admin_enabled: false, anonymous_pull_enabled: false });
    expect(stacks[envName].stack.registryTargets).toEqual(['azurerm_container_registry.registry']);
    expect(json().resource.azurerm_container_registry.registry).toBeDefined();
  });

  test('Key Vault with RBAC; purge protection where the environment is retained; no secret without token_env', () => {
    expect(synth()).toHaveResourceWithProperties(KeyVault, {
      name: `${config.pipeline.project}-${envName}-kv`,
      rbac_authorization_enabled: true,
      purge_protection_enabled: env.retain_on_delete,
    });
    expect(json().resource.azurerm_key_vault_secret).toBeUndefined();
    expect(roleOf('Key Vault Secrets Officer')).toEqual([]);
    expect(roleOf('Key Vault Secrets User')).toEqual([]);
  });

  test('Log Analytics, Application Insights on it, and the ML workspace', () => {
    expect(synth()).toHaveResource(LogAnalyticsWorkspace);
    expect(synth()).toHaveResourceWithProperties(ApplicationInsights, { workspace_id: '${azurerm_log_analytics_workspace.ml_logs_BC623211.id}' });
    expect(synth()).toHaveResourceWithProperties(MachineLearningWorkspace, {
      name: `${config.pipeline.project}-${envName}-mlw`,
      identity: { type: 'SystemAssigned' },
    });
  });

  test('GPU compute cluster: a current vm size, max nodes from config, min 0, runs as the training identity', () => {
    expect(azure.training.instance_type).not.toBe('Standard_NC6s_v3');
    expect(synth()).toHaveResourceWithProperties(MachineLearningComputeCluster, {
      vm_size: azure.training.instance_type,
      vm_priority: azure.training.spot ? 'LowPriority' : 'Dedicated',
      scale_settings: { min_node_count: 0, max_node_count: azure.training.instance_count, scale_down_nodes_after_idle_duration: 'PT15M' },
      identity: { type: 'UserAssigned', identity_ids: ['${azurerm_user_assigned_identity.identity-training.id}'] },
    });
  });

  test('scheduled ingestion: exactly the contract launch submitting training to the cluster, plus AZURE_CLIENT_ID; no token without token_env', () => {
    const job = only(json(), 'azurerm_container_app_job');
    expect(job.schedule_trigger_config.cron_expression).toBe('0 2 * * *');
    const container = job.template.container[0];
    expect(container.image).toBe(`${acr}.azurecr.io/ingestion:${azure.image_tag}`);
    expect(container.args).toEqual(['ingest']);
    const launch = ingestionLaunch(ctxOf(envName), env.ingestion_source!, undefined, {
      kind: 'azureml',
      workspace: WORKSPACE_ID,
      compute: `gpu-${envName}`,
      image: `${acr}.azurecr.io/training-gpu:${azure.image_tag}`,
      identityClientId: identityClientId('training'),
    });
    expect(container.env).toEqual([...plainEnv(launch.env), { name: PLATFORM_ENV.azureClientId, value: identityClientId('ingestion') }]);
    expect(job.secret).toBeUndefined();
  });

  test('the ingestion identity may submit Azure ML jobs on the workspace only', () => {
    const submit = roleOf(AZUREML_JOB_SUBMITTER_ROLE);
    expect(AZUREML_JOB_SUBMITTER_ROLE).toBe('AzureML Data Scientist');
    expect(submit).toHaveLength(1);
    expect(submit[0]).toMatchObject({ scope: WORKSPACE_ID, principal_id: '${azurerm_user_assigned_identity.identity-ingestion.principal_id}' });
    expect(only(json(), 'azurerm_container_app_job').depends_on).toContain('azurerm_role_assignment.ingestion-submits-training');
  });

  test('identities for training and ingestion, pulling from ACR with AcrPull on the registry only; none for serving while no model is pinned', () => {
    expect(all(json(), 'azurerm_user_assigned_identity').map((i) => i.name).sort()).toEqual(
      ['ingestion', 'training'].map((j) => `${config.pipeline.project}-${envName}-${j}`),
    );
    const pulls = roleOf('AcrPull');
    expect(pulls).toHaveLength(2);
    for (const p of pulls) expect(p.scope).toBe('${azurerm_container_registry.registry.id}');
  });

  test('blob roles on the data container, narrowed to prefixes: training writes models, checkpoints, state and registry', () => {
    const blobRoles = [...roleOf('Storage Blob Data Reader'), ...roleOf('Storage Blob Data Contributor')];
    expect(blobRoles).toHaveLength(3);
    for (const r of blobRoles) {
      expect(r.scope).toBe('${azurerm_storage_container.data_container_2CACE364.id}');
      expect(r.condition_version).toBe('2.0');
    }
    const trainingWrites = blobRoles.find((r) => r.principal_id.includes('identity-training') && r.role_definition_name === 'Storage Blob Data Contributor');
    for (const prefix of [paths.models, paths.checkpoints, paths.state, paths.registry]) {
      expect(trainingWrites.condition).toContain(`StringStartsWith '${prefix}'`);
    }
    expect(trainingWrites.condition).not.toContain(paths.raw);
  });

  test('alerts: an action group mailing alarm_email; failed ingestion executions and failed Azure ML runs', () => {
    expect(only(json(), 'azurerm_monitor_action_group')).toMatchObject({
      name: `${config.pipeline.project}-${envName}-alerts`,
      email_receiver: [expect.objectContaining({ email_address: env.alarm_email })],
    });
    expect(only(json(), 'azurerm_monitor_action_group').short_name.length).toBeLessThanOrEqual(12);
    const alerts = all(json(), 'azurerm_monitor_metric_alert');
    const byMetric = Object.fromEntries(alerts.map((a) => [`${a.criteria[0].metric_namespace} ${a.criteria[0].metric_name}`, a]));
    expect(Object.keys(byMetric).sort()).toEqual(['Microsoft.App/jobs Executions', 'Microsoft.MachineLearningServices/workspaces Failed Runs']);
    expect(byMetric['Microsoft.App/jobs Executions'].criteria[0].dimension).toEqual([{ name: 'state', operator: 'Include', values: ['Failed'] }]);
    expect(byMetric['Microsoft.App/jobs Executions'].scopes).toEqual(['${azurerm_container_app_job.apps_ingestion_E713F59B.id}']);
    expect(byMetric['Microsoft.MachineLearningServices/workspaces Failed Runs'].scopes).toEqual([WORKSPACE_ID]);
    for (const a of alerts) expect(a.action).toEqual([{ action_group_id: '${azurerm_monitor_action_group.alerts_action-group_63C7DD8F.id}' }]);
  });

  test('no model pinned: no serving app, no serving alerts, no serving_url, and a warning that says how to pin one', () => {
    expect(json().resource.azurerm_container_app).toBeUndefined();
    expect(json().output.serving_url).toBeUndefined();
    expect(Object.keys(json().output).sort()).toEqual(['compute_cluster', 'container_registry', 'data_store', 'ingestion_job', 'ml_workspace', 'training_image']);
    expect(warningsOf(stacks[envName].stack)).toContainEqual(expect.stringContaining(`mlstack promote --model <version> --to ${envName}`));
  });
});

describe.each(ENVIRONMENTS)('azure-%s with a pinned model and an API token (served config)', (envName) => {
  const env = served.environments[envName];
  const azure = env.azure!;
  /** The project's prefixes in the bucket: what the stack grants. */
  const paths = storagePaths(env, 'azure', served.pipeline.project);
  const synth = () => servedStacks[envName].synth;
  const json = () => servedStacks[envName].json;
  const acr = `${config.pipeline.project}${envName}acr`;
  const roleOf = (name: string) => all(json(), 'azurerm_role_assignment').filter((a) => a.role_definition_name === name);

  test('serving: Container App on CPU, port 8080, /ping readiness and /live liveness probes, HTTP concurrency rule, min/max from config', () => {
    expect(synth()).toHaveResourceWithProperties(ContainerApp, {
      name: `${config.pipeline.endpoint_name}-${envName}`,
      ingress: expect.objectContaining({ target_port: 8080, external_enabled: true }),
    });
    const app = only(json(), 'azurerm_container_app');
    const template = app.template;
    expect(template.min_replicas).toBe(azure.serving.autoscaling.min_capacity);
    expect(template.max_replicas).toBe(azure.serving.autoscaling.max_capacity);
    expect(template.http_scale_rule).toEqual([{ name: 'http-concurrency', concurrent_requests: String(azure.serving.autoscaling.target_value) }]);
    const container = template.container[0];
    expect(container.image).toBe(`${acr}.azurecr.io/serving:${azure.image_tag}`);
    expect(container.args).toEqual(['serve']);
    expect(container.readiness_probe[0]).toMatchObject({ path: '/ping', port: 8080, transport: 'HTTP' });
    expect(container.liveness_probe[0]).toMatchObject({ path: '/live', port: 8080, transport: 'HTTP' });
    expect(container.cpu).toBe(Number(azure.serving.cpu));
    expect(app.secret).toBeUndefined();
  });

  test('serving env: exactly the registry launch, PORT and AZURE_CLIENT_ID (no Application Insights string, no MLSTACK_ENV/CLOUD/BUCKET)', () => {
    const container = only(json(), 'azurerm_container_app').template.container[0];
    expect(container.env).toEqual([
      ...plainEnv(registryServingLaunch(ctxOf(envName), PINNED_VERSION).env),
      { name: PLATFORM_ENV.port, value: '8080' },
      { name: PLATFORM_ENV.azureClientId, value: identityClientId('serving') },
    ]);
    expect(container.env.map((e: any) => e.name)).not.toEqual(expect.arrayContaining([ENV.env]));
    expect(json().output.serving_url.value).toBe('https://${azurerm_container_app.apps_serving_2519F256.latest_revision_fqdn}');
  });

  test('the serving identity reads models and registry only', () => {
    const reads = roleOf('Storage Blob Data Reader').find((r) => r.principal_id.includes('identity-serving'));
    expect(reads.condition).toContain(`StringStartsWith '${paths.models}'`);
    expect(reads.condition).toContain(`StringStartsWith '${FIXED_PREFIXES.registry}'`);
    expect(reads.condition).not.toContain(azure.storage.processed_path);
  });

  test('API secret: a placeholder the runtime refuses, read by the ingestion identity only, in token_env', () => {
    const secret = only(json(), 'azurerm_key_vault_secret');
    expect(isSecretPlaceholder(secret.value)).toBe(true);
    expect(secret.value).toContain(`--vault-name ${config.pipeline.project}-${envName}-kv`);
    const users = roleOf('Key Vault Secrets User');
    expect(users).toHaveLength(1);
    expect(users[0].principal_id).toContain('identity-ingestion');
    expect(users[0].scope).toBe('${azurerm_key_vault_secret.api-secret.resource_versionless_id}');
    const job = only(json(), 'azurerm_container_app_job');
    expect(job.secret[0]).toMatchObject({ name: 'api-token', key_vault_secret_id: '${azurerm_key_vault_secret.api-secret.versionless_id}' });
    expect(job.template.container[0].env).toContainEqual({ name: TOKEN_ENV, secret_name: 'api-token' });
    expect(job.depends_on).toContain('azurerm_role_assignment.ingestion-secrets-user');
  });

  test('serving alerts: 5xx requests and response time on the Container App, to the action group', () => {
    const alerts = all(json(), 'azurerm_monitor_metric_alert').filter((a) => a.criteria[0].metric_namespace === 'Microsoft.App/containerApps');
    expect(alerts.map((a) => a.criteria[0].metric_name).sort()).toEqual(['Requests', 'ResponseTime']);
    const errors = alerts.find((a) => a.criteria[0].metric_name === 'Requests');
    expect(errors.criteria[0].dimension).toEqual([{ name: 'statusCodeCategory', operator: 'Include', values: ['5xx'] }]);
    for (const a of alerts) {
      expect(a.scopes).toEqual(['${azurerm_container_app.apps_serving_2519F256.id}']);
      expect(a.action).toHaveLength(1);
    }
  });
});

function buildWith(edit: (dir: string) => void, envName: EnvironmentName = 'dev'): AzureMlStack {
  const dir = copyConfig();
  edit(dir);
  const app = buildCdktfApp({ configDir: dir, clouds: ['azure'], environments: [envName], backendEnv: {} });
  return app.node.findChild(`azure-${envName}`) as AzureMlStack;
}

test('without alarm_email no action group is declared, the alerts notify nobody, and a warning says what to set', () => {
  const stack = buildWith((dir) => editJson(path.join(dir, 'environments', 'dev.json'), (doc) => delete doc.alarm_email));
  const json = JSON.parse(Testing.synth(stack));
  expect(json.resource.azurerm_monitor_action_group).toBeUndefined();
  for (const alert of all(json, 'azurerm_monitor_metric_alert')) expect(alert.action).toBeUndefined();
  expect(warningsOf(stack)).toContainEqual(expect.stringContaining('Set alarm_email in config/environments/dev.json'));
});

test('without ingestion_source no ingestion job or identity is declared, and a warning says what to set', () => {
  const stack = buildWith((dir) => editJson(path.join(dir, 'environments', 'dev.json'), (doc) => delete doc.ingestion_source));
  const json = JSON.parse(Testing.synth(stack));
  expect(json.resource.azurerm_container_app_job).toBeUndefined();
  expect(json.resource.azurerm_container_app_environment).toBeUndefined();
  expect(all(json, 'azurerm_user_assigned_identity').map((i) => i.name)).toEqual([`${config.pipeline.project}-dev-training`]);
  expect(all(json, 'azurerm_role_assignment').some((a) => a.role_definition_name === AZUREML_JOB_SUBMITTER_ROLE)).toBe(false);
  expect(warningsOf(stack)).toContainEqual(expect.stringContaining('Set ingestion_source in config/environments/dev.json'));
});

test('auth with only token_file fails synth: the deployed job receives the token as an environment variable', () => {
  const build = () =>
    buildWith((dir) =>
      editJson(path.join(dir, 'parser.json'), (doc) => {
        doc.ingestion.auth = { token_file: '/run/secrets/api-token' };
      }),
    );
  expect(build).toThrow(ConfigError);
  expect(build).toThrow(/ingestion\.auth\.token_env: .*set token_env/);
});
