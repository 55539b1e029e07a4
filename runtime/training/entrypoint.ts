/**
 * The training container's entrypoint: one image, four ways to be started.
 *
 *   SageMaker  `<image> train`; reads <root>/input/config/{hyperparameters,inputdataconfig,resourceconfig}.json
 *              and <root>/input/data/<channel>/*.csv; writes the package to <root>/model, checkpoints to
 *              <root>/checkpoints, the failure reason to <root>/output/failure. root = ENV.sageMakerRoot (/opt/ml).
 *   Vertex AI  the AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and AIP_TRAINING_DATA_URI variables (gs:// or file URIs; "*" globs allowed).
 *   Azure ML   `--input <folder|uri> --output <folder|uri> [--checkpoints <folder|uri>]`.
 *   Bucket     (Cloud Run job, Azure ML command job; bucketTrainingLaunch in runtime/contract/env.ts) `<image> train`
 *              with ENV.bucket set: trains on ENV.dataUri or the newest complete processed run in that store,
 *              checkpoints under `<checkpoints><project>/<run>/`, writes the package to `<models><project>/runs/<run>/`
 *              and registers the next version. The run id (ENV.runId, else the platform's execution / run id)
 *              makes a retry resume.
 * Hyperparameters (epochs, batch_size, learning_rate, dropout, hidden_layers, ...) come from
 * hyperparameters.json (SageMaker) or `--name=value` arguments (all).
 * ENV.configDir (default "config") holds the project config; ENV.env (or the hyperparameter "env") picks the
 * environment whose training.require_gpu is enforced (ENV.requireGpu=1|0 overrides it).
 * `<image> evaluate ...` and `<image> register ...` run the AWS state machine's processing steps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs as parseArgv } from 'node:util';
import { DEFAULT_CONFIG_DIR, loadProjectConfig, requireCloud } from '../../config/load';
import { ENVIRONMENTS, type CloudName, type EnvironmentName, type ProjectConfig, type TrainingParams } from '../../config/schema';
import { exitCodeFor, MlstackError, runMain, type ErrorCode } from '../common/errors';
import { createLogger, type Logger } from '../common/logger';
import { newRunId } from '../common/paths';
import { ENV, PLATFORM_ENV } from '../contract/env';
import { MODEL_ARCHIVE, runPackagePrefix, type StoreCloud } from '../contract/layout';
import { LocalObjectStore } from '../storage/local-store';
import { openObjectUri } from '../storage/open';
import type { ObjectStore } from '../storage/object-store';
import { containerTrackingTarget } from './container-tracking';
import { resolveCsvKeys } from './data';
import { dataKeysFor, locate } from './data-location';
import { runEvaluateCommand } from './evaluate-command';
import { train, TrainingAbortedError, type TrainResult } from './index';
import { resolveContext } from '../context';
import { newestCompleteProcessedRun, type EnvironmentContext } from './locate';
import { registerPackage, servingImageFor } from './register';
import { runRegisterCommand } from './register-command';
import { TUNABLE_METRICS, type TunableMetric } from './telemetry';
import { directionOf, recordExternalTrial, type TrialRecord } from './tuning';

export type ContractName = 'sagemaker' | 'vertex' | 'azureml' | 'bucket';

/** The cloud whose training config applies; bucket mode names it in ENV.cloud. */
const CLOUD_OF: Record<Exclude<ContractName, 'bucket'>, CloudName> = { sagemaker: 'aws', vertex: 'gcp', azureml: 'azure' };

/** SageMaker's root inside its containers (ENV.sageMakerRoot moves it for tests). */
const SAGEMAKER_ROOT = '/opt/ml';

/** Hyperparameters accepted from the platform, with their parsers. */
const HYPERPARAMETERS: Record<string, (v: string) => unknown> = {
  epochs: Number,
  batch_size: Number,
  learning_rate: Number,
  dropout: Number,
  validation_split: Number,
  early_stopping_patience: Number,
  l2: Number,
  hidden_size: Number,
  hidden_layers: (v) => (v.trim().startsWith('[') ? JSON.parse(v) : v.split(',').map((s) => Number(s.trim()))),
  // gradient_boosting's (learning_rate is then the trees'); resolveTrainingParams moves them into their block.
  ...Object.fromEntries(['num_trees', 'num_leaves', 'max_depth', 'max_bins', 'min_data_in_leaf', 'lambda_l2', 'bagging_fraction', 'feature_fraction', 'early_stopping_rounds'].map((k) => [k, Number])),
};
/** Keys that are not training params but are allowed in hyperparameters. */
const CONTROL_KEYS = new Set(['env', 'run_id', 'parent_run', 'study_uri', 'models_uri']);

