import { Testing } from 'cdktf';
// Types of the cdktf matchers (toHaveResourceWithProperties, ...) that setupJest registers.
import type {} from 'cdktf/lib/testing/adapters/jest';
Testing.setupJest();

import * as path from 'node:path';
import type { IConstruct } from 'constructs';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository';
import { CloudRunV2Service } from '@cdktf/provider-google/lib/cloud-run-v2-service';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { ConfigError } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../../config/schema';
import { buildCdktfApp } from '../../../infra/cdktf/app';
import { SERVING_ALERTS_DEFAULTS } from '../../../infra/gcp/monitoring';
import { GcpMlStack } from '../../../infra/gcp/stack';
import {
  ENV,
  bucketTrainingLaunch,
  ingestionLaunch,
  isSecretPlaceholder,
  registryServingLaunch,
  type ContainerLaunch,
  type LaunchContext,
} from '../../../runtime/contract/env';
import { FIXED_PREFIXES, storagePaths } from '../../../runtime/contract/layout';
import { PINNED_VERSION, TOKEN_ENV, repoConfig, servedConfig } from '../cdktf-configs';
import { copyConfig, editJson } from '../../helpers/tmp';
import { all, only, synthGcpStacks, type SynthesizedGcpStack } from './synth';

const config = repoConfig();
const served = servedConfig(config);
let stacks: Record<EnvironmentName, SynthesizedGcpStack>;
let servedStacks: Record<EnvironmentName, SynthesizedGcpStack>;

beforeAll(() => {
  stacks = synthGcpStacks(config);
  servedStacks = synthGcpStacks(served);
});

const ctxOf = (envName: EnvironmentName): LaunchContext => ({
  cloud: 'gcp',
  envName,
  project: config.pipeline.project,
  bucket: `gs://${config.environments[envName].gcp!.storage.bucket}`,
});
const plainEnv = (launch: ContainerLaunch) => Object.entries(launch.env).map(([name, value]) => ({ name, value }));
const jobWithArg = (json: any, arg: string) => all(json, 'google_cloud_run_v2_job').find((j) => j.template.template.containers[0].args[0] === arg);
const warningsOf = (construct: IConstruct): string[] =>
  construct.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === '@cdktf/warn').map((m) => String(m.data)));

