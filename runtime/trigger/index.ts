/**
 * The training trigger the ingestion container fires once a run is complete (its marker written) and has
 * rows: on GCP it runs the Cloud Run training job, on Azure it submits an Azure ML command job. On AWS
 * nothing runs here (an EventBridge rule on the marker starts the state machine). Which one, and with
 * what, comes only from the variables the stack sets (ingestionLaunch in runtime/contract/env.ts).
 */
import { requireCloud } from '../../config/load';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';
import type { Logger } from '../common/logger';
import { bucketTrainingLaunch, ENV, PLATFORM_ENV, type TrainingTrigger } from '../contract/env';
import { imageCommand } from '../contract/images';
import { processedRunPrefix, storagePaths, SUCCESS_MARKER, type StoreCloud } from '../contract/layout';
import type { ObjectStore } from '../storage/object-store';
import { armTokenSource, submitAzureMlJob, trainingRunName, WORKSPACE_ID, type TokenSource as ArmTokenSource } from './azureml';
import { CLOUD_RUN_JOB_NAME, runCloudRunJob, type TokenSource as GoogleTokenSource } from './cloud-run';
import { MlstackError } from '../common/errors';
export { TriggerError } from './http';

/** The trigger variables are inconsistent (a usage error: exit 2, before anything is ingested). */
export class TriggerConfigError extends MlstackError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
    this.name = 'TriggerConfigError';
  }
}

const AZURE_VARIABLES = [ENV.azuremlWorkspace, ENV.azuremlCompute, ENV.trainingImage, ENV.trainingIdentity] as const;

/** The trigger the stack configured, read back from the variables ingestionLaunch sets; `none` when none is set. */
export function trainingTriggerFromEnv(env: NodeJS.ProcessEnv): TrainingTrigger {
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const job = value(ENV.trainingJob);
  const azureSet = AZURE_VARIABLES.filter((name) => value(name) !== undefined);
  if (job !== undefined && azureSet.length > 0) {
    throw new TriggerConfigError(`both ${ENV.trainingJob} (GCP) and ${azureSet.join(', ')} (Azure) are set: a stack sets the variables of one training trigger only`);
  }
  if (job !== undefined) {
    if (!CLOUD_RUN_JOB_NAME.test(job)) {
      throw new TriggerConfigError(`${ENV.trainingJob} is "${job}": expected projects/<project>/locations/<region>/jobs/<name> (the gcp stack's training job)`);
    }
    return { kind: 'cloud-run-job', job };
  }
  if (azureSet.length === 0) return { kind: 'none' };
  const missing = AZURE_VARIABLES.filter((name) => value(name) === undefined);
  if (missing.length > 0) {
    throw new TriggerConfigError(`${azureSet.join(', ')} set but ${missing.join(', ')} not: the azure stack sets all of ${AZURE_VARIABLES.join(', ')} to submit training`);
  }
  const workspace = value(ENV.azuremlWorkspace) as string;
  if (!WORKSPACE_ID.test(workspace)) {
    throw new TriggerConfigError(
      `${ENV.azuremlWorkspace} is "${workspace}": expected the workspace's ARM id, /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.MachineLearningServices/workspaces/<name>`,
    );
  }
  return {
    kind: 'azureml',
    workspace,
    compute: value(ENV.azuremlCompute) as string,
    image: value(ENV.trainingImage) as string,
    identityClientId: value(ENV.trainingIdentity) as string,
  };
}

const TRIGGER_CLOUD = { 'cloud-run-job': 'gcp', azureml: 'azure' } as const;

/** Checks the trigger against where the ingestion runs: a training job reads the bucket this run writes. */
export function assertTriggerFits(trigger: TrainingTrigger, cloud: StoreCloud, bucket: string | undefined): void {
  if (trigger.kind === 'none') return;
  const expected = TRIGGER_CLOUD[trigger.kind];
  if (cloud !== expected) {
    throw new TriggerConfigError(`the ${trigger.kind} training trigger runs on ${expected}, but ${ENV.cloud} is "${cloud}": set ${ENV.cloud}=${expected} or unset the trigger variables`);
  }
  if (bucket === undefined) throw new TriggerConfigError(`the ${trigger.kind} training trigger needs the run in a bucket: set ${ENV.bucket}`);
}

/** What the trigger did, as logged and reported in the entrypoint's result (`training`). */
export interface TrainingOutcome {
  kind: 'cloud-run-job' | 'azureml';
  /**
   * started: a new execution or job; existing: this run's Azure ML job was already submitted (a rerun);
   * skipped: nothing to train on; failed: the control plane refused or could not be reached.
   */
  status: 'started' | 'existing' | 'skipped' | 'failed';
  /** The Cloud Run execution (or operation) name, or the Azure ML job's ARM id. */
  id?: string;
  /** The processed run folder the training job was given. */
  dataUri?: string;
  reason?: string;
}

