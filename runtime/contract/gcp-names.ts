import { gcpResourceNames } from '../../config/naming';
import type { PipelineConfig, WithCloud } from '../../config/schema';
import { NameChecker } from './naming';

// The rules live in config/naming.ts, so `mlstack config validate` checks the same ones synth does.
export {
  ARTIFACT_REPOSITORY_RULE,
  CLOUD_RUN_JOB_RULE,
  CLOUD_RUN_SERVICE_RULE,
  GCS_BUCKET_RULE,
  SECRET_ID_RULE,
  SERVICE_ACCOUNT_ID_RULE,
} from '../../config/naming';

/**
 * Accelerators Cloud Run accepts in node_selector (cloud.google.com/run/docs/configuring/services/gpu);
 * infra/gcp/limits.ts checks config against them and their CPU and memory minimums.
 */
export const CLOUD_RUN_GPU_TYPES = ['nvidia-l4', 'nvidia-rtx-pro-6000'] as const;

/** Every GCP name one environment's stack uses, validated. */
export interface GcpNames {
  bucket: string;
  artifactRepository: string;
  servingService: string;
  trainingJob: string;
  ingestionJob: string;
  schedulerJob: string;
  apiSecret: string;
  serviceAccounts: { ingestion: string; training: string; serving: string; scheduler: string };
}

/**
 * Derives names from config (config/naming.ts gcpResourceNames): the bucket comes straight from
 * gcp.storage.bucket, the others from pipeline.project / endpoint_name and the environment name.
 * Throws InvalidNameError listing every name that cannot be valid.
 */
export function gcpNames(pipeline: PipelineConfig, env: WithCloud<'gcp'>): GcpNames {
  const checker = new NameChecker(env.name);
  const n = gcpResourceNames(pipeline, env);
  const names: GcpNames = {
    bucket: checker.checkName(n.bucket),
    artifactRepository: checker.checkName(n.artifactRepository),
    servingService: checker.checkName(n.servingService),
    trainingJob: checker.checkName(n.trainingJob),
    ingestionJob: checker.checkName(n.ingestionJob),
    schedulerJob: checker.checkName(n.schedulerJob),
    apiSecret: checker.checkName(n.apiSecret),
    serviceAccounts: {
      ingestion: checker.checkName(n.ingestionAccount),
      training: checker.checkName(n.trainingAccount),
      serving: checker.checkName(n.servingAccount),
      scheduler: checker.checkName(n.schedulerAccount),
    },
  };
  checker.throwIfAny();
  return names;
}