export interface Locations {
  contract: ContractName;
  runId: string;
  dataStore: ObjectStore;
  dataKeys: string[];
  modelStore: ObjectStore;
  modelPrefix: string;
  checkpointStore: ObjectStore;
  checkpointsPrefix: string;
  /** SageMaker only: where to write the failure reason. */
  failureFile?: string;
  hyperparameters: Record<string, string>;
  /** Bucket mode: the environment the trained package is registered in. */
  registration?: BucketRegistration;
}

/** Bucket mode: where the version is registered, and what its lineage and model package record. */
export interface BucketRegistration {
  ctx: EnvironmentContext;
  dataUri: string;
  /** AWS only: the serving image the SageMaker model package records (resolved before training). */
  servingImage?: string;
}

/** The platform gave the job inputs it cannot use (JOB_INPUT_INVALID: exit 1, as the platforms treat every failure alike). */
export class EntrypointError extends MlstackError {
  constructor(message: string, code: ErrorCode = 'JOB_INPUT_INVALID') {
    super(code, message);
    this.name = 'EntrypointError';
  }
}

/** The job was started with a configuration it cannot run (USAGE: exit 2, not 1). */
export class EntrypointUsageError extends EntrypointError {
  constructor(message: string) {
    super(message, 'USAGE');
    this.name = 'EntrypointUsageError';
  }
}

function readJsonFile<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new EntrypointError(`cannot read ${what} at ${file}: ${(err as Error).message}`);
  }
}

/** The options the contracts pass: Azure ML's folders, Vertex AI's --data, the control keys and the hyperparameters. */
const KNOWN_OPTIONS = Object.fromEntries(
  [...Object.keys(HYPERPARAMETERS), ...CONTROL_KEYS, 'input', 'output', 'checkpoints', 'data'].map((name) => [name, { type: 'string' as const }]),
);

/**
 * `--name value` and `--name=value` pairs, tokenised by node:util parseArgs. An unknown option keeps the
 * value after it too, so overridesFrom can name it; an option with no value is "true".
 */
export function parseArgs(argv: string[]): Record<string, string> {
  const { tokens } = parseArgv({ args: argv, options: KNOWN_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const out: Record<string, string> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.kind !== 'option') continue;
    const next = tokens[i + 1];
    if (token.value !== undefined) {
      out[token.name] = token.value;
    } else if (next?.kind === 'positional' && next.index === token.index + 1) {
      out[token.name] = next.value;
      i++;
    } else {
      out[token.name] = 'true';
    }
  }
  return out;
}

/**
 * Azure ML's arguments, then Vertex AI's model dir, then a bucket; SageMaker when none applies. A SageMaker
 * training job (it sets the training job name) keeps its /opt/ml contract even when a bucket is set.
 */
export function detectContract(args: Record<string, string>, env: NodeJS.ProcessEnv): ContractName {
  if (args.input !== undefined || args.output !== undefined) return 'azureml';
  if (env[PLATFORM_ENV.aipModelDir]) return 'vertex';
  if (env[ENV.bucket] && !env[PLATFORM_ENV.trainingJobName]) return 'bucket';
  return 'sagemaker';
}

function sageMakerRoot(env: NodeJS.ProcessEnv): string {
  return path.resolve(env[ENV.sageMakerRoot] ?? SAGEMAKER_ROOT);
}

