/**
 * The ingestion container's entrypoint: `node entrypoint.js` (or `node bin/run-ts.js runtime/ingestion/entrypoint.ts`).
 * Configuration comes from environment variables so each cloud's scheduler can start the same image:
 *   MLSTACK_ENV (dev), MLSTACK_CLOUD (local | aws | gcp | azure; default local), MLSTACK_SOURCE (API URL, file or
 *   object URI, postgres:// or mysql:// URL; "sample" or unset starts the built-in sample API), MLSTACK_CONFIG_DIR
 *   (config), MLSTACK_WORKDIR (.mlstack; the store root for cloud=local), MLSTACK_RUN_ID (resume or repeat a run).
 * Prints the IngestionResult as JSON on stdout; exits 2 on configuration errors, 1 on any other failure.
 */
import * as path from 'node:path';
import { assertEnvironmentName, ConfigError, loadProjectConfig } from '../../config/load';
import { createLogger, type Logger } from '../common/logger';
import { storeForEnvironment, type StoreCloud } from '../storage/open';
import { IngestionConfigError } from './fields';
import { runIngestion, type IngestionResult } from './index';
import { startSampleApi } from './sample-api';

export const STORE_CLOUDS: readonly StoreCloud[] = ['local', 'aws', 'gcp', 'azure'];

export function assertStoreCloud(name: string): StoreCloud {
  if (!(STORE_CLOUDS as readonly string[]).includes(name)) {
    throw new ConfigError([{ file: '--cloud', keyPath: '(root)', message: `unknown cloud "${name}": expected one of ${STORE_CLOUDS.join(', ')}` }]);
  }
  return name as StoreCloud;
}

export interface IngestRequest {
  env: string;
  cloud: string;
  /** Omitted or "sample": the built-in sample API, started for the run and stopped after. */
  source?: string;
  configDir: string;
  workdir: string;
  runId?: string;
  logger?: Logger;
}

/** Loads config, opens the environment's store and runs one ingestion (shared by the CLI and the container). */
export async function ingest(request: IngestRequest): Promise<IngestionResult> {
  const project = loadProjectConfig(request.configDir);
  const env = assertEnvironmentName(request.env);
  const cloud = assertStoreCloud(request.cloud);
  const store = await storeForEnvironment(project.environments[env], cloud, request.workdir);
  const useSample = request.source === undefined || request.source === '' || request.source === 'sample';
  const sample = useSample ? await startSampleApi() : undefined;
  try {
    return await runIngestion({
      project,
      env,
      cloud,
      store,
      source: sample ? sample.url : (request.source as string),
      runId: request.runId,
      logger: request.logger,
    });
  } finally {
    await sample?.close();
  }
}

export function requestFromEnvironment(env: NodeJS.ProcessEnv = process.env): IngestRequest {
  return {
    env: env.MLSTACK_ENV ?? 'dev',
    cloud: env.MLSTACK_CLOUD ?? 'local',
    source: env.MLSTACK_SOURCE,
    configDir: env.MLSTACK_CONFIG_DIR ?? 'config',
    workdir: env.MLSTACK_WORKDIR ?? '.mlstack',
    runId: env.MLSTACK_RUN_ID || undefined,
  };
}

/** Runs the container entrypoint and resolves to its exit code. */
export async function main(env: NodeJS.ProcessEnv = process.env, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  try {
    const result = await ingest({ ...requestFromEnvironment(env), logger: createLogger('ingestion') });
    out.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (error) {
    err.write(`mlstack-ingest: ${(error as Error).message}\n`);
    return error instanceof ConfigError || error instanceof IngestionConfigError ? 2 : 1;
  }
}

// Direct run, or through bin/run-ts.js (which requires this file with argv[1] pointing at it).
if (require.main === module || path.resolve(process.argv[1] ?? '') === __filename) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
