import { Construct } from 'constructs';
import { Annotations } from 'cdktf';
import { CloudRunV2Job } from '@cdktf/provider-google/lib/cloud-run-v2-job';
import { CloudRunV2JobIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-job-iam-member';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
import type { WithCloud } from '../../config/schema';
import { cloudRunSize } from './sizing';

type EnvVar = { name: string; value: string };

export interface TrainingJobProps {
  name: string;
  env: WithCloud<'gcp'>;
  image: string;
  serviceAccountEmail: string;
  environment: EnvVar[];
  labels: Record<string, string>;
}

/**
 * GPU training as a Cloud Run job. Vertex AI CustomJob has no Terraform
 * resource (jobs are submitted through the API), so the declarable GPU path is a
 * Cloud Run job with an accelerator node selector and an nvidia.com/gpu limit;
 * an execution is started with `gcloud run jobs execute <name>`.
 */
export class GpuTrainingJob extends Construct {
  readonly job: CloudRunV2Job;

  constructor(scope: Construct, id: string, props: TrainingJobProps) {
    super(scope, id);
    const training = props.env.gcp.training;
    const gpu = training.gpu_type !== null && training.gpu_count > 0 ? { type: training.gpu_type, count: training.gpu_count } : null;
    const size = cloudRunSize(training.instance_type, gpu !== null);
    if (training.spot) {
      Annotations.of(this).addWarning('gcp.training.spot: Cloud Run jobs have no spot capacity; the job runs on regular capacity and still resumes from checkpoints on retry');
    }
    if (training.instance_count > 1) {
      Annotations.of(this).addWarning(`gcp.training.instance_count ${training.instance_count}: Cloud Run runs one task per training job; extra instances are ignored`);
    }
    this.job = new CloudRunV2Job(this, 'job', {
      name: props.name,
      location: props.env.gcp.region,
      deletionProtection: props.env.retain_on_delete,
      labels: props.labels,
      // GPU jobs were launched as a preview feature; BETA admits them and changes nothing for GA features.
      launchStage: gpu ? 'BETA' : undefined,
      template: {
        taskCount: 1,
        template: {
          serviceAccount: props.serviceAccountEmail,
          timeout: `${training.max_runtime_seconds}s`,
          maxRetries: 3,
          nodeSelector: gpu ? { accelerator: gpu.type } : undefined,
          gpuZonalRedundancyDisabled: gpu ? true : undefined,
          containers: [
            {
              image: props.image,
              args: ['train'],
              env: props.environment,
              resources: {
                limits: { cpu: size.cpu, memory: size.memory, ...(gpu ? { 'nvidia.com/gpu': String(gpu.count) } : {}) },
              },
            },
          ],
        },
      },
    });
  }
}

export interface IngestionJobProps {
  name: string;
  schedulerName: string;
  /** 5-field unix cron, UTC. */
  schedule: string;
  env: WithCloud<'gcp'>;
  image: string;
  serviceAccountEmail: string;
  schedulerServiceAccountEmail: string;
  /** Secret Manager secret id whose latest version becomes MLSTACK_API_TOKEN. */
  apiSecretId: string;
  environment: EnvVar[];
  labels: Record<string, string>;
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
              args: ['ingest', '--env', props.env.name, '--cloud', 'gcp'],
              env: [
                ...props.environment,
                { name: 'MLSTACK_API_TOKEN', valueSource: { secretKeyRef: { secret: props.apiSecretId, version: 'latest' } } },
              ],
              resources: { limits: { cpu: '1', memory: '1Gi' } },
            },
          ],
        },
      },
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
