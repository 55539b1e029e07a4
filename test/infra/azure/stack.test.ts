import { Testing } from 'cdktf';
// Types of the cdktf matchers (toHaveResourceWithProperties, ...) that setupJest registers.
import type {} from 'cdktf/lib/testing/adapters/jest';
Testing.setupJest();

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
import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName } from '../../../config/schema';
import { all, only, synthAzureStacks, type SynthesizedAzureStack } from './synth';

const config = loadProjectConfig('config');
let stacks: Record<EnvironmentName, SynthesizedAzureStack>;

beforeAll(() => {
  stacks = synthAzureStacks(config);
});

describe.each(ENVIRONMENTS)('azure-%s', (envName) => {
  const env = config.environments[envName];
  const azure = env.azure!;
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

  test('ACR with the admin user off', () => {
    expect(synth()).toHaveResourceWithProperties(ContainerRegistry, { name: acr, admin_enabled: false, anonymous_pull_enabled: false });
  });

  test('Key Vault with RBAC; purge protection where the environment is retained', () => {
    expect(synth()).toHaveResourceWithProperties(KeyVault, {
      name: `${config.pipeline.project}-${envName}-kv`,
      rbac_authorization_enabled: true,
      purge_protection_enabled: env.retain_on_delete,
    });
  });

  test('Log Analytics, Application Insights on it, and the ML workspace', () => {
    expect(synth()).toHaveResource(LogAnalyticsWorkspace);
    expect(synth()).toHaveResourceWithProperties(ApplicationInsights, { workspace_id: '${azurerm_log_analytics_workspace.ml_logs_BC623211.id}' });
    expect(synth()).toHaveResourceWithProperties(MachineLearningWorkspace, {
      name: `${config.pipeline.project}-${envName}-mlw`,
      identity: { type: 'SystemAssigned' },
    });
  });

  test('GPU compute cluster: vm size and max nodes from config, min 0, low priority when spot', () => {
    expect(synth()).toHaveResourceWithProperties(MachineLearningComputeCluster, {
      vm_size: azure.training.instance_type,
      vm_priority: azure.training.spot ? 'LowPriority' : 'Dedicated',
      scale_settings: { min_node_count: 0, max_node_count: azure.training.instance_count, scale_down_nodes_after_idle_duration: 'PT15M' },
    });
  });

  test('serving: Container App on CPU, port 8080, /ping readiness and /live liveness probes, HTTP concurrency rule, min/max from config', () => {
    expect(synth()).toHaveResourceWithProperties(ContainerApp, {
      name: `${config.pipeline.endpoint_name}-${envName}`,
      ingress: expect.objectContaining({ target_port: 8080, external_enabled: true }),
    });
    const template = only(json(), 'azurerm_container_app').template;
    expect(template.min_replicas).toBe(azure.serving.autoscaling.min_capacity);
    expect(template.max_replicas).toBe(azure.serving.autoscaling.max_capacity);
    expect(template.http_scale_rule).toEqual([{ name: 'http-concurrency', concurrent_requests: String(azure.serving.autoscaling.target_value) }]);
    const container = template.container[0];
    expect(container.image).toBe(`${acr}.azurecr.io/serving:${azure.image_tag}`);
    expect(container.args).toEqual(['serve']);
    expect(container.readiness_probe[0]).toMatchObject({ path: '/ping', port: 8080, transport: 'HTTP' });
    expect(container.liveness_probe[0]).toMatchObject({ path: '/live', port: 8080, transport: 'HTTP' });
    expect(container.env).toEqual(expect.arrayContaining([{ name: 'PORT', value: '8080' }]));
    expect(template.container[0].cpu).toBe(Number(azure.serving.cpu));
    const app = only(json(), 'azurerm_container_app');
    expect(app.secret).toEqual([{ name: 'applicationinsights-connection-string', value: '${azurerm_application_insights.ml_insights_1A30BFF1.connection_string}' }]);
    expect(container.env).toEqual(
      expect.arrayContaining([{ name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', secret_name: 'applicationinsights-connection-string' }]),
    );
    expect(container.env).toEqual(expect.arrayContaining([{ name: 'MLSTACK_BUCKET', value: `az://${azure.storage.bucket}/${azure.storage.container}` }]));
    // The names runtime/serving/entrypoint.ts reads to resolve the pinned version from the container's registry.
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'MLSTACK_MODEL_VERSION', value: env.model_version ?? 'latest' },
        { name: 'MLSTACK_REGISTRY_URI', value: `az://${azure.storage.bucket}/${azure.storage.container}/` },
      ]),
    );
  });

  test('scheduled ingestion: Container Apps job on a cron trigger, token from Key Vault', () => {
    const job = only(json(), 'azurerm_container_app_job');
    expect(job.schedule_trigger_config.cron_expression).toBe('0 2 * * *');
    expect(job.template.container[0].image).toBe(`${acr}.azurecr.io/ingestion:${azure.image_tag}`);
    expect(job.secret[0]).toMatchObject({ name: 'api-token', key_vault_secret_id: '${azurerm_key_vault_secret.api-secret.versionless_id}' });
    expect(job.template.container[0].env).toEqual(expect.arrayContaining([{ name: 'MLSTACK_API_TOKEN', secret_name: 'api-token' }]));
  });

  test('one user-assigned identity per job, pulling from ACR with AcrPull on the registry only', () => {
    expect(all(json(), 'azurerm_user_assigned_identity').map((i) => i.name).sort()).toEqual(
      ['ingestion', 'serving', 'training'].map((j) => `${config.pipeline.project}-${envName}-${j}`),
    );
    const pulls = roleOf('AcrPull');
    expect(pulls).toHaveLength(3);
    for (const p of pulls) expect(p.scope).toBe('${azurerm_container_registry.registry.id}');
  });

  test('blob roles are scoped to the data container and narrowed to prefixes', () => {
    const blobRoles = [...roleOf('Storage Blob Data Reader'), ...roleOf('Storage Blob Data Contributor')];
    expect(blobRoles).toHaveLength(4);
    for (const r of blobRoles) {
      expect(r.scope).toBe('${azurerm_storage_container.data_container_2CACE364.id}');
      expect(r.condition_version).toBe('2.0');
    }
    const servingReads = blobRoles.find((r) => r.principal_id.includes('identity-serving'));
    expect(servingReads.role_definition_name).toBe('Storage Blob Data Reader');
    expect(servingReads.condition).toContain(`StringStartsWith '${azure.storage.models_path}'`);
    expect(servingReads.condition).not.toContain(azure.storage.raw_path);
  });

  test('only the ingestion identity reads the API secret (Key Vault Secrets User on that secret)', () => {
    const users = roleOf('Key Vault Secrets User');
    expect(users).toHaveLength(1);
    expect(users[0].principal_id).toContain('identity-ingestion');
    expect(users[0].scope).toBe('${azurerm_key_vault_secret.api-secret.resource_versionless_id}');
  });
});
