/**
 * Where a platform training container records its run (runtime/tracking), as `mlstack train` does locally: the
 * environment's store. Bucket mode has it already; the SageMaker, Vertex and Azure ML contracts find it from the
 * declared MLSTACK_ENV and MLSTACK_CLOUD (the bucket from config). Best effort: a store that cannot be resolved or
 * written is a warning, never a failed job.
 */
import * as path from 'node:path';
import { DEFAULT_CONFIG_DIR } from '../../config/load';
import type { Logger } from '../common/logger';
import { resolveContext, type RunContext } from '../context';
import { ENV } from '../contract/env';
import type { TrackingTarget } from './track';

export interface ContainerRun {
  contract: string;
  /** Bucket mode: the context it already resolved. */
  ctx?: RunContext;
  /** A tuning trial's study id. */
  study?: string;
}

async function storeContext(run: ContainerRun, env: NodeJS.ProcessEnv): Promise<RunContext | undefined> {
  if (run.ctx) return run.ctx;
  const [envName, cloud] = [env[ENV.env], env[ENV.cloud]];
  if (!envName || !cloud) return undefined;
  return resolveContext({
    configDir: path.resolve(env[ENV.configDir] ?? DEFAULT_CONFIG_DIR),
    env: envName,
    cloud,
    declaredProject: env[ENV.project],
    bucket: env[ENV.bucket],
    names: { env: ENV.env, cloud: ENV.cloud, project: ENV.project, bucket: ENV.bucket },
  });
}

/** The tracking target of a container's run, or undefined (logged) when no store can be named. */
export async function containerTrackingTarget(run: ContainerRun, env: NodeJS.ProcessEnv, logger: Logger): Promise<TrackingTarget | undefined> {
  try {
    const ctx = await storeContext(run, env);
    if (!ctx) {
      logger.info(`run not tracked: ${ENV.env} and ${ENV.cloud} are not set, so no store is known`);
      return undefined;
    }
    const tags = { contract: run.contract, ...(run.study ? { study: run.study } : {}) };
    return { store: ctx.store, source: run.study ? 'tune' : 'train', env: ctx.envName, cloud: ctx.cloud, tags, bestEffort: true };
  } catch (err) {
    logger.warn({ err }, `run not tracked: its store cannot be resolved (${(err as Error).message})`);
    return undefined;
  }
}
