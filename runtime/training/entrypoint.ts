/**
 * The training container's entrypoint: one image, three clouds.
 *
 *   SageMaker  `<image> train`; reads <root>/input/config/{hyperparameters,inputdataconfig,resourceconfig}.json
 *              and <root>/input/data/<channel>/*.csv; writes the package to <root>/model, checkpoints to
 *              <root>/checkpoints, the failure reason to <root>/output/failure. root = MLSTACK_SM_ROOT (/opt/ml).
 *   Vertex AI  AIP_MODEL_DIR, AIP_CHECKPOINT_DIR, AIP_TRAINING_DATA_URI (gs:// or file URIs; "*" globs allowed).
 *   Azure ML   `--input <folder|uri> --output <folder|uri> [--checkpoints <folder|uri>]`.
 * Hyperparameters (epochs, batch_size, learning_rate, dropout, hidden_layers, ...) come from
 * hyperparameters.json (SageMaker) or `--name=value` arguments (all three).
 * MLSTACK_CONFIG_DIR (default "config") holds the project config; MLSTACK_ENV (or the hyperparameter
 * "env") picks the environment whose training.require_gpu is enforced.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig, requireCloud } from '../../config/load';
import { ENVIRONMENTS, type CloudName, type EnvironmentName, type ProjectConfig, type TrainingParams } from '../../config/schema';
import { createLogger, type Logger } from '../common/logger';
import { newRunId } from '../common/paths';
import { LocalObjectStore } from '../storage/local-store';
import { openObjectUri } from '../storage/open';
import type { ObjectStore } from '../storage/object-store';
import { resolveCsvKeys } from './data';
import { runEvaluateCommand } from './evaluate-command';
import { train, TrainingAbortedError, type TrainResult } from './index';
import { TUNABLE_METRICS, type TunableMetric } from './telemetry';
import { directionOf, recordExternalTrial, type TrialRecord } from './tuning';

export type ContractName = 'sagemaker' | 'vertex' | 'azureml';

const CLOUD_OF: Record<ContractName, CloudName> = { sagemaker: 'aws', vertex: 'gcp', azureml: 'azure' };

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
}

export class EntrypointError extends Error {
  override name = 'EntrypointError';
}

function readJsonFile<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new EntrypointError(`cannot read ${what} at ${file}: ${(err as Error).message}`);
  }
}

/** `--name value` and `--name=value` pairs. */
export function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) out[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[arg.slice(2)] = argv[++i];
    else out[arg.slice(2)] = 'true';
  }
  return out;
}

export function detectContract(args: Record<string, string>, env: NodeJS.ProcessEnv): ContractName {
  if (args.input !== undefined || args.output !== undefined) return 'azureml';
  if (env.AIP_MODEL_DIR) return 'vertex';
  return 'sagemaker';
}

/** A store and prefix for a folder path or object URI (a folder gets its own LocalObjectStore). */
async function locate(uriOrPath: string): Promise<{ store: ObjectStore; prefix: string }> {
  if (!/^[a-z0-9]+:\/\//.test(uriOrPath) || uriOrPath.startsWith('file://')) {
    const dir = uriOrPath.startsWith('file://') ? new URL(uriOrPath).pathname : path.resolve(uriOrPath);
    return { store: new LocalObjectStore(dir), prefix: '' };
  }
  const { store, key } = await openObjectUri(uriOrPath);
  return { store, prefix: key === '' || key.endsWith('/') ? key : `${key}/` };
}