export async function resolveLocations(argv: string[], env: NodeJS.ProcessEnv): Promise<Locations> {
  const args = parseArgs(argv);
  const contract = detectContract(args, env);
  if (contract === 'bucket') return resolveBucketLocations(args, env);
  if (contract === 'sagemaker') {
    const root = sageMakerRoot(env);
    const configDir = path.join(root, 'input', 'config');
    const hyperFile = path.join(configDir, 'hyperparameters.json');
    const hyper = fs.existsSync(hyperFile) ? readJsonFile<Record<string, unknown>>(hyperFile, 'SageMaker hyperparameters') : {};
    const channels = fs.existsSync(path.join(configDir, 'inputdataconfig.json'))
      ? Object.keys(readJsonFile<Record<string, unknown>>(path.join(configDir, 'inputdataconfig.json'), 'SageMaker input data config'))
      : [];
    const dataRoot = path.join(root, 'input', 'data');
    const available = fs.existsSync(dataRoot) ? fs.readdirSync(dataRoot) : [];
    const channel = ['train', 'training'].find((c) => channels.includes(c) || available.includes(c)) ?? channels[0] ?? available[0];
    if (!channel) throw new EntrypointError(`no input data channel under ${dataRoot}: configure a "train" channel for the training job`);
    const store = new LocalObjectStore(root);
    const dataKeys = await resolveCsvKeys(store, `input/data/${channel}/`).catch((err: Error) => {
      throw new EntrypointError(`channel "${channel}": ${err.message}`);
    });
    return {
      contract,
      runId: String(hyper.run_id ?? env[PLATFORM_ENV.trainingJobName] ?? newRunId()),
      dataStore: store,
      dataKeys,
      modelStore: store,
      modelPrefix: 'model/',
      checkpointStore: new LocalObjectStore(path.join(root, 'checkpoints')),
      checkpointsPrefix: '',
      failureFile: path.join(root, 'output', 'failure'),
      hyperparameters: { ...Object.fromEntries(Object.entries(hyper).map(([k, v]) => [k, String(v)])), ...args },
    };
  }
  const dataUri = contract === 'vertex' ? env[PLATFORM_ENV.aipTrainingDataUri] ?? args.data : args.input;
  const modelUri = contract === 'vertex' ? (env[PLATFORM_ENV.aipModelDir] as string) : args.output;
  if (!dataUri) throw new EntrypointError(contract === 'vertex' ? `${PLATFORM_ENV.aipTrainingDataUri} is not set (or pass --data <uri>)` : 'pass --input <folder or uri> with the training CSV files');
  if (!modelUri) throw new EntrypointError('pass --output <folder or uri> for the model package');
  const checkpointUri = contract === 'vertex' ? env[PLATFORM_ENV.aipCheckpointDir] ?? args.checkpoints : args.checkpoints;
  const data = await dataKeysFor(dataUri, (message) => new EntrypointError(message));
  const model = await locate(modelUri);
  const checkpoints = checkpointUri ? await locate(checkpointUri) : { store: model.store, prefix: `${model.prefix}checkpoints/` };
  const runId = args.run_id ?? (contract === 'vertex' ? env[PLATFORM_ENV.cloudMlJobId] : env[PLATFORM_ENV.azuremlRunId]) ?? newRunId();
  return {
    contract,
    runId,
    dataStore: data.store,
    dataKeys: data.keys,
    modelStore: model.store,
    // Checkpoints live beside the package only when no checkpoint location is given.
    modelPrefix: model.prefix,
    checkpointStore: checkpoints.store,
    checkpointsPrefix: checkpoints.prefix,
    hyperparameters: args,
  };
}

/** Turns platform hyperparameters (strings) into training param overrides; unknown keys are an error. */
export function overridesFrom(hyper: Record<string, string>): Partial<TrainingParams> {
  const out: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(hyper)) {
    if (key.startsWith('sagemaker_') || key.startsWith('_') || CONTROL_KEYS.has(key) || ['input', 'output', 'checkpoints', 'data'].includes(key)) continue;
    const parse = HYPERPARAMETERS[key];
    if (!parse) {
      unknown.push(key);
      continue;
    }
    const parsed = parse(value);
    if (typeof parsed === 'number' && !Number.isFinite(parsed)) throw new EntrypointError(`hyperparameter ${key}=${JSON.stringify(value)} is not a number`);
    out[key] = parsed;
  }
  if (unknown.length) {
    throw new EntrypointError(`unknown hyperparameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; accepted: ${[...Object.keys(HYPERPARAMETERS), ...CONTROL_KEYS].join(', ')}`);
  }
  return out as Partial<TrainingParams>;
}

function requireGpuFor(envName: string | undefined, cloud: StoreCloud, project: ProjectConfig, env: NodeJS.ProcessEnv, logger: Logger): boolean {
  const override = env[ENV.requireGpu];
  if (override === '1' || override === '0') return override === '1';
  if (!envName) {
    logger.warn(`no environment given (${ENV.env} or hyperparameter "env"): the require_gpu check is skipped`);
    return false;
  }
  if (!(ENVIRONMENTS as readonly string[]).includes(envName)) throw new EntrypointError(`unknown environment "${envName}" (expected one of ${ENVIRONMENTS.join(', ')})`);
  if (cloud === 'local') return false;
  return requireCloud(project.environments[envName as EnvironmentName], cloud)[cloud].training.require_gpu;
}