describe.each(ENVIRONMENTS)('gcp-%s (repository config: ingestion_source set, no model pinned, no API token)', (envName) => {
  const env = config.environments[envName];
  const gcp = env.gcp!;
  /** The project's prefixes in the bucket: what the stack grants. */
  const paths = storagePaths(env, 'gcp', config.pipeline.project);
  const synth = () => stacks[envName].synth;
  const json = () => stacks[envName].json;
  const registry = `${gcp.region}-docker.pkg.dev/${gcp.project_id}/${config.pipeline.project}-${envName}`;
  const trainingJobPath = `projects/${gcp.project_id}/locations/${gcp.region}/jobs/${config.pipeline.project}-${envName}-training`;

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
    expect(only(json(), 'google_storage_bucket').lifecycle_rule).toEqual(
      expect.arrayContaining([{ action: { type: 'Delete' }, condition: { age: 30, matches_prefix: [gcp.storage.checkpoints_path] } }]),
    );
  });

  test('artifact registry: docker, with cleanup policies; its address is the registry target the deploy applies first', () => {
    expect(synth()).toHaveResourceWithProperties(ArtifactRegistryRepository, {
      format: 'DOCKER',
      location: gcp.region,
      repository_id: `${config.pipeline.project}-${envName}`,
    });
    expect(only(json(), 'google_artifact_registry_repository').cleanup_policies.map((p: any) => p.action).sort()).toEqual(['DELETE', 'KEEP']);
    expect(stacks[envName].stack.registryTargets).toEqual(['google_artifact_registry_repository.images_repository_F169625C']);
    const [type, name] = stacks[envName].stack.registryTargets[0]!.split('.');
    expect(json().resource[type!][name!]).toBeDefined();
  });

  test('service accounts for ingestion, its scheduler and training; none for serving while no model is pinned', () => {
    const ids = all(json(), 'google_service_account').map((sa) => sa.account_id).sort();
    expect(ids).toEqual(['ingest', 'sched', 'train'].map((s) => `${config.pipeline.project}-${envName}-${s}`));
  });

  test('bucket access per prefix: training reads processed and writes models, checkpoints, state and registry', () => {
    const members = all(json(), 'google_storage_bucket_iam_member');
    expect(members).toHaveLength(3);
    for (const m of members) expect(m.condition.expression).toContain(`resource.name.startsWith("projects/_/buckets/${gcp.storage.bucket}/objects/`);
    const grantOf = (account: string, role: string) => members.find((m) => m.member.includes(account) && m.role === role)?.condition.expression;
    const writes = grantOf('sa-training', 'roles/storage.objectUser');
    for (const prefix of [paths.models, paths.checkpoints, paths.state, paths.registry]) {
      expect(writes).toContain(`/objects/${prefix}")`);
    }
    expect(writes).not.toContain(paths.raw);
    expect(grantOf('sa-training', 'roles/storage.objectViewer')).toContain(`/objects/${paths.processed}")`);
    expect(grantOf('sa-ingestion', 'roles/storage.objectUser')).toContain(`/objects/${paths.raw}")`);
  });

  test('training job: exactly the contract launch (nothing else, no checkpoint variable), one L4 with Cloud Run sizing, timeout within 1 h', () => {
    const template = jobWithArg(json(), 'train').template.template;
    const container = template.containers[0];
    expect(container.args).toEqual(bucketTrainingLaunch(ctxOf(envName)).args);
    expect(container.env).toEqual(plainEnv(bucketTrainingLaunch(ctxOf(envName))));
    expect(container.image).toBe(`${registry}/training-gpu:${gcp.image_tag}`);
    expect(template.node_selector).toEqual({ accelerator: 'nvidia-l4' });
    expect(template.timeout).toBe(`${gcp.training.max_runtime_seconds}s`);
    expect(gcp.training.max_runtime_seconds).toBeLessThanOrEqual(3600);
    expect(container.resources.limits).toEqual({ cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '1' });
    expect(template.service_account).toBe('${google_service_account.sa-training.email}');
  });

  test('ingestion job: exactly the contract launch with the training job to run, and no token variable without token_env', () => {
    const container = jobWithArg(json(), 'ingest').template.template.containers[0];
    const launch = ingestionLaunch(ctxOf(envName), env.ingestion_source!, undefined, { kind: 'cloud-run-job', job: trainingJobPath });
    expect(container.args).toEqual(['ingest']);
    expect(container.env).toEqual(plainEnv(launch));
    expect(container.env).toContainEqual({ name: ENV.trainingJob, value: trainingJobPath });
    expect(container.image).toBe(`${registry}/ingestion:${gcp.image_tag}`);
    expect(all(json(), 'google_secret_manager_secret')).toEqual([]);
    expect(all(json(), 'google_secret_manager_secret_version')).toEqual([]);
  });

  test('the ingestion account may run the training job with overrides, on that job only', () => {
    const grants = all(json(), 'google_cloud_run_v2_job_iam_member');
    const runs = grants.find((g) => g.role === 'roles/run.jobsExecutorWithOverrides');
    expect(runs).toMatchObject({
      name: '${google_cloud_run_v2_job.training_job_69F7B455.name}',
      member: 'serviceAccount:${google_service_account.sa-ingestion.email}',
    });
    expect(grants.map((g) => g.role).sort()).toEqual(['roles/run.invoker', 'roles/run.jobsExecutorWithOverrides']);
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
    const invoker = all(json(), 'google_cloud_run_v2_job_iam_member').find((g) => g.role === 'roles/run.invoker');
    expect(invoker.member).toBe('serviceAccount:${google_service_account.sa-scheduler.email}');
  });

  test('no model pinned: no serving service, no alerts, no serving_url, and a warning that says how to pin one', () => {
    expect(all(json(), 'google_cloud_run_v2_service')).toEqual([]);
    expect(all(json(), 'google_monitoring_alert_policy')).toEqual([]);
    expect(json().output.serving_url).toBeUndefined();
    expect(Object.keys(json().output).sort()).toEqual(['data_bucket', 'image_repository', 'ingestion_job', 'training_job']);
    expect(warningsOf(stacks[envName].stack)).toContainEqual(expect.stringMatching(new RegExp(`mlstack promote --model <version> --to ${envName}`)));
  });

  test('each resource waits for the API its type needs, as a static reference', () => {
    expect(only(json(), 'google_storage_bucket').depends_on).toEqual(['google_project_service.api-storage']);
    expect(jobWithArg(json(), 'train').depends_on).toEqual(['google_project_service.api-run']);
    expect(only(json(), 'google_artifact_registry_repository').depends_on).toEqual(['google_project_service.api-artifactregistry']);
    expect(all(json(), 'google_service_account')[0].depends_on).toEqual(['google_project_service.api-iam']);
  });
});