/** CSV keys for a data location: a file, a folder/prefix, or a "*" glob over names (Vertex). */
async function dataKeysFor(uriOrPath: string): Promise<{ store: ObjectStore; keys: string[] }> {
  const star = uriOrPath.indexOf('*');
  if (star >= 0) {
    const slash = uriOrPath.lastIndexOf('/', star);
    const { store, prefix } = await locate(uriOrPath.slice(0, slash + 1));
    const pattern = new RegExp(`^${uriOrPath.slice(slash + 1).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    const keys = (await store.list(prefix)).map((o) => o.key).filter((k) => pattern.test(k.slice(prefix.length)));
    if (keys.length === 0) throw new EntrypointError(`no training data matches ${uriOrPath}`);
    return { store, keys };
  }
  if (!/^[a-z0-9]+:\/\//.test(uriOrPath) && fs.existsSync(uriOrPath) && fs.statSync(uriOrPath).isFile()) {
    return { store: new LocalObjectStore(path.dirname(path.resolve(uriOrPath))), keys: [path.basename(uriOrPath)] };
  }
  const { store, prefix } = await locate(uriOrPath);
  return { store, keys: await resolveCsvKeys(store, prefix) };
}

export async function resolveLocations(argv: string[], env: NodeJS.ProcessEnv): Promise<Locations> {
  const args = parseArgs(argv);
  const contract = detectContract(args, env);
  if (contract === 'sagemaker') {
    const root = path.resolve(env.MLSTACK_SM_ROOT ?? '/opt/ml');
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
      runId: String(hyper.run_id ?? env.TRAINING_JOB_NAME ?? newRunId()),
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
  const dataUri = contract === 'vertex' ? env.AIP_TRAINING_DATA_URI ?? args.data : args.input;
  const modelUri = contract === 'vertex' ? (env.AIP_MODEL_DIR as string) : args.output;
  if (!dataUri) throw new EntrypointError(contract === 'vertex' ? 'AIP_TRAINING_DATA_URI is not set (or pass --data <uri>)' : 'pass --input <folder or uri> with the training CSV files');
  if (!modelUri) throw new EntrypointError('pass --output <folder or uri> for the model package');
  const checkpointUri = contract === 'vertex' ? env.AIP_CHECKPOINT_DIR ?? args.checkpoints : args.checkpoints;
  const data = await dataKeysFor(dataUri);
  const model = await locate(modelUri);
  const checkpoints = checkpointUri ? await locate(checkpointUri) : { store: model.store, prefix: `${model.prefix}checkpoints/` };
  const runId = args.run_id ?? (contract === 'vertex' ? env.CLOUD_ML_JOB_ID : env.AZUREML_RUN_ID) ?? newRunId();
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

function requireGpuFor(envName: string | undefined, contract: ContractName, configDir: string, env: NodeJS.ProcessEnv, logger: Logger): boolean {
  if (env.MLSTACK_REQUIRE_GPU === '1' || env.MLSTACK_REQUIRE_GPU === '0') return env.MLSTACK_REQUIRE_GPU === '1';
  if (!envName) {
    logger.warn('no environment given (MLSTACK_ENV or hyperparameter "env"): the require_gpu check is skipped');
    return false;
  }
  if (!(ENVIRONMENTS as readonly string[]).includes(envName)) throw new EntrypointError(`unknown environment "${envName}" (expected one of ${ENVIRONMENTS.join(', ')})`);
  const project = loadProjectConfig(configDir);
  const cloud = CLOUD_OF[contract];
  return requireCloud(project.environments[envName as EnvironmentName], cloud)[cloud].training.require_gpu;
}

/** Runs one training job (or `evaluate ...`) under the detected contract; resolves to the process exit code. */
export async function runEntrypoint(argv: string[], env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<number> {
  if (argv[0] === 'evaluate') return runEvaluateCommand(argv.slice(1), env);
  const logger = createLogger('training');
  let failureFile: string | undefined;
  let where: Locations | undefined;
  let project: ProjectConfig | undefined;
  let study: StudyTarget | undefined;
  const started = new Date().toISOString();
  try {
    const rest = argv[0] === 'train' ? argv.slice(1) : argv;
    if (detectContract(parseArgs(rest), env) === 'sagemaker') failureFile = path.join(path.resolve(env.MLSTACK_SM_ROOT ?? '/opt/ml'), 'output', 'failure');
    where = await resolveLocations(rest, env);
    // A bad study_uri fails the trial before it trains, not after.
    if (where.hyperparameters.study_uri) study = await studyTarget(where.hyperparameters.study_uri);
    const configDir = path.resolve(env.MLSTACK_CONFIG_DIR ?? 'config');
    project = loadProjectConfig(configDir);
    const envName = env.MLSTACK_ENV ?? where.hyperparameters.env;
    const requireGpu = requireGpuFor(envName, where.contract, configDir, env, logger);
    logger.info({ contract: where.contract, run: where.runId, data: where.dataKeys.map((k) => where!.dataStore.uri(k)), model: where.modelPrefix ? where.modelStore.uri(where.modelPrefix) : where.modelStore.root, requireGpu }, 'training job starting');
    if (where.contract === 'sagemaker') logResourceConfig(env, logger);
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
      progress: 'lines',
      logger,
      signal,
      parentRun: where.hyperparameters.parent_run ?? null,
    });
    if (study) {
      const uri = await recordStudyTrial(study, where, project, { started, result });
      logger.info({ trial: uri }, 'trial recorded in the study');
    }
    process.stdout.write(`mlstack-result ${JSON.stringify(result)}\n`);
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
    return 1;
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
    ...(result && modelsUri ? { model_uri: `${modelsUri}${where.runId}/output/model.tar.gz` } : {}),
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
  const file = path.join(path.resolve(env.MLSTACK_SM_ROOT ?? '/opt/ml'), 'input', 'config', 'resourceconfig.json');
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
  void runEntrypoint(process.argv.slice(2), process.env, controller.signal).then((code) => process.exit(code));
}