/** A variable bucket mode needs; an EntrypointUsageError naming it when it is missing (runtime/context checks its value). */
function requiredVariable(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new EntrypointUsageError(`${name} is not set: training in bucket mode (${ENV.bucket}=${env[ENV.bucket]}) needs it`);
  return value;
}

/**
 * Bucket mode: the store at ENV.bucket holds the data, the checkpoints, the package and the registry.
 * The run id is ENV.runId, else the platform's (a Cloud Run execution, an Azure ML run: the same across
 * a task's retries, so a retry resumes from its checkpoint), else a new one.
 */
export async function resolveBucketLocations(args: Record<string, string>, env: NodeJS.ProcessEnv): Promise<Locations> {
  const ctx: EnvironmentContext = await resolveContext({
    configDir: path.resolve(env[ENV.configDir] ?? DEFAULT_CONFIG_DIR),
    env: requiredVariable(env, ENV.env),
    cloud: requiredVariable(env, ENV.cloud),
    declaredProject: env[ENV.project],
    bucket: env[ENV.bucket],
    names: { env: ENV.env, cloud: ENV.cloud, project: ENV.project, bucket: ENV.bucket },
  });
  const { store, paths, cloud, envName } = ctx;
  // Resolved before training: a registration that cannot name its serving image must not cost a training run.
  const servingImage = cloud === 'aws' ? servingImageFor(ctx, env[ENV.servingImage]) : undefined;
  const dataUri = env[ENV.dataUri];
  let data: { store: ObjectStore; keys: string[] };
  let dataLocation: string;
  if (dataUri) {
    data = await dataKeysFor(dataUri, (message) => new EntrypointUsageError(`${ENV.dataUri}: ${message}`));
    dataLocation = dataUri;
  } else {
    const run = await newestCompleteProcessedRun(store, paths);
    if (!run) {
      throw new EntrypointUsageError(
        `no complete processed run under ${store.uri(paths.processed)} (ingestion marks a run complete last): ingest data first or set ${ENV.dataUri} to a processed run or CSV file`,
      );
    }
    data = { store, keys: run.keys };
    dataLocation = store.uri(run.prefix);
  }
  const runId = args.run_id ?? env[ENV.runId] ?? env[PLATFORM_ENV.cloudRunExecution] ?? env[PLATFORM_ENV.azuremlRunId] ?? newRunId();
  return {
    contract: 'bucket',
    runId,
    dataStore: data.store,
    dataKeys: data.keys,
    modelStore: store,
    modelPrefix: runPackagePrefix(paths, runId),
    checkpointStore: store,
    checkpointsPrefix: paths.checkpoints,
    hyperparameters: { ...args, env: envName },
    registration: { ctx, dataUri: dataLocation, ...(servingImage ? { servingImage } : {}) },
  };
}

/** Registers a bucket-mode run's package; the result line then names the version. */
async function registerRun(registration: BucketRegistration, result: TrainResult, parentRun: string | null, logger: Logger): Promise<Record<string, unknown>> {
  const { version, created } = await registerPackage(registration.ctx, {
    source: result.packagePrefix,
    dataUri: registration.dataUri,
    parentRun,
    servingImage: registration.servingImage,
  });
  logger.info({ version: version.version, artifact: version.artifact_uri, created }, created ? `registered ${version.version}` : `${version.version} already holds this run`);
  return {
    version: version.version,
    artifact_uri: version.artifact_uri,
    package_uri: version.package_uri,
    already_registered: !created,
    ...(version.sagemaker_model_package_arn ? { model_package_arn: version.sagemaker_model_package_arn } : {}),
  };
}

