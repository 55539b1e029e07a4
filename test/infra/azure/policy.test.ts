import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName } from '../../../config/schema';
import {
  acrAdminDisabled,
  azureMinTls,
  azureNoPublicBlobs,
  checkPolicies,
  dependsOnStaticReferences,
  gpuWhereRequired,
  noOwnerOrEditor,
  type PolicyRule,
} from '../../../infra/cdktf/policy';
import { servedConfig } from '../cdktf-configs';
import { synthAzureStacks, type SynthesizedAzureStack } from './synth';

const config = loadProjectConfig('config');
let stacks: Record<EnvironmentName, SynthesizedAzureStack>;

beforeAll(() => {
  stacks = synthAzureStacks(config);
});

const context = (env: EnvironmentName) => ({ cloud: 'azure' as const, env: config.environments[env] });

/** Every azure stack passes `rule`, and a copy broken by `breakIt` is flagged by it. */
function expectRuleHolds(rule: PolicyRule, breakIt: (tf: any) => void): void {
  for (const env of ENVIRONMENTS) {
    expect(rule.check(stacks[env].json, context(env))).toEqual([]);
    const broken = JSON.parse(stacks[env].synth);
    breakIt(broken);
    const findings = rule.check(broken, context(env));
    expect(findings.length).toBeGreaterThan(0);
    expect(findings[0]!.rule).toBe(rule.id);
  }
}

const firstOf = (tf: any, type: string) => Object.values(tf.resource[type])[0] as any;

test('storage accounts require TLS 1.2', () => {
  expectRuleHolds(azureMinTls, (tf) => {
    firstOf(tf, 'azurerm_storage_account').min_tls_version = 'TLS1_0';
  });
});

test('no public blob access', () => {
  expectRuleHolds(azureNoPublicBlobs, (tf) => {
    firstOf(tf, 'azurerm_storage_container').container_access_type = 'blob';
  });
  expectRuleHolds(azureNoPublicBlobs, (tf) => {
    delete firstOf(tf, 'azurerm_storage_account').allow_nested_items_to_be_public;
  });
});

test('ACR admin user off', () => {
  expectRuleHolds(acrAdminDisabled, (tf) => {
    firstOf(tf, 'azurerm_container_registry').admin_enabled = true;
  });
});

test('no Owner or Contributor at subscription or resource group scope', () => {
  expectRuleHolds(noOwnerOrEditor, (tf) => {
    tf.resource.azurerm_role_assignment.broad = {
      scope: '${azurerm_resource_group.group.id}',
      role_definition_name: 'Contributor',
      principal_id: 'x',
    };
  });
  expectRuleHolds(noOwnerOrEditor, (tf) => {
    tf.resource.azurerm_role_assignment.broad = { scope: '/subscriptions/0000', role_definition_name: 'Owner', principal_id: 'x' };
  });
});

test('GPU where config asks for GPU: the compute cluster is an N-series size', () => {
  for (const env of ENVIRONMENTS) expect(config.environments[env].azure!.training.require_gpu).toBe(true);
  expectRuleHolds(gpuWhereRequired, (tf) => {
    firstOf(tf, 'azurerm_machine_learning_compute_cluster').vm_size = 'Standard_D4s_v5';
  });
});

test('depends_on holds static references only: the interpolation form terraform init rejects is flagged', () => {
  expectRuleHolds(dependsOnStaticReferences, (tf) => {
    firstOf(tf, 'azurerm_container_app_job').depends_on = ['${azurerm_role_assignment.ingestion-acr-pull}'];
  });
});

test('all rules together report nothing for the shipped config, nor with a pinned model and an API token', () => {
  const served = synthAzureStacks(servedConfig(config));
  for (const env of ENVIRONMENTS) {
    expect(checkPolicies(stacks[env].json, context(env))).toEqual([]);
    expect(checkPolicies(served[env].json, context(env))).toEqual([]);
  }
});
