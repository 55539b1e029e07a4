/**
 * Container entry point: `<image> serve`. Finds the model where each cloud puts it, listens at once
 * (readiness answers 503 while the model loads), and drains on SIGTERM before exiting.
 *
 * Model source, first set wins:
 *   MLSTACK_MODEL         a registry version, folder or URI (ours; local runs and tests)
 *   AIP_STORAGE_URI       Vertex AI: gs:// folder with the model artifacts
 *   AZUREML_MODEL_DIR     Azure ML: mounted model folder (the package may sit a few folders below)
 *   MLSTACK_SM_MODEL_DIR  SageMaker model root, default /opt/ml/model
 * Limits: MLSTACK_MAX_BATCH_SIZE, MLSTACK_MAX_BODY_BYTES, else config/pipeline.json `serving` when
 * MLSTACK_CONFIG_DIR is set, else the server defaults. Routes and ports: see routes.ts.
 */
import { loadProjectConfig } from '../../config/load';
import { createLogger, type Logger } from '../common/logger';
import { loadPredictor } from './load';
import { startServer, type RunningServer } from './server';

export const SAGEMAKER_MODEL_DIR = '/opt/ml/model';

export function modelSource(env: NodeJS.ProcessEnv): string {
  return env.MLSTACK_MODEL || env.AIP_STORAGE_URI || env.AZUREML_MODEL_DIR || env.MLSTACK_SM_MODEL_DIR || SAGEMAKER_MODEL_DIR;
}

export function servingLimits(env: NodeJS.ProcessEnv): { maxBatchSize?: number; maxBodyBytes?: number } {
  const fromConfig = env.MLSTACK_CONFIG_DIR ? loadProjectConfig(env.MLSTACK_CONFIG_DIR).pipeline.serving : undefined;
  return {
    maxBatchSize: positiveIntEnv(env, 'MLSTACK_MAX_BATCH_SIZE') ?? fromConfig?.max_batch_size,
    maxBodyBytes: positiveIntEnv(env, 'MLSTACK_MAX_BODY_BYTES') ?? fromConfig?.max_body_bytes,
  };
}

function positiveIntEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}="${raw}" must be a positive integer`);
  return value;
}

/** Starts serving from the environment; resolves once listening (the model may still be loading). */
export async function serveFromEnvironment(env: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger('serving')): Promise<RunningServer> {
  const source = modelSource(env);
  logger.info({ source }, 'loading model');
  return startServer({ predictor: loadPredictor(source, { workdir: env.MLSTACK_WORKDIR }), logger, env, ...servingLimits(env) });
}

/** Resolves after the first SIGTERM/SIGINT has drained the server (rejects if draining fails). */
export function drainOnSignal(server: RunningServer, logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve, reject) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      logger.info({ signal }, 'signal received: draining');
      server.close().then(() => resolve(signal), reject);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** Drains on SIGTERM/SIGINT, then exits 0 (1 if draining failed). */
export function exitOnSignals(server: RunningServer, logger: Logger, exit: (code: number) => void = (c) => process.exit(c)): void {
  drainOnSignal(server, logger).then(
    () => exit(0),
    () => exit(1),
  );
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command !== 'serve') {
    process.stderr.write(`usage: <image> serve   (got "${argv.join(' ')}"); the serving image only serves\n`);
    return 2;
  }
  const logger = createLogger('serving');
  const server = await serveFromEnvironment(process.env, logger);
  exitOnSignals(server, logger);
  try {
    await server.whenReady;
  } catch {
    await server.close();
    return 1;
  }
  return -1;
}

if (require.main === module || process.argv[1] === __filename) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: Error) => {
      process.stderr.write(`serving failed to start: ${err.message}\n`);
      process.exit(1);
    },
  );
}
