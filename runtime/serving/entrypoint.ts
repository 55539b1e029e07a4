/**
 * Container entry point: `<image> serve`. Finds the model where each cloud puts it, listens at once
 * (readiness answers 503 while the model loads), and drains on SIGTERM before exiting.
 *
 * Model source, first set wins:
 *   MLSTACK_MODEL         a registry version, folder or URI (ours; local runs and tests)
 *   MLSTACK_REGISTRY_URI  with MLSTACK_MODEL_VERSION: the pinned version (or `latest`) from the registry in that
 *                         bucket (gs://bucket/, az://account/container/, s3://bucket/); Cloud Run and Container Apps
 *   AIP_STORAGE_URI       Vertex AI: gs:// folder with the model artifacts
 *   AZUREML_MODEL_DIR     Azure ML: mounted model folder (the package may sit a few folders below)
 *   MLSTACK_SM_MODEL_DIR  SageMaker model root, default /opt/ml/model
 * A version in MLSTACK_MODEL also resolves in MLSTACK_REGISTRY_URI when that is set (else in MLSTACK_WORKDIR).
 * Without a registry, MLSTACK_MODEL_VERSION only labels the predictions (SageMaker gets the model unpacked).
 * Workers: MLSTACK_WORKERS (a number or `auto`, the default: one per usable core; see cluster.ts).
 * Limits: MLSTACK_MAX_BATCH_SIZE, MLSTACK_MAX_BODY_BYTES, else config/pipeline.json `serving` when
 * MLSTACK_CONFIG_DIR is set, else the server defaults. Routes and ports: see routes.ts.
 */
import { loadProjectConfig } from '../../config/load';
import { runMain, UsageError } from '../common/errors';
import { createLogger, type Logger } from '../common/logger';
import { parseWorkers } from './cluster';
import { loadPredictor } from './load';
import { drainOnSignal, runServingProcess, type WorkerServerOptions } from './process';
import { startServer, type RunningServer } from './server';
import { ENV, PLATFORM_ENV } from '../contract/env';

export { drainOnSignal };

export const SAGEMAKER_MODEL_DIR = '/opt/ml/model';


export interface ModelSource {
  /** A registry version, a folder or a package URI (see loadPredictor). */
  source: string;
  /** Store whose registry resolves a version source. */
  registryUri?: string;
  project?: string;
  /** Label for a model loaded from a folder or URI. */
  version?: string;
}

export function resolveModelSource(env: NodeJS.ProcessEnv): ModelSource {
  const registryUri = env[ENV.registryUri] || undefined;
  const project = env[ENV.project] || undefined;
  const pinned = env[ENV.modelVersion] || undefined;
  const model = env[ENV.model];
  if (model) return { source: model, registryUri, project };
  if (registryUri) {
    if (!pinned) {
      throw new UsageError(`${ENV.registryUri}="${registryUri}" is set but ${ENV.modelVersion} is not: set it to a registered version (v3) or latest`);
    }
    return { source: pinned, registryUri, project };
  }
  const source = env[PLATFORM_ENV.aipStorageUri] || env[PLATFORM_ENV.azuremlModelDir] || env[ENV.sageMakerModelDir] || SAGEMAKER_MODEL_DIR;
  return { source, version: pinned };
}

export function modelSource(env: NodeJS.ProcessEnv): string {
  return resolveModelSource(env).source;
}

export function servingLimits(env: NodeJS.ProcessEnv): { maxBatchSize?: number; maxBodyBytes?: number } {
  const configDir = env[ENV.configDir];
  const fromConfig = configDir ? loadProjectConfig(configDir).pipeline.serving : undefined;
  return {
    maxBatchSize: positiveIntEnv(env, ENV.maxBatchSize) ?? fromConfig?.max_batch_size,
    maxBodyBytes: positiveIntEnv(env, ENV.maxBodyBytes) ?? fromConfig?.max_body_bytes,
  };
}

function positiveIntEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${name}="${raw}" must be a positive integer`);
  return value;
}

/** Starts serving from the environment; resolves once listening (the model may still be loading). */
export async function serveFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  logger: Logger = createLogger('serving', 'container'),
  extra: WorkerServerOptions = {},
): Promise<RunningServer> {
  const { source, ...where } = resolveModelSource(env);
  logger.info({ source, ...where }, 'loading model');
  const predictor = loadPredictor(source, { workdir: env[ENV.workdir], ...where });
  return startServer({ predictor, logger, env, ...servingLimits(env), ...extra });
}

/** Drains on SIGTERM/SIGINT, then exits 0 (1 if draining failed). */
export function exitOnSignals(server: RunningServer, logger: Logger, exit: (code: number) => void = (c) => process.exit(c)): void {
  drainOnSignal(server, logger).then(
    () => exit(0),
    () => exit(1),
  );
}

/**
 * `<image> serve`: resolves to the exit code once the server has drained. A server that cannot start
 * rejects, and runMain prints the reason with the catalogue's exit code (2 for a bad variable, 1 for a
 * missing model or any other failure).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv[0] !== 'serve') throw new UsageError(`usage: <image> serve (got "${argv.join(' ')}"); the serving image only serves`);
  const logger = createLogger('serving', 'container');
  const workers = parseWorkers(env[ENV.workers]);
  const serving = await runServingProcess(workers, logger, (extra) => serveFromEnvironment(env, logger, extra));
  return serving.done;
}

if (require.main === module || process.argv[1] === __filename) {
  // exit: the drained server's process ends at once, whatever timers its libraries keep.
  void runMain('mlstack-serve', () => main(process.argv.slice(2)), { exit: true });
}
