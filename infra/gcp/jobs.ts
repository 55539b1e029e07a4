import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { CloudRunV2Job, type CloudRunV2JobTemplateTemplateContainersEnv } from '@cdktf/provider-google/lib/cloud-run-v2-job';
import { CloudRunV2JobIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-job-iam-member';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
import type { WithCloud } from '../../config/schema';
import type { ContainerLaunch } from '../../runtime/contract/env';
import { cloudRunSize, isCloudRunGpu } from './sizing';

/**
 * A launch's variables as Cloud Run env entries: plain values, and each secret variable filled from the
 * latest version of `secretId` (the secret holds the value itself).
 */
export function cloudRunEnv(launch: ContainerLaunch, secretId?: string): CloudRunV2JobTemplateTemplateContainersEnv[] {
  const secretNames = Object.keys(launch.secretEnv);
  if (secretNames.length > 0 && !secretId) throw new Error(`secret variables ${secretNames.join(', ')} need a Secret Manager secret`);
  return [
    ...Object.entries(launch.env).map(([name, value]) => ({ name, value })),
    ...secretNames.map((name) => ({ name, valueSource: { secretKeyRef: { secret: secretId!, version: 'latest' } } })),
  ];
}

/** What every Cloud Run job and service of the stack is declared with. */
export interface CloudRunContainerProps {
  /** The job's or service's name (gcpNames(...)). */
  readonly name: string;
  /** The environment: project, region, sizes, retain_on_delete. */
  readonly env: WithCloud<'gcp'>;
  /** The image reference. */
  readonly image: string;
  /** The service account the container runs as. */
  readonly serviceAccountEmail: string;
  /** How the container starts: a launch of runtime/contract/env.ts. */
  readonly launch: ContainerLaunch;
  /** Labels on the job or service. */
  readonly labels: Record<string, string>;
}

/** GpuTrainingJob's props: its launch is bucketTrainingLaunch (`train` with the environment, cloud, store and project). */
export type TrainingJobProps = CloudRunContainerProps;

/**
 * GPU training as a Cloud Run job. Vertex AI CustomJob has no Terraform resource (jobs are submitted
 * through the API), so the declarable GPU path is a Cloud Run job with an accelerator node selector and an
 * nvidia.com/gpu limit. The ingestion job runs it after each complete ingestion run (with MLSTACK_DATA_URI
 * as an override); `gcloud run jobs execute <name>` runs it by hand on the newest processed run.
 * infra/gcp/limits.ts has already refused what Cloud Run cannot run (timeout, GPU count, spot).
 */
export class GpuTrainingJob extends Construct {
  readonly job: CloudRunV2Job;

  constructor(scope: Construct, id: string, props: TrainingJobProps) {
    super(scope, id);
    const training = props.env.gcp.training;
    const gpu = isCloudRunGpu(training.gpu_type) && training.gpu_count > 0 ? training.gpu_type : null;
    const size = cloudRunSize(training.instance_type, gpu);
    this.job = new CloudRunV2Job(this, 'job', {
      name: props.name,
      location: props.env.gcp.region,
      deletionProtection: props.env.retain_on_delete,
      labels: props.labels,
      // The RTX PRO 6000 is a preview; BETA admits it and changes nothing for GA features.
      launchStage: gpu ? 'BETA' : undefined,
      template: {
        taskCount: 1,
        template: {
          serviceAccount: props.serviceAccountEmail,
          timeout: `${training.max_runtime_seconds}s`,
          // A retried task keeps CLOUD_RUN_EXECUTION, so it resumes from the run's checkpoints.
          maxRetries: 3,
          nodeSelector: gpu ? { accelerator: gpu } : undefined,
          gpuZonalRedundancyDisabled: gpu ? true : undefined,
          containers: [
            {
              image: props.image,
              args: props.launch.args,
              env: cloudRunEnv(props.launch),
              resources: {
                limits: { cpu: size.cpu, memory: size.memory, ...(gpu ? { 'nvidia.com/gpu': '1' } : {}) },
              },
            },
          ],
        },
      },
    });
  }

  /**
   * Lets `member` run this job with container overrides (the ingestion job passes MLSTACK_DATA_URI):
   * roles/run.jobsExecutorWithOverrides holds run.jobs.run and run.jobs.runWithOverrides, on this job only.
   */
  grantRunWithOverrides(id: string, member: string): CloudRunV2JobIamMember {
    return new CloudRunV2JobIamMember(this, id, {
      name: this.job.name,
      location: this.job.location,
      role: 'roles/run.jobsExecutorWithOverrides',
      member,
    });
  }
}

/** ScheduledIngestion's props: its launch is ingestionLaunch (`ingest` with the source and the training job to run). */
export interface IngestionJobProps extends CloudRunContainerProps {
  /** Cloud Scheduler job name (gcpNames(...).schedulerJob). */
  readonly schedulerName: string;
  /** 5-field unix cron, UTC. */
  readonly schedule: string;
  /** The service account Cloud Scheduler runs the job as. */
  readonly schedulerServiceAccountEmail: string;
  /** Secret Manager secret whose latest version fills the launch's secret variables (the API token). @default - none */
  readonly apiSecretId?: string;
  /** What the job needs in place before it is created (the secret's accessor grant). @default - none */
  readonly dependsOn?: ITerraformDependable[];
}

/** Ingestion as a Cloud Run job, run by Cloud Scheduler through the Cloud Run Admin API. */
export class ScheduledIngestion extends Construct {
  readonly job: CloudRunV2Job;
  readonly scheduler: CloudSchedulerJob;

  constructor(scope: Construct, id: string, props: IngestionJobProps) {
    super(scope, id);
    const { gcp } = props.env;
    this.job = new CloudRunV2Job(this, 'job', {
      name: props.name,
      location: gcp.region,
      deletionProtection: props.env.retain_on_delete,
      labels: props.labels,
      template: {
        taskCount: 1,
        template: {
          serviceAccount: props.serviceAccountEmail,
          timeout: '3600s',
          maxRetries: 2,
          containers: [
            {
              image: props.image,
              args: props.launch.args,
              env: cloudRunEnv(props.launch, props.apiSecretId),
              resources: { limits: { cpu: '1', memory: '1Gi' } },
            },
          ],
        },
      },
      dependsOn: props.dependsOn,
    });
    const invoker = new CloudRunV2JobIamMember(this, 'scheduler-invoker', {
      name: this.job.name,
      location: gcp.region,
      role: 'roles/run.invoker',
      member: `serviceAccount:${props.schedulerServiceAccountEmail}`,
    });
    this.scheduler = new CloudSchedulerJob(this, 'schedule', {
      name: props.schedulerName,
      region: gcp.region,
      schedule: props.schedule,
      timeZone: 'Etc/UTC',
      attemptDeadline: '320s',
      retryConfig: { retryCount: 1 },
      httpTarget: {
        httpMethod: 'POST',
        uri: `https://run.googleapis.com/v2/projects/${gcp.project_id}/locations/${gcp.region}/jobs/${props.name}:run`,
        oauthToken: {
          serviceAccountEmail: props.schedulerServiceAccountEmail,
          scope: 'https://www.googleapis.com/auth/cloud-platform',
        },
      },
      dependsOn: [invoker],
    });
  }
}
