/**
 * The ingestion container's entrypoint: `node main.js ingest` (the image's CMD; no argument means the same),
 * or `node bin/run-ts.js runtime/ingestion/entrypoint.ts ingest`. Settings come from the variables the
 * stacks set (ingestionLaunch in runtime/contract/env.ts; names in ENV):
 *   ENV.env (dev), ENV.cloud (local | aws | gcp | azure; default local), ENV.bucket (the store root;
 *   default the environment's bucket on that cloud, or ENV.workdir for local), ENV.project (must match
 *   pipeline.json), ENV.source (API URL, file or object URI, postgres:// or mysql:// URL; required in a cloud;
 *   locally "sample" or unset starts the built-in sample API), ENV.configDir, ENV.runId (resume or repeat a run),
 *   and the training trigger's variables (runtime/trigger).
 * Prints the IngestionResult (plus `training` when a trigger is configured) as JSON on stdout; exits 2 on
 * usage and configuration errors, 1 on any other failure (a training trigger that failed included).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { MlstackError, reportError, runMain } from '../common/errors';
import { createLogger, type Logger } from '../common/logger';
import { ENV } from '../contract/env';
import { parseStoreCloud, resolveContext, type InputNames, type RunContext } from '../context';
import { DEFAULT_WORKDIR } from '../contract/layout';
import { assertTriggerFits, failedOutcome, trainingTriggerFromEnv, triggerTraining, TriggerError, type TrainingOutcome } from '../trigger';
import { runIngestion, type IngestionResult } from './index';
import type { IngestionProgress } from './progress';
import { startSampleApi } from './sample-api';

/** The source value that names the built-in sample API (local runs only). */
export const SAMPLE_SOURCE = 'sample';

export const USAGE =
  `usage: main.js [ingest]\n` +
  `  one ingestion run; settings come from ${ENV.env}, ${ENV.cloud}, ${ENV.bucket}, ${ENV.project}, ${ENV.source}, ${ENV.runId} (see docs/ingestion.md)`;

/** The container was started wrongly (arguments or variables): exit 2, before anything is fetched or written. */
export class LaunchError extends MlstackError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'LaunchError';
  }
}

/** How the container's variables are named in messages. */
const CONTAINER_INPUTS: InputNames = { env: ENV.env, cloud: ENV.cloud, project: ENV.project, bucket: ENV.bucket };

export interface IngestRequest {
  env: string;
  cloud: string;
  /** Omitted or "sample": the built-in sample API, started for the run and stopped after. */
  source?: string;
  configDir: string;
  workdir: string;
  runId?: string;
  logger?: Logger;
  /** The store root (s3://b, gs://b, az://account/container, a folder); default the environment's bucket, or `workdir` locally. */
  bucket?: string;
  /** Overrides pipeline.json's project for the run's prefixes and watermarks (`--project`). */
  project?: string;
  /** The project the stack declares (the container's variable): must equal pipeline.json's. */
  declaredProject?: string;
  /** How the inputs are named in messages. @default the CLI's flags */
  names?: InputNames;
  /** Variables the source reads (an API token named by ingestion.auth.token_env); default process.env. */
  variables?: NodeJS.ProcessEnv;
  /** The CLI's bar in a terminal; the container shows none. */
  progress?: IngestionProgress;
  /** Where the run's warnings go (the CLI: plain lines on stderr); default the logger at warn. */
  onWarning?: (message: string) => void;
}

/** Resolves the run's project, environment, cloud and store (runtime/context); nothing is fetched or written yet. */
async function prepare(request: IngestRequest): Promise<RunContext> {
  return resolveContext({
    configDir: request.configDir,
    env: request.env,
    cloud: request.cloud,
    workdir: request.workdir,
    project: request.project,
    declaredProject: request.declaredProject,
    bucket: request.bucket,
    names: request.names,
  });
}

async function run(prepared: RunContext, request: IngestRequest): Promise<IngestionResult> {
  const useSample = request.source === undefined || request.source === '' || request.source === SAMPLE_SOURCE;
  const sample = useSample ? await startSampleApi() : undefined;
  try {
    return await runIngestion({
      project: prepared.project,
      env: prepared.envName,
      cloud: prepared.cloud,
      store: prepared.store,
      source: sample ? sample.url : (request.source as string),
      runId: request.runId,
      logger: request.logger,
      variables: request.variables,
      progress: request.progress,
      onWarning: request.onWarning,
    });
  } finally {
    await sample?.close();
  }
}