describe.each(ENVIRONMENTS)('gcp-%s with a pinned model and an API token (served config)', (envName) => {
  const env = served.environments[envName];
  const gcp = env.gcp!;
  /** The project's prefixes in the bucket: what the stack grants. */
  const paths = storagePaths(env, 'gcp', served.pipeline.project);
  const json = () => servedStacks[envName].json;
  const synth = () => servedStacks[envName].synth;

  test('serving: Cloud Run service with exactly the registry launch (no MLSTACK_ENV/CLOUD/BUCKET), min/max from config, probes on 8080', () => {
    expect(synth()).toHaveResourceWithProperties(CloudRunV2Service, {
      name: `${config.pipeline.endpoint_name.toLowerCase()}-${envName}`,
      template: expect.objectContaining({
        scaling: { min_instance_count: gcp.serving.autoscaling.min_capacity, max_instance_count: gcp.serving.autoscaling.max_capacity },
        max_instance_request_concurrency: gcp.serving.autoscaling.target_value,
      }),
      traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }],
    });
    const container = only(json(), 'google_cloud_run_v2_service').template.containers[0];
    expect(container.args).toEqual(['serve']);
    expect(container.env).toEqual(plainEnv(registryServingLaunch(ctxOf(envName), PINNED_VERSION)));
    expect(container.env.map((e: any) => e.name).sort()).toEqual([ENV.modelVersion, ENV.project, ENV.registryUri].sort());
    expect(container.ports).toEqual({ container_port: 8080 });
    expect(container.startup_probe.http_get).toEqual({ path: '/ping', port: 8080 });
    expect(container.liveness_probe.http_get).toEqual({ path: '/live', port: 8080 });
    expect(json().output.serving_url.value).toBe('${google_cloud_run_v2_service.serving_service_90E099A3.uri}');
  });

  test('the serving account reads models and registry only', () => {
    const reads = all(json(), 'google_storage_bucket_iam_member').find((m) => m.member.includes('sa-serving'));
    expect(reads.role).toBe('roles/storage.objectViewer');
    expect(reads.condition.expression).toContain(`/objects/${paths.models}")`);
    expect(reads.condition.expression).toContain(`/objects/${FIXED_PREFIXES.registry}")`);
    expect(reads.condition.expression).not.toContain(gcp.storage.processed_path);
  });

  test('API secret: placeholder the runtime refuses, readable by the ingestion account only, in token_env from the latest version', () => {
    expect(only(json(), 'google_secret_manager_secret').secret_id).toBe(`${config.pipeline.project}-${envName}-api-secret`);
    expect(isSecretPlaceholder(only(json(), 'google_secret_manager_secret_version').secret_data)).toBe(true);
    expect(only(json(), 'google_secret_manager_secret_iam_member')).toMatchObject({
      role: 'roles/secretmanager.secretAccessor',
      member: 'serviceAccount:${google_service_account.sa-ingestion.email}',
    });
    const ingestion = jobWithArg(json(), 'ingest');
    const container = ingestion.template.template.containers[0];
    expect(container.env.filter((e: any) => e.value_source)).toEqual([
      { name: TOKEN_ENV, value_source: { secret_key_ref: { secret: `${config.pipeline.project}-${envName}-api-secret`, version: 'latest' } } },
    ]);
    expect(ingestion.depends_on).toContain('google_secret_manager_secret_iam_member.api-secret-ingestion');
  });

  test('alerting: 5xx rate and latency policies notify the alarm email', () => {
    expect(synth()).toHaveResourceWithProperties(MonitoringNotificationChannel, { type: 'email', labels: { email_address: env.alarm_email } });
    const policies = all(json(), 'google_monitoring_alert_policy');
    expect(policies).toHaveLength(2);
    const filters = policies.map((p) => p.conditions[0].condition_threshold.filter).join('\n');
    expect(filters).toContain('response_code_class = "5xx"');
    expect(filters).toContain('run.googleapis.com/request_latencies');
    for (const p of policies) expect(p.notification_channels).toEqual(['${google_monitoring_notification_channel.alerts_email_9053A621.id}']);
  });

  test('alerting thresholds: SERVING_ALERTS_DEFAULTS (the stack sets none)', () => {
    const thresholds = Object.fromEntries(all(json(), 'google_monitoring_alert_policy').map((p) => [p.severity, p.conditions[0].condition_threshold.threshold_value]));
    expect(thresholds).toEqual({ ERROR: SERVING_ALERTS_DEFAULTS.errorRateThreshold, WARNING: SERVING_ALERTS_DEFAULTS.latencyP99Ms });
  });
});

