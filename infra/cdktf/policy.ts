/**
 * Policy rules over synthesized Terraform JSON (cdktf.out/stacks/<stack>/cdk.tf.json):
 * one small pure function per rule, each returning the resources that break it.
 * Tests run every rule over every stack; `checkPolicies` is what a CI gate calls.
 */
import type { EnvironmentConfig } from '../../config/schema';

/** The parts of a synthesized stack the rules read. */
export interface TerraformJson {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
}

export interface PolicyContext {
  cloud: 'gcp' | 'azure';
  env: EnvironmentConfig;
}

export interface PolicyFinding {
  rule: string;
  /** `<resource type>.<name>` */
  resource: string;
  message: string;
}

export interface PolicyRule {
  id: string;
  description: string;
  check: (tf: TerraformJson, context: PolicyContext) => PolicyFinding[];
}

type Resource = Record<string, unknown>;

function resourcesOf(tf: TerraformJson, type: string): [string, Resource][] {
  return Object.entries(tf.resource?.[type] ?? {}).map(([name, body]) => [`${type}.${name}`, body]);
}

function resourcesMatching(tf: TerraformJson, test: (type: string) => boolean): [string, Resource][] {
  return Object.keys(tf.resource ?? {})
    .filter(test)
    .flatMap((type) => resourcesOf(tf, type));
}

function finding(rule: string, resource: string, message: string): PolicyFinding {
  return { rule, resource, message };
}

export const gcsUniformAccess: PolicyRule = {
  id: 'gcs-uniform-bucket-level-access',
  description: 'Every GCS bucket uses uniform bucket-level access (no object ACLs).',
  check: (tf) =>
    resourcesOf(tf, 'google_storage_bucket')
      .filter(([, b]) => b.uniform_bucket_level_access !== true)
      .map(([id]) => finding('gcs-uniform-bucket-level-access', id, 'set uniform_bucket_level_access = true')),
};

export const gcsPublicAccessPrevention: PolicyRule = {
  id: 'gcs-public-access-prevention',
  description: 'Every GCS bucket enforces public access prevention.',
  check: (tf) =>
    resourcesOf(tf, 'google_storage_bucket')
      .filter(([, b]) => b.public_access_prevention !== 'enforced')
      .map(([id]) => finding('gcs-public-access-prevention', id, 'set public_access_prevention = "enforced"')),
};

export const azureMinTls: PolicyRule = {
  id: 'azure-storage-min-tls-1-2',
  description: 'Every storage account refuses TLS below 1.2 and plain HTTP.',
  check: (tf) =>
    resourcesOf(tf, 'azurerm_storage_account')
      .filter(([, a]) => a.min_tls_version !== 'TLS1_2' || a.https_traffic_only_enabled === false)
      .map(([id]) => finding('azure-storage-min-tls-1-2', id, 'set min_tls_version = "TLS1_2" and keep HTTPS only')),
};

export const azureNoPublicBlobs: PolicyRule = {
  id: 'azure-no-public-blobs',
  description: 'No storage account allows public blobs and every container is private.',
  check: (tf) => [
    ...resourcesOf(tf, 'azurerm_storage_account')
      .filter(([, a]) => a.allow_nested_items_to_be_public !== false)
      .map(([id]) => finding('azure-no-public-blobs', id, 'set allow_nested_items_to_be_public = false')),
    ...resourcesOf(tf, 'azurerm_storage_container')
      .filter(([, c]) => c.container_access_type !== undefined && c.container_access_type !== 'private')
      .map(([id]) => finding('azure-no-public-blobs', id, 'set container_access_type = "private"')),
  ],
};

export const acrAdminDisabled: PolicyRule = {
  id: 'acr-admin-disabled',
  description: 'Container registries have the admin user and anonymous pull turned off.',
  check: (tf) =>
    resourcesOf(tf, 'azurerm_container_registry')
      .filter(([, r]) => r.admin_enabled !== false || r.anonymous_pull_enabled === true)
      .map(([id]) => finding('acr-admin-disabled', id, 'set admin_enabled = false (pull with a managed identity and AcrPull)')),
};

const GCP_BROAD_ROLES = new Set(['roles/owner', 'roles/editor']);
const AZURE_BROAD_ROLES = new Set(['Owner', 'Contributor', 'User Access Administrator']);

/** A role assignment scope that is a whole subscription or resource group rather than one resource. */
function isBroadAzureScope(scope: unknown): boolean {
  if (typeof scope !== 'string') return true;
  if (/azurerm_resource_group\.|azurerm_subscription|data\.azurerm_client_config/.test(scope)) return true;
  return /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?\/?$/i.test(scope);
}

