/**
 * Azure: submits an Azure ML command job to the GPU cluster for one processed run, through ARM
 * (Microsoft.MachineLearningServices, Environment Versions and Jobs - Create Or Update). The token is the
 * ingestion job's managed identity's (on Container Apps: IDENTITY_ENDPOINT + IDENTITY_HEADER; the
 * user-assigned identity is picked by AZURE_CLIENT_ID).
 */
import { createHash } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import { ENV, PLATFORM_ENV } from '../contract/env';
import { apiErrorMessage, sendJson, TriggerError, type JsonResponse } from './http';

export const ARM_API = 'https://management.azure.com';
export const ARM_SCOPE = 'https://management.azure.com/.default';
/** A GA Machine Learning Services API version (Jobs and Environment Versions - Create Or Update). */
export const AZUREML_API_VERSION = '2025-09-01';

/** `/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<name>` */
export const WORKSPACE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+$/i;

export type TokenSource = () => Promise<string>;

export function armTokenSource(managedIdentityClientId: string | undefined): TokenSource {
  return async () => {
    const credential = new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {});
    return (await credential.getToken(ARM_SCOPE)).token;
  };
}

/**
 * The training run a trigger starts for one ingestion run: the Azure ML job name and, on both clouds, the training
 * run id (MLSTACK_RUN_ID). The same for the same ingestion run, so a rerun finds the job or resumes the run.
 */
export function trainingRunName(project: string, envName: string, runId: string): string {
  return `${project}-${envName}-${runId}`
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 255);
}

/**
 * The environment version for an image: the digest when the reference pins one, else the tag plus a hash
 * of the whole reference (the same tag in two registries is two versions). Same image, same version.
 */
export function environmentVersionOf(image: string): string {
  const digest = /@sha256:([0-9a-f]{16})/i.exec(image)?.[1];
  if (digest) return `sha256-${digest.toLowerCase()}`;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : 'untagged';
  const hash = createHash('sha256').update(image).digest('hex').slice(0, 10);
  return `${tag.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60)}-${hash}`;
}

/** Seconds as an ISO 8601 duration (14400 -> PT4H, 5400 -> PT1H30M). */
export function isoDuration(totalSeconds: number): string {
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const parts = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds ? `${seconds}S` : ''}`;
  return `PT${parts || '0S'}`;
}

export interface AzureMlJobSpec {
  /** The workspace's ARM id. */
  workspace: string;
  compute: string;
  image: string;
  project: string;
  envName: string;
  /** The ingestion run the job trains on. */
  runId: string;
  command: string;
  /** The training container's bucket-mode variables (bucketTrainingLaunch). */
  launchEnv: Record<string, string>;
  /** The processed run folder to train on. */
  dataUri: string;
  /** Client id of the user-assigned identity the job runs as (the cluster must carry it). */
  identityClientId: string;
  timeoutSeconds: number;
  instanceCount: number;
}

export interface AzureMlSubmission {
  /** The job's ARM id. */
  id: string;
  name: string;
  environmentId: string;
  /** true when the job for this run had already been submitted (a rerun). */
  existing: boolean;
}

export function environmentVersionBody(spec: Pick<AzureMlJobSpec, 'image' | 'project'>) {
  return { properties: { image: spec.image, description: `${spec.project} training image` } };
}

/** What the training container reads: its launch, the data, the job name as its run id, and which identity it is. */
export function jobEnvironmentVariables(spec: AzureMlJobSpec, name: string): Record<string, string> {
  return {
    ...spec.launchEnv,
    [ENV.dataUri]: spec.dataUri,
    [ENV.runId]: name,
    [PLATFORM_ENV.azureClientId]: spec.identityClientId,
  };
}

export function commandJobBody(spec: AzureMlJobSpec, name: string, environmentId: string) {
  return {
    properties: {
      jobType: 'Command',
      displayName: `${spec.project} ${spec.envName} training on ${spec.runId}`,
      experimentName: `${spec.project}-${spec.envName}`,
      computeId: `${spec.workspace}/computes/${spec.compute}`,
      environmentId,
      command: spec.command,
      environmentVariables: jobEnvironmentVariables(spec, name),
      identity: { identityType: 'Managed' },
      limits: { jobLimitsType: 'Command', timeout: isoDuration(spec.timeoutSeconds) },
      resources: { instanceCount: spec.instanceCount },
      tags: { ingestion_run: spec.runId },
    },
  };
}

export async function submitAzureMlJob(spec: AzureMlJobSpec, options: { apiRoot?: string; token: TokenSource }): Promise<AzureMlSubmission> {
  const root = `${(options.apiRoot ?? ARM_API).replace(/\/+$/, '')}${spec.workspace}`;
  const query = `?api-version=${AZUREML_API_VERSION}`;
  const name = trainingRunName(spec.project, spec.envName, spec.runId);
  const jobId = `${spec.workspace}/jobs/${name}`;
  let token: string;
  try {
    token = await options.token();
  } catch (err) {
    throw new TriggerError(
      `no Azure Resource Manager token to submit ${name}: ${(err as Error).message} (on Container Apps the job's managed identity supplies it; ${PLATFORM_ENV.azureClientId} selects a user-assigned one)`,
    );
  }
  const existing = await sendJson({ method: 'GET', url: `${root}/jobs/${name}${query}`, token, attempts: 3 });
  if (existing.status === 200) {
    const properties = (existing.body as { properties?: { environmentId?: unknown } } | undefined)?.properties;
    return { id: idOf(existing, jobId), name, environmentId: String(properties?.environmentId ?? ''), existing: true };
  }
  if (existing.status !== 404) fail('GET', `${root}/jobs/${name}${query}`, existing);

  const envName = `${spec.project}-training`;
  const envUrl = `${root}/environments/${envName}/versions/${environmentVersionOf(spec.image)}${query}`;
  const environment = await sendJson({ method: 'PUT', url: envUrl, token, body: environmentVersionBody(spec), attempts: 3 });
  if (environment.status < 200 || environment.status >= 300) fail('PUT', envUrl, environment);
  const environmentId = idOf(environment, `${spec.workspace}/environments/${envName}/versions/${environmentVersionOf(spec.image)}`);

  const jobUrl = `${root}/jobs/${name}${query}`;
  const job = await sendJson({ method: 'PUT', url: jobUrl, token, body: commandJobBody(spec, name, environmentId), attempts: 3 });
  // 409: submitted by a concurrent run of the same ingestion run between the GET and this PUT.
  if (job.status === 409) return { id: jobId, name, environmentId, existing: true };
  if (job.status < 200 || job.status >= 300) fail('PUT', jobUrl, job);
  return { id: idOf(job, jobId), name, environmentId, existing: false };
}

function idOf(response: JsonResponse, fallback: string): string {
  const id = (response.body as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id !== '' ? id : fallback;
}

function fail(method: string, url: string, response: JsonResponse): never {
  throw new TriggerError(`${method} ${url}: HTTP ${response.status}: ${apiErrorMessage(response)}${hintFor(response.status)}`, response.status);
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) {
    return ` (the ingestion job's identity needs a role on the workspace that may create jobs and environments, e.g. AzureML Data Scientist)`;
  }
  if (status === 404) return ` (check ${ENV.azuremlWorkspace} and ${ENV.azuremlCompute}: they must name the workspace and cluster the azure stack declares)`;
  return '';
}
