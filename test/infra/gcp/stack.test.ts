import { Testing } from 'cdktf';
// Types of the cdktf matchers (toHaveResourceWithProperties, ...) that setupJest registers.
import type {} from 'cdktf/lib/testing/adapters/jest';
Testing.setupJest();

import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository';
import { CloudRunV2Job } from '@cdktf/provider-google/lib/cloud-run-v2-job';
import { CloudRunV2Service } from '@cdktf/provider-google/lib/cloud-run-v2-service';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';
import { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret';
import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName } from '../../../config/schema';
import { all, only, synthGcpStacks, type SynthesizedGcpStack } from './synth';

const config = loadProjectConfig('config');
let stacks: Record<EnvironmentName, SynthesizedGcpStack>;

beforeAll(() => {
  stacks = synthGcpStacks(config);
});

describe.each(ENVIRONMENTS)('gcp-%s', (envName) => {
  const env = config.environments[envName];
  const gcp = env.gcp!;
  const synth = () => stacks[envName].synth;
  const json = () => stacks[envName].json;
  const registry = `${gcp.region}-docker.pkg.dev/${gcp.project_id}/${config.pipeline.project}-${envName}`;

  test('provider targets the project and region from config', () => {
    expect(synth()).toHaveProviderWithProperties(GoogleProvider, { project: gcp.project_id, region: gcp.region });
  });

  test('data bucket: name from config, uniform access, public access prevention, versioning, lifecycle', () => {
    expect(synth()).toHaveResourceWithProperties(StorageBucket, {
      name: gcp.storage.bucket,
      location: gcp.region,
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: true },
      force_destroy: !env.retain_on_delete,
    });
    const rules = only(json(), 'google_storage_bucket').lifecycle_rule;
    expect(rules).toEqual(
      expect.arrayContaining([
        { action: { type: 'Delete' }, condition: { age: 30, matches_prefix: [gcp.storage.checkpoints_path] } },
      ]),
    );
  });

  test('artifact registry: docker, with cleanup policies', () => {
    expect(synth()).toHaveResourceWithProperties(ArtifactRegistryRepository, {
      format: 'DOCKER',
      location: gcp.region,
      repository_id: `${config.pipeline.project}-${envName}`,
    });
    const repo = only(json(), 'google_artifact_registry_repository');
    expect(repo.cleanup_policies.map((p: any) => p.action).sort()).toEqual(['DELETE', 'KEEP']);
  });

  test('one service account per job', () => {
    const ids = all(json(), 'google_service_account').map((sa) => sa.account_id).sort();
    expect(ids).toEqual(['ingest', 'sched', 'serve', 'train'].map((s) => `${config.pipeline.project}-${envName}-${s}`));
    expect(synth()).toHaveResource(ServiceAccount);
  });

  test('bucket access is granted per prefix with IAM conditions, never bucket-wide', () => {
    const members = all(json(), 'google_storage_bucket_iam_member');
    expect(members).toHaveLength(4);
    for (const m of members) {
      expect(['roles/storage.objectViewer', 'roles/storage.objectUser']).toContain(m.role);
      expect(m.condition.expression).toContain(`resource.name.startsWith("projects/_/buckets/${gcp.storage.bucket}/objects/`);
    }
    expect(synth()).toHaveResourceWithProperties(StorageBucketIamMember, {
      role: 'roles/storage.objectViewer',
      member: 'serviceAccount:${google_service_account.sa-serving.email}',
    });
    const servingReads = members.find((m) => m.member.includes('sa-serving'));
    expect(servingReads.condition.expression).toContain(`/objects/${gcp.storage.models_path}`);
    expect(servingReads.condition.expression).not.toContain(gcp.storage.raw_path);
  });

  test('GPU training job: accelerator and nvidia.com/gpu limit from config, training image tagged image_tag', () => {
    const job = all(json(), 'google_cloud_run_v2_job').find((j) => j.template.template.containers[0].args[0] === 'train');
    expect(job.name).toBe(`${config.pipeline.project}-${envName}-training`);
    expect(job.template.template.node_selector).toEqual({ accelerator: gcp.training.gpu_type });
    expect(job.template.template.timeout).toBe(`${gcp.training.max_runtime_seconds}s`);
    const limits = job.template.template.containers[0].resources.limits;
    expect(limits['nvidia.com/gpu']).toBe(String(gcp.training.gpu_count));
    expect(Number(limits.cpu)).toBeGreaterThanOrEqual(4);
    expect(job.template.template.containers[0].image).toBe(`${registry}/training-gpu:${gcp.image_tag}`);
    expect(job.template.template.service_account).toBe('${google_service_account.sa-training.email}');
  });

  test('serving: Cloud Run service with min/max from config, /ping startup and /live liveness probes on 8080, latest revision gets traffic', () => {
    expect(synth()).toHaveResourceWithProperties(CloudRunV2Service, {
      name: `${config.pipeline.endpoint_name.toLowerCase()}-${envName}`,
      template: expect.objectContaining({
        scaling: { min_instance_count: gcp.serving.autoscaling.min_capacity, max_instance_count: gcp.serving.autoscaling.max_capacity },
        max_instance_request_concurrency: gcp.serving.autoscaling.target_value,
      }),
      traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }],
    });
    const container = only(json(), 'google_cloud_run_v2_service').template.containers[0];
    expect(container.image).toBe(`${registry}/serving:${gcp.image_tag}`);
    expect(container.ports).toEqual({ container_port: 8080 });
    expect(container.startup_probe.http_get).toEqual({ path: '/ping', port: 8080 });
    expect(container.liveness_probe.http_get).toEqual({ path: '/live', port: 8080 });
    expect(container.args).toEqual(['serve']);
    // The names runtime/serving/entrypoint.ts reads to resolve the pinned version from the bucket's registry.
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'MLSTACK_MODEL_VERSION', value: env.model_version ?? 'latest' },
        { name: 'MLSTACK_REGISTRY_URI', value: `gs://${gcp.storage.bucket}/` },
      ]),
    );
  });

  test('scheduled ingestion: Cloud Scheduler runs the ingestion job with its own account', () => {
    expect(synth()).toHaveResourceWithProperties(CloudSchedulerJob, {
      schedule: '0 2 * * *',
      time_zone: 'Etc/UTC',
      http_target: expect.objectContaining({
        http_method: 'POST',
        uri: `https://run.googleapis.com/v2/projects/${gcp.project_id}/locations/${gcp.region}/jobs/${config.pipeline.project}-${envName}-ingestion:run`,
      }),
    });
    expect(synth()).toHaveResourceWithProperties(CloudRunV2Job, { name: `${config.pipeline.project}-${envName}-ingestion` });
    const invoker = only(json(), 'google_cloud_run_v2_job_iam_member');
    expect(invoker).toMatchObject({ role: 'roles/run.invoker', member: 'serviceAccount:${google_service_account.sa-scheduler.email}' });
  });

  test('API secret in Secret Manager, readable by the ingestion account only, injected as MLSTACK_API_TOKEN', () => {
    expect(synth()).toHaveResourceWithProperties(SecretManagerSecret, { secret_id: `${config.pipeline.project}-${envName}-api-secret` });
    expect(synth()).toHaveResourceWithProperties(SecretManagerSecretIamMember, {
      role: 'roles/secretmanager.secretAccessor',
      member: 'serviceAccount:${google_service_account.sa-ingestion.email}',
    });
    expect(all(json(), 'google_secret_manager_secret_iam_member')).toHaveLength(1);
    const ingestion = all(json(), 'google_cloud_run_v2_job').find((j) => j.template.template.containers[0].args[0] === 'ingest');
    const tokenVar = ingestion.template.template.containers[0].env.find((e: any) => e.name === 'MLSTACK_API_TOKEN');
    expect(tokenVar.value_source.secret_key_ref.version).toBe('latest');
  });

  test('alerting: 5xx rate and latency policies notify the alarm email', () => {
    expect(synth()).toHaveResourceWithProperties(MonitoringNotificationChannel, { type: 'email', labels: { email_address: env.alarm_email } });
    const policies = all(json(), 'google_monitoring_alert_policy');
    expect(policies).toHaveLength(2);
    const filters = policies.map((p) => p.conditions[0].condition_threshold.filter).join('\n');
    expect(filters).toContain('response_code_class = "5xx"');
    expect(filters).toContain('run.googleapis.com/request_latencies');
    for (const p of policies) expect(p.notification_channels).toEqual(['${google_monitoring_notification_channel.alerts_email_9053A621.id}']);
    expect(synth()).toHaveResource(MonitoringAlertPolicy);
  });

  test('every resource waits for the project APIs it needs', () => {
    expect(only(json(), 'google_storage_bucket').depends_on).toContain('${google_project_service.api-storage}');
    expect(only(json(), 'google_cloud_run_v2_service').depends_on).toContain('${google_project_service.api-run}');
  });
});

test('a canary splits serving traffic between the stable revision and the latest', () => {
  const canary = synthGcpStacks(config, { servingCanary: { stableRevision: 'churn-dev-00042', percent: 10 } }).dev;
  expect(only(canary.json, 'google_cloud_run_v2_service').traffic).toEqual([
    { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'churn-dev-00042', percent: 90, tag: 'stable' },
    { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 10, tag: 'canary' },
  ]);
});