export const noOwnerOrEditor: PolicyRule = {
  id: 'no-owner-or-editor-roles',
  description: 'No principal is granted roles/owner, roles/editor, or Owner/Contributor/User Access Administrator at subscription or resource group scope.',
  check: (tf) => [
    ...resourcesMatching(tf, (t) => t.startsWith('google_') && /_iam_(member|binding)$/.test(t))
      .filter(([, m]) => GCP_BROAD_ROLES.has(String(m.role)))
      .map(([id, m]) => finding('no-owner-or-editor-roles', id, `grants ${String(m.role)}: grant a narrow predefined role instead`)),
    ...resourcesMatching(tf, (t) => t.startsWith('google_') && /_iam_policy$/.test(t)).map(([id]) =>
      finding('no-owner-or-editor-roles', id, 'authoritative IAM policies replace existing grants: use *_iam_member'),
    ),
    ...resourcesOf(tf, 'azurerm_role_assignment')
      .filter(([, a]) => AZURE_BROAD_ROLES.has(String(a.role_definition_name)) && isBroadAzureScope(a.scope))
      .map(([id, a]) =>
        finding('no-owner-or-editor-roles', id, `grants ${String(a.role_definition_name)} on ${String(a.scope)}: scope a narrow role to one resource`),
      ),
  ],
};

interface CloudRunContainer {
  args?: string[];
  resources?: { limits?: Record<string, string> };
}

export const gpuWhereRequired: PolicyRule = {
  id: 'gpu-where-config-requires',
  description: 'When training.require_gpu is set, the training compute actually has a GPU.',
  check: (tf, { cloud, env }) => {
    if (!env[cloud]?.training.require_gpu) return [];
    const rule = 'gpu-where-config-requires';
    if (cloud === 'gcp') {
      const trainingJobs = resourcesOf(tf, 'google_cloud_run_v2_job').filter(([, job]) => {
        const containers = ((job.template as Resource)?.template as Resource)?.containers as CloudRunContainer[] | undefined;
        return containers?.some((c) => c.args?.[0] === 'train');
      });
      if (trainingJobs.length === 0) return [finding(rule, 'google_cloud_run_v2_job', 'require_gpu is set but no training job is declared')];
      return trainingJobs.flatMap(([id, job]) => {
        const template = (job.template as Resource).template as Resource;
        const accelerator = (template.node_selector as Resource | undefined)?.accelerator;
        const containers = template.containers as CloudRunContainer[];
        const gpus = Number(containers.find((c) => c.args?.[0] === 'train')?.resources?.limits?.['nvidia.com/gpu'] ?? 0);
        return accelerator && gpus >= 1 ? [] : [finding(rule, id, 'require_gpu is set: add node_selector.accelerator and an nvidia.com/gpu limit')];
      });
    }
    const clusters = resourcesOf(tf, 'azurerm_machine_learning_compute_cluster');
    if (clusters.length === 0) return [finding(rule, 'azurerm_machine_learning_compute_cluster', 'require_gpu is set but no compute cluster is declared')];
    return clusters
      .filter(([, c]) => !/^Standard_N[CDV]\d/i.test(String(c.vm_size)))
      .map(([id, c]) => finding(rule, id, `require_gpu is set but vm_size ${String(c.vm_size)} has no GPU (use an N-series size)`));
  },
};

/** `type.name` or `data.type.name`: the only form Terraform takes in depends_on. */
const STATIC_REFERENCE = /^(data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][\w-]*$/;

export const dependsOnStaticReferences: PolicyRule = {
  id: 'depends-on-static-references',
  description: 'Every depends_on entry is a static resource reference (type.name), never an interpolation string Terraform rejects.',
  check: (tf) =>
    resourcesMatching(tf, () => true).flatMap(([id, body]) =>
      ((body.depends_on as unknown[] | undefined) ?? [])
        .filter((entry) => typeof entry !== 'string' || !STATIC_REFERENCE.test(entry))
        .map((entry) =>
          finding('depends-on-static-references', id, `depends_on entry ${JSON.stringify(entry)} is not a static reference: depend on the construct (cdktf writes type.name)`),
        ),
    ),
};

export const POLICY_RULES: readonly PolicyRule[] = [
  gcsUniformAccess,
  gcsPublicAccessPrevention,
  azureMinTls,
  azureNoPublicBlobs,
  acrAdminDisabled,
  noOwnerOrEditor,
  gpuWhereRequired,
  dependsOnStaticReferences,
];

export function checkPolicies(tf: TerraformJson, context: PolicyContext, rules: readonly PolicyRule[] = POLICY_RULES): PolicyFinding[] {
  return rules.flatMap((rule) => rule.check(tf, context));
}