function buildWith(edit: (dir: string) => void, envName: EnvironmentName = 'dev'): GcpMlStack {
  const dir = copyConfig();
  edit(dir);
  const app = buildCdktfApp({ configDir: dir, clouds: ['gcp'], environments: [envName], backendEnv: {} });
  return app.node.findChild(`gcp-${envName}`) as GcpMlStack;
}

test('without ingestion_source no ingestion job, scheduler or ingestion accounts are declared, and a warning says what to set', () => {
  const stack = buildWith((dir) => editJson(path.join(dir, 'environments', 'dev.json'), (doc) => delete doc.ingestion_source));
  const json = JSON.parse(Testing.synth(stack));
  expect(all(json, 'google_cloud_run_v2_job').map((j) => j.name)).toEqual([`${config.pipeline.project}-dev-training`]);
  expect(json.resource.google_cloud_scheduler_job).toBeUndefined();
  expect(all(json, 'google_service_account').map((sa) => sa.account_id)).toEqual([`${config.pipeline.project}-dev-train`]);
  expect(json.output.ingestion_job).toBeUndefined();
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
  expect(build).toThrow(/parser\.json: ingestion\.auth\.token_env: .*"\/run\/secrets\/api-token".*environment variable.*set token_env/);
});

test('a canary splits serving traffic between the stable revision and the latest', () => {
  const canary = synthGcpStacks(served, { servingCanary: { stableRevision: 'churn-dev-00042', percent: 10 } }).dev;
  expect(only(canary.json, 'google_cloud_run_v2_service').traffic).toEqual([
    { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'churn-dev-00042', percent: 90, tag: 'stable' },
    { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 10, tag: 'canary' },
  ]);
});

test('serving on an RTX PRO 6000 gets that GPU with its 20 CPU / 80 GiB minimum and CPU kept allocated', () => {
  const config2: ProjectConfig = servedConfig();
  config2.environments.dev.gcp!.serving.gpu_type = 'nvidia-rtx-pro-6000';
  const json = synthGcpStacks(config2).dev.json;
  const template = only(json, 'google_cloud_run_v2_service').template;
  expect(template.node_selector).toEqual({ accelerator: 'nvidia-rtx-pro-6000' });
  expect(template.containers[0].resources).toMatchObject({ cpu_idle: false, limits: { 'nvidia.com/gpu': '1', cpu: '20', memory: '80Gi' } });
});

test('synthesizing a stack twice adds each API dependency once', () => {
  const stack = synthGcpStacks(config).dev.stack;
  const again = JSON.parse(Testing.synth(stack));
  expect(only(again, 'google_storage_bucket').depends_on).toEqual(['google_project_service.api-storage']);
});