export interface TriggerContext {
  trigger: TrainingTrigger;
  project: ProjectConfig;
  envName: EnvironmentName;
  cloud: StoreCloud;
  /** The store root the run was written to (s3://b, gs://b, az://account/container). */
  bucket: string | undefined;
  store: ObjectStore;
  /** The finished ingestion run (runtime/ingestion's IngestionResult fits). */
  result: { runId: string; rows: { processed: number } };
  /** The container's variables (API roots, the identity's client id). */
  variables: NodeJS.ProcessEnv;
  logger: Logger;
  /** Token sources; the defaults are the platforms' own (metadata server, managed identity). */
  googleToken?: GoogleTokenSource;
  armToken?: ArmTokenSource;
}

/**
 * Fires the configured trigger for a finished run. Resolves to undefined when no trigger is configured;
 * throws a TriggerError when the control plane refuses or cannot be reached.
 */
export async function triggerTraining(ctx: TriggerContext): Promise<TrainingOutcome | undefined> {
  const { trigger, result } = ctx;
  if (trigger.kind === 'none') return undefined;
  assertTriggerFits(trigger, ctx.cloud, ctx.bucket);
  const log = ctx.logger.child({ runId: result.runId, trigger: trigger.kind });
  const processed = processedRunPrefix(storagePaths(ctx.project.environments[ctx.envName], ctx.cloud, ctx.project.pipeline.project), result.runId);
  const success = `${processed}${SUCCESS_MARKER}`;
  if (result.rows.processed === 0) return skipped(log, trigger.kind, `run ${result.runId} has no processed rows`);
  if (!(await ctx.store.exists(success))) return skipped(log, trigger.kind, `run ${result.runId} is not complete (${success} is missing)`);

  const dataUri = `${(ctx.bucket as string).replace(/\/+$/, '')}/${processed}`;
  const outcome = await fire(ctx, dataUri);
  log.info({ training: outcome }, outcome.status === 'existing' ? 'training job for this run already submitted' : 'training started');
  return outcome;
}

async function fire(ctx: TriggerContext, dataUri: string): Promise<TrainingOutcome> {
  const { trigger } = ctx;
  if (trigger.kind === 'cloud-run-job') {
    const runId = trainingRunName(ctx.project.pipeline.project, ctx.envName, ctx.result.runId);
    const started = await runCloudRunJob({ job: trigger.job, dataUri, runId, apiRoot: ctx.variables[ENV.gcpRunApi] || undefined, token: ctx.googleToken });
    return { kind: trigger.kind, status: 'started', id: started.id, dataUri };
  }
  if (trigger.kind !== 'azureml') throw new Error(`unknown training trigger ${trigger.kind}`);
  const env = requireCloud(ctx.project.environments[ctx.envName], 'azure');
  const project = ctx.project.pipeline.project;
  const launch = bucketTrainingLaunch({ cloud: 'azure', envName: ctx.envName, project, bucket: ctx.bucket as string });
  const submitted = await submitAzureMlJob(
    {
      workspace: trigger.workspace,
      compute: trigger.compute,
      image: trigger.image,
      project,
      envName: ctx.envName,
      runId: ctx.result.runId,
      command: imageCommand(launch.args),
      launchEnv: launch.env,
      dataUri,
      identityClientId: trigger.identityClientId,
      timeoutSeconds: env.azure.training.max_runtime_seconds,
      instanceCount: env.azure.training.instance_count,
    },
    {
      apiRoot: ctx.variables[ENV.azureArmApi] || undefined,
      token: ctx.armToken ?? armTokenSource(ctx.variables[PLATFORM_ENV.azureClientId] || undefined),
    },
  );
  return { kind: 'azureml', status: submitted.existing ? 'existing' : 'started', id: submitted.id, dataUri };
}

function skipped(log: Logger, kind: TrainingOutcome['kind'], reason: string): TrainingOutcome {
  log.info({ reason }, 'training not triggered');
  return { kind, status: 'skipped', reason };
}

/** The outcome to report when firing failed; the data stays written and a rerun of the same run retriggers. */
export function failedOutcome(trigger: TrainingTrigger, error: Error): TrainingOutcome | undefined {
  if (trigger.kind === 'none') return undefined;
  return { kind: trigger.kind, status: 'failed', reason: error.message };
}
