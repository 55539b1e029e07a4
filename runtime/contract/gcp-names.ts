import type { PipelineConfig, WithCloud } from '../../config/schema';
import { NameChecker, patternRule, type NameRule } from './naming';

/** Cloud Storage bucket naming rules (cloud.google.com/storage/docs/buckets#naming). */
export const GCS_BUCKET_RULE: NameRule = {
  rule: '3-63 characters (dotted names up to 222, 63 per dot-separated part) of lowercase letters, digits, dashes, underscores and dots, starting and ending with a letter or digit, not starting with "goog", not containing "google", not an IP address',
  test: (value) => {
    if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(value)) return false;
    if (value.length < 3 || value.length > (value.includes('.') ? 222 : 63)) return false;
    if (value.split('.').some((part) => part.length === 0 || part.length > 63)) return false;
    if (value.startsWith('goog') || value.includes('google')) return false;
    return !/^\d{1,3}(\.\d{1,3}){3}$/.test(value);
  },
};

/** Service account ids: 6-30 characters. */
export const SERVICE_ACCOUNT_ID_RULE = patternRule(
  '6-30 lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit',
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
);

/** Cloud Run services: at most 49 characters (the revision suffix takes the rest of 63). */
export const CLOUD_RUN_SERVICE_RULE = patternRule(
  'at most 49 lowercase letters, digits and dashes, starting with a letter, not ending with a dash',
  /^[a-z](?:[a-z0-9-]{0,47}[a-z0-9])?$/,
);

export const CLOUD_RUN_JOB_RULE = patternRule(
  'at most 63 lowercase letters, digits and dashes, starting with a letter, not ending with a dash',
  /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
);

export const ARTIFACT_REPOSITORY_RULE = patternRule(
  'at most 63 lowercase letters, digits and dashes, starting with a letter, ending with a letter or digit',
  /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
);

export const SECRET_ID_RULE = patternRule('1-255 letters, digits, dashes and underscores', /^[A-Za-z0-9_-]{1,255}$/);

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
 * Derives names from config: the bucket comes straight from gcp.storage.bucket,
 * the others from pipeline.project / endpoint_name and the environment name.
 * Throws InvalidNameError listing every name that cannot be valid.
 */
export function gcpNames(pipeline: PipelineConfig, env: WithCloud<'gcp'>): GcpNames {
  const checker = new NameChecker(env.name);
  const base = `${pipeline.project}-${env.name}`;
  const account = (suffix: string) =>
    checker.check(`service account (pipeline.project + env + "-${suffix}")`, `${base}-${suffix}`, SERVICE_ACCOUNT_ID_RULE);
  const names: GcpNames = {
    bucket: checker.check('gcp.storage.bucket', env.gcp.storage.bucket, GCS_BUCKET_RULE),
    artifactRepository: checker.check('artifact registry (pipeline.project + env)', base, ARTIFACT_REPOSITORY_RULE),
    servingService: checker.check(
      'serving service (pipeline.endpoint_name + env, lowercased)',
      `${pipeline.endpoint_name.toLowerCase()}-${env.name}`,
      CLOUD_RUN_SERVICE_RULE,
    ),
    trainingJob: checker.check('training job (pipeline.project + env + "-training")', `${base}-training`, CLOUD_RUN_JOB_RULE),
    ingestionJob: checker.check('ingestion job (pipeline.project + env + "-ingestion")', `${base}-ingestion`, CLOUD_RUN_JOB_RULE),
    schedulerJob: `${base}-ingestion-schedule`,
    apiSecret: checker.check('api secret (pipeline.project + env + "-api-secret")', `${base}-api-secret`, SECRET_ID_RULE),
    serviceAccounts: {
      ingestion: account('ingest'),
      training: account('train'),
      serving: account('serve'),
      scheduler: account('sched'),
    },
  };
  checker.throwIfAny();
  return names;
}
