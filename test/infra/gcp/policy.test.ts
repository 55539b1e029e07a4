import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName } from '../../../config/schema';
import {
  checkPolicies,
  dependsOnStaticReferences,
  gcsPublicAccessPrevention,
  gcsUniformAccess,
  gpuWhereRequired,
  noOwnerOrEditor,
  type PolicyRule,
} from '../../../infra/cdktf/policy';
import { servedConfig } from '../cdktf-configs';
import { synthGcpStacks, type SynthesizedGcpStack } from './synth';

const config = loadProjectConfig('config');
let stacks: Record<EnvironmentName, SynthesizedGcpStack>;

beforeAll(() => {
  stacks = synthGcpStacks(config);
});

const context = (env: EnvironmentName) => ({ cloud: 'gcp' as const, env: config.environments[env] });
const copy = (env: EnvironmentName) => JSON.parse(stacks[env].synth);

/** Every gcp stack passes `rule`, and a copy broken by `breakIt` is flagged by it. */
function expectRuleHolds(rule: PolicyRule, breakIt: (tf: any) => void): void {
  for (const env of ENVIRONMENTS) {
    expect(rule.check(stacks[env].json, context(env))).toEqual([]);
    const broken = copy(env);
    breakIt(broken);
    const findings = rule.check(broken, context(env));
    expect(findings.length).toBeGreaterThan(0);
    expect(findings[0]!.rule).toBe(rule.id);
  }
}

const firstOf = (tf: any, type: string) => Object.values(tf.resource[type])[0] as any;

test('uniform bucket-level access on every bucket', () => {
  expectRuleHolds(gcsUniformAccess, (tf) => {
    firstOf(tf, 'google_storage_bucket').uniform_bucket_level_access = false;
  });
});

test('public access prevention enforced on every bucket', () => {
  expectRuleHolds(gcsPublicAccessPrevention, (tf) => {
    firstOf(tf, 'google_storage_bucket').public_access_prevention = 'inherited';
  });
});

test('no roles/owner or roles/editor granted', () => {
  expectRuleHolds(noOwnerOrEditor, (tf) => {
    tf.resource.google_project_iam_member = { admin: { project: 'p', role: 'roles/editor', member: 'user:a@example.com' } };
  });
});

test('GPU where config asks for GPU: the training job has an accelerator and a GPU limit', () => {
  for (const env of ENVIRONMENTS) expect(config.environments[env].gcp!.training.require_gpu).toBe(true);
  expectRuleHolds(gpuWhereRequired, (tf) => {
    const training = Object.values(tf.resource.google_cloud_run_v2_job).find(
      (j: any) => j.template.template.containers[0].args[0] === 'train',
    ) as any;
    delete training.template.template.node_selector;
  });
});

test('depends_on holds static references only: the interpolation form terraform init rejects is flagged', () => {
  expectRuleHolds(dependsOnStaticReferences, (tf) => {
    firstOf(tf, 'google_storage_bucket').depends_on = ['${google_project_service.api-storage}'];
  });
});

test('all rules together report nothing for the shipped config, nor with a pinned model and an API token', () => {
  const served = synthGcpStacks(servedConfig(config));
  for (const env of ENVIRONMENTS) {
    expect(checkPolicies(stacks[env].json, context(env))).toEqual([]);
    expect(checkPolicies(served[env].json, context(env))).toEqual([]);
  }
});