/** Loads config, opens the environment's store and runs one ingestion (shared by the CLI and the container). */
export async function ingest(request: IngestRequest): Promise<IngestionResult> {
  return run(await prepare(request), request);
}

/**
 * The request the container's variables describe. In a cloud the source must be configured: a deployed
 * job never falls back to the sample API.
 */
export function requestFromEnvironment(env: NodeJS.ProcessEnv = process.env): IngestRequest {
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const envName = value(ENV.env) ?? 'dev';
  const cloud = parseStoreCloud(value(ENV.cloud) ?? 'local', ENV.cloud);
  const source = value(ENV.source);
  if (cloud !== 'local') {
    if (source === undefined) {
      throw new LaunchError(`${ENV.source} is not set: set ingestion_source in config/environments/${envName}.json; the ${cloud} stack passes it as ${ENV.source}`);
    }
    if (source === SAMPLE_SOURCE) {
      throw new LaunchError(
        `${ENV.source} is "${SAMPLE_SOURCE}", but the built-in sample API is for local runs only (${ENV.cloud}=local), and ${ENV.cloud} is "${cloud}": ` +
          `set ingestion_source in config/environments/${envName}.json to the API to ingest`,
      );
    }
  }
  return {
    env: envName,
    cloud,
    source,
    configDir: value(ENV.configDir) ?? 'config',
    workdir: value(ENV.workdir) ?? DEFAULT_WORKDIR,
    runId: value(ENV.runId),
    bucket: value(ENV.bucket),
    declaredProject: value(ENV.project),
    names: CONTAINER_INPUTS,
    variables: env,
  };
}

/** `ingest` or nothing; anything else is a usage error. */
export function parseCommand(argv: string[]): 'ingest' | 'help' {
  let parsed: { values: { help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new LaunchError(`${(err as Error).message}\n${USAGE}`);
  }
  if (parsed.values.help) return 'help';
  const [command, ...rest] = parsed.positionals;
  if ((command === undefined || command === 'ingest') && rest.length === 0) return 'ingest';
  throw new LaunchError(`unknown command "${parsed.positionals.join(' ')}": the ingestion image runs one command, ingest\n${USAGE}`);
}

/**
 * Runs the container entrypoint and resolves to its exit code. A configured training trigger is checked
 * before the run and fired after it (runtime/trigger); when firing fails the data stays written, the result
 * is still printed (training.status "failed"), and rerunning with the same run id fires it again.
 */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
  argv: string[] = [],
): Promise<number> {
  try {
    if (parseCommand(argv) === 'help') {
      out.write(`${USAGE}\n`);
      return 0;
    }
    const logger = createLogger('ingestion', 'container', env);
    const request = { ...requestFromEnvironment(env), logger };
    const trigger = trainingTriggerFromEnv(env);
    const prepared = await prepare(request);
    assertTriggerFits(trigger, prepared.cloud, prepared.bucket);
    const result = await run(prepared, request);
    let training: TrainingOutcome | undefined;
    try {
      training = await triggerTraining({ trigger, project: prepared.project, envName: prepared.envName, cloud: prepared.cloud, bucket: prepared.bucket, store: prepared.store, result, variables: env, logger });
    } catch (error) {
      if (!(error instanceof TriggerError)) throw error;
      const failed = failedOutcome(trigger, error);
      logger.error({ runId: result.runId, training: failed }, 'training not started');
      out.write(JSON.stringify({ ...result, training: failed }) + '\n');
      err.write(
        `mlstack-ingest: run ${result.runId} is complete (${result.rows.processed} rows in ${result.processedKey}) but training was not started: ${error.message}. ` +
          `The data stays; run the job again with ${ENV.runId}=${result.runId} to retry the trigger\n`,
      );
      return error.exitCode; // TRIGGER_FAILED: 1
    }
    out.write(JSON.stringify(training ? { ...result, training } : result) + '\n');
    return 0;
  } catch (error) {
    // The catalogue's exit code: 2 for a launch, config or secret problem (nothing fetched or written), else 1.
    return reportError('mlstack-ingest', error, { stderr: err, env });
  }
}

// Direct run, or through bin/run-ts.js (which requires this file with argv[1] pointing at it).
if (require.main === module || path.resolve(process.argv[1] ?? '') === __filename) {
  void runMain('mlstack-ingest', () => main(process.env, process.stdout, process.stderr, process.argv.slice(2)));
}