/** Runs one training job (or `evaluate ...`, `register ...`) under the detected contract; resolves to the process exit code. */
export async function runEntrypoint(argv: string[], env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<number> {
  if (argv[0] === 'evaluate') return runEvaluateCommand(argv.slice(1), env);
  if (argv[0] === 'register') return runRegisterCommand(argv.slice(1), env);
  const logger = createLogger('training', 'container', env);
  let failureFile: string | undefined;
  let where: Locations | undefined;
  let project: ProjectConfig | undefined;
  let study: StudyTarget | undefined;
  const started = new Date().toISOString();
  try {
    const rest = argv[0] === 'train' ? argv.slice(1) : argv;
    if (detectContract(parseArgs(rest), env) === 'sagemaker') failureFile = path.join(sageMakerRoot(env), 'output', 'failure');
    where = await resolveLocations(rest, env);
    // A bad study_uri fails the trial before it trains, not after.
    if (where.hyperparameters.study_uri) study = await studyTarget(where.hyperparameters.study_uri);
    project = where.registration?.ctx.project ?? loadProjectConfig(path.resolve(env[ENV.configDir] ?? DEFAULT_CONFIG_DIR));
    const envName = env[ENV.env] ?? where.hyperparameters.env;
    const cloud = where.registration?.ctx.cloud ?? CLOUD_OF[where.contract as Exclude<ContractName, 'bucket'>];
    const requireGpu = requireGpuFor(envName, cloud, project, env, logger);
    logger.info({ contract: where.contract, run: where.runId, data: where.dataKeys.map((k) => where!.dataStore.uri(k)), model: where.modelPrefix ? where.modelStore.uri(where.modelPrefix) : where.modelStore.root, requireGpu }, 'training job starting');
    if (where.contract === 'sagemaker') logResourceConfig(env, logger);
    const parentRun = where.hyperparameters.parent_run ?? null;
    const tracking = await containerTrackingTarget({ contract: where.contract, ctx: where.registration?.ctx, study: study?.studyId }, env, logger);
    const result: TrainResult = await train({
      project,
      store: where.modelStore,
      dataStore: where.dataStore,
      checkpointStore: where.checkpointStore,
      dataKeys: where.dataKeys,
      runId: where.runId,
      modelsPrefix: '',
      packagePrefix: where.modelPrefix,
      checkpointsPrefix: where.checkpointsPrefix,
      overrides: overridesFrom(where.hyperparameters),
      requireGpu,
      // SageMaker's metric definitions scrape stdout; the other contracts only get the epoch records.
      progress: where.contract === 'sagemaker' ? 'sagemaker' : 'lines',
      logger,
      signal,
      parentRun,
      tracking,
    });
    if (study) {
      const uri = await recordStudyTrial(study, where, project, { started, result });
      logger.info({ trial: uri }, 'trial recorded in the study');
    }
    const registered = where.registration ? await registerRun(where.registration, result, parentRun, logger) : {};
    process.stdout.write(`mlstack-result ${JSON.stringify({ ...result, ...registered })}\n`);
    return 0;
  } catch (err) {
    if (err instanceof TrainingAbortedError) {
      logger.warn(err.message);
      // StopTrainingJob (a stopped tuning job, or Hyperband stopping a weak trial): the study still learns of the trial.
      if (study && where && project) {
        await recordStudyTrial(study, where, project, { started, stoppedAfterEpoch: err.epoch }).catch((recordErr: Error) =>
          logger.error({ err: recordErr }, 'could not record the stopped trial'),
        );
      }
      // Stopped by SIGTERM (StopTrainingJob): 128 + 15, where the catalogue's ABORTED (130) is a Ctrl-C.
      return 143;
    }
    let message = err instanceof Error ? err.message : String(err);
    logger.error({ err }, `training failed: ${message}`);
    if (study && where && project) {
      // A failed trial is a result too: the study must show it, not wait for it.
      await recordStudyTrial(study, where, project, { started, error: message }).catch((recordErr: Error) => {
        message = `${message}; and the failed trial could not be recorded in ${where!.hyperparameters.study_uri}: ${recordErr.message}`;
        logger.error({ err: recordErr }, 'could not record the failed trial');
      });
    }
    if (failureFile) {
      fs.mkdirSync(path.dirname(failureFile), { recursive: true });
      // SageMaker shows the first 1024 characters as the job's FailureReason.
      fs.writeFileSync(failureFile, message.slice(0, 1024));
    }
    return exitCodeFor(err);
  }
}

export interface StudyTarget {
  store: ObjectStore;
  /** Studies live at `<prefix><studyId>/`. */
  prefix: string;
  studyId: string;
}

/** Splits a study_uri (`s3://bucket/state/studies/<study id>/`) into its store, prefix and study id. */
export async function studyTarget(studyUri: string): Promise<StudyTarget> {
  const { store, key } = await openObjectUri(studyUri.endsWith('/') ? studyUri : `${studyUri}/`);
  const parts = key.replace(/\/$/, '').split('/');
  const studyId = parts.pop() as string;
  if (!studyId) throw new EntrypointError(`hyperparameter study_uri=${JSON.stringify(studyUri)} names no study: expected <store>/<prefix>/<study id>/`);
  return { store, prefix: parts.length ? `${parts.join('/')}/` : '', studyId };
}

/**
 * Writes this trial's result to the study named by the `study_uri` hyperparameter (the tuning stack
 * sets it): one object per trial, so the tuning job's concurrent trials never lose each other's results.
 */
export async function recordStudyTrial(
  { store, prefix, studyId }: StudyTarget,
  where: Pick<Locations, 'runId' | 'hyperparameters'>,
  project: ProjectConfig,
  outcome: { started: string; result?: TrainResult; error?: string; stoppedAfterEpoch?: number },
): Promise<string> {
  const hyper = where.hyperparameters;
  // SageMaker passes the objective as `_tuning_objective_metric` (e.g. "validation:auc").
  const objective = /^validation:(\w+)$/.exec(hyper._tuning_objective_metric ?? '')?.[1] ?? project.pipeline.tuning?.metric ?? 'auc';
  if (!(TUNABLE_METRICS as readonly string[]).includes(objective)) throw new EntrypointError(`tuning objective "${hyper._tuning_objective_metric}" is not one of ${TUNABLE_METRICS.map((m) => `validation:${m}`).join(', ')}`);
  const metricName = objective as TunableMetric;
  const { result, error } = outcome;
  const metric = result?.validation[`val_${metricName}`];
  const params = overridesFromSafe(hyper);
  const modelsUri = hyper.models_uri ? (hyper.models_uri.endsWith('/') ? hyper.models_uri : `${hyper.models_uri}/`) : undefined;
  const trial: TrialRecord = {
    trial_id: where.runId,
    run_id: where.runId,
    rung: 0,
    config_index: 0,
    params,
    epochs: result?.epochs ?? outcome.stoppedAfterEpoch ?? 0,
    status: result && metric !== undefined ? 'complete' : outcome.stoppedAfterEpoch !== undefined ? 'stopped' : 'failed',
    metric: metric ?? null,
    test_metrics: result?.metrics ?? null,
    package_prefix: null,
    ...(result && modelsUri ? { model_uri: `${modelsUri}${where.runId}/output/${MODEL_ARCHIVE}` } : {}),
    ...(outcome.stoppedAfterEpoch !== undefined
      ? { error: `stopped by StopTrainingJob after epoch ${outcome.stoppedAfterEpoch}; no package was written` }
      : error || metric === undefined
        ? { error: error ?? `the ${result?.task} model reports no validation ${metricName}` }
        : {}),
    started_at: outcome.started,
    finished_at: new Date().toISOString(),
  };
  return recordExternalTrial(
    store,
    prefix,
    { study_id: studyId, project: project.pipeline.project, strategy: project.pipeline.tuning?.strategy ?? 'random', metric: metricName, direction: directionOf(metricName), status: 'running', created_at: outcome.started },
    trial,
  );
}

function overridesFromSafe(hyper: Record<string, string>): Partial<TrainingParams> {
  try {
    return overridesFrom(hyper);
  } catch {
    // The trial failed on its hyperparameters; record them as given.
    return Object.fromEntries(Object.entries(hyper).filter(([k]) => !k.startsWith('_') && !k.startsWith('sagemaker_') && !CONTROL_KEYS.has(k))) as Partial<TrainingParams>;
  }
}

function logResourceConfig(env: NodeJS.ProcessEnv, logger: Logger): void {
  const file = path.join(sageMakerRoot(env), 'input', 'config', 'resourceconfig.json');
  if (!fs.existsSync(file)) return;
  const config = readJsonFile<{ current_host?: string; hosts?: string[] }>(file, 'SageMaker resource config');
  if ((config.hosts?.length ?? 1) > 1) logger.warn({ hosts: config.hosts }, 'several hosts configured: each trains independently (no distributed training)');
  logger.info({ host: config.current_host, hosts: config.hosts }, 'SageMaker resource config');
}

// Run when executed directly (node bin/run-ts.js runtime/training/entrypoint.ts train, or the bundled image).
if (process.argv[1] && path.resolve(process.argv[1]) === __filename) {
  const controller = new AbortController();
  // SageMaker StopTrainingJob sends SIGTERM (SIGKILL 120 s later): stop after the current batch; the last checkpoint stays.
  process.once('SIGTERM', () => controller.abort());
  // exit: TF.js can leave handles open after the result line; the process ends once its output is flushed.
  void runMain('mlstack-train', () => runEntrypoint(process.argv.slice(2), process.env, controller.signal), { exit: true });
}
