/**
 * GCP: runs the Cloud Run training job on one processed run (Cloud Run Admin API v2, jobs.run with a
 * container override). The token is the runtime service account's, from Application Default Credentials
 * (on Cloud Run, the metadata server).
 */
import { GoogleAuth } from 'google-auth-library';
import { ENV } from '../contract/env';
import { apiErrorMessage, sendJson, TriggerError } from './http';
import { CloudCallError } from '../common/errors';

export const CLOUD_RUN_API = 'https://run.googleapis.com';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** `projects/<project>/locations/<region>/jobs/<name>`: what jobs.run takes as its name. */
export const CLOUD_RUN_JOB_NAME = /^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+$/;

export type TokenSource = () => Promise<string>;

export async function googleAccessToken(): Promise<string> {
  const token = await new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] }).getAccessToken();
  if (!token) throw new CloudCallError('Application Default Credentials returned no access token');
  return token;
}

/**
 * The RunJobRequest body: the training container gets the run's folder as its data and a run id derived from
 * the ingestion run, so a retriggered run resumes from its checkpoint instead of training (and registering) again.
 */
export function runJobRequest(dataUri: string, runId: string): { overrides: { containerOverrides: { env: { name: string; value: string }[] }[] } } {
  return {
    overrides: {
      containerOverrides: [
        {
          env: [
            { name: ENV.dataUri, value: dataUri },
            { name: ENV.runId, value: runId },
          ],
        },
      ],
    },
  };
}

export interface CloudRunJobStart {
  /** The execution started (the operation's metadata), or the operation name when the API gave no execution. */
  id: string;
}

export async function runCloudRunJob(options: { job: string; dataUri: string; runId: string; apiRoot?: string; token?: TokenSource }): Promise<CloudRunJobStart> {
  const url = `${(options.apiRoot ?? CLOUD_RUN_API).replace(/\/+$/, '')}/v2/${options.job}:run`;
  let token: string;
  try {
    token = await (options.token ?? googleAccessToken)();
  } catch (err) {
    throw new TriggerError(
      `no Google access token to run ${options.job}: ${(err as Error).message} (on Cloud Run the job's service account supplies it; elsewhere set GOOGLE_APPLICATION_CREDENTIALS)`,
    );
  }
  // Not retried: jobs.run is not idempotent, and a retry after a lost answer could start a second execution.
  const response = await sendJson({ method: 'POST', url, token, body: runJobRequest(options.dataUri, options.runId) });
  if (response.status < 200 || response.status >= 300) {
    throw new TriggerError(`POST ${url}: HTTP ${response.status}: ${apiErrorMessage(response)}${hintFor(response.status)}`, response.status);
  }
  const operation = response.body as { name?: unknown; metadata?: { name?: unknown } } | undefined;
  const id = typeof operation?.metadata?.name === 'string' ? operation.metadata.name : typeof operation?.name === 'string' ? operation.name : undefined;
  if (!id) throw new TriggerError(`POST ${url}: HTTP ${response.status} but the answer names no operation: ${response.text.slice(0, 200)}`);
  return { id };
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) {
    return ' (the ingestion job\'s service account needs run.jobs.runWithOverrides on the training job: the gcp stack grants roles/run.jobsExecutorWithOverrides on it)';
  }
  if (status === 404) return ` (no such job: ${ENV.trainingJob} must name the training job the gcp stack declares)`;
  return '';
}
