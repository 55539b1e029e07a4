/**
 * Runs serving as a whole process, the same way for the container entry point and `mlstack serve`:
 * one server in this process, or a primary with one worker per core (cluster.ts), or, when this
 * process is such a worker, one server wired to its primary.
 */
import type { Logger } from '../common/logger';
import { isServingWorker, servingWorkerHooks, startServingPrimary, StoppedBeforeReady } from './cluster';
import type { RunningServer, ServerOptions } from './server';

/** What a worker adds to its server's options. */
export type WorkerServerOptions = Pick<ServerOptions, 'renderMetrics' | 'readinessGate'>;

export interface ServingProcess {
  /** Where the server answers. */
  url: string;
  /** Resolves with the exit code once a signal has drained everything (0) or draining failed (1). */
  done: Promise<number>;
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

/**
 * Starts serving and resolves once the model is loaded everywhere (every worker, with several);
 * rejects when it cannot be loaded. `start` builds one server; it runs here or in each worker.
 */
export async function runServingProcess(
  workers: number,
  logger: Logger,
  start: (extra: WorkerServerOptions) => Promise<RunningServer>,
): Promise<ServingProcess> {
  if (isServingWorker()) return runWorker(logger, start);
  if (workers > 1) {
    const primary = startServingPrimary(workers, logger);
    try {
      return { url: await primary.whenReady, done: primary.done };
    } catch (err) {
      const code = await primary.done;
      if (err instanceof StoppedBeforeReady) return { url: '', done: Promise.resolve(code) };
      throw err;
    }
  }
  return runOne(logger, await start({}));
}

/** Drains `server` on the first signal; resolves once its model is loaded (rejects, closed, when it cannot be). */
async function runOne(logger: Logger, server: RunningServer): Promise<ServingProcess> {
  const done = drainOnSignal(server, logger).then(() => 0, () => 1);
  try {
    await server.whenReady;
  } catch (err) {
    await server.close();
    throw err;
  }
  return { url: server.url, done };
}

/**
 * A worker's whole life: serve, announce readiness, drain on the primary's SIGTERM, then end the process.
 * A worker that cannot start (the model does not load) reports why to the primary and prints nothing:
 * the primary prints it once. Its promise then never settles; the process ends when the primary says so.
 */
async function runWorker(logger: Logger, start: (extra: WorkerServerOptions) => Promise<RunningServer>): Promise<ServingProcess> {
  const hooks = servingWorkerHooks();
  let server: RunningServer;
  try {
    server = await start({ renderMetrics: hooks.renderMetrics, readinessGate: hooks.clusterReady });
  } catch (err) {
    return hooks.fail(err);
  }
  hooks.shareMetrics(server.registry);
  // The primary died without a signal reaching us: finish what is in flight and go.
  process.once('disconnect', () => process.emit('SIGTERM', 'SIGTERM'));
  const done = drainOnSignal(server, logger).then(
    () => 0,
    () => 1,
  );
  // Drained: end the process (the IPC channel to the primary, and whatever timers libraries keep, would hold it).
  void done.then(hooks.exit);
  // The primary's SIGTERM came while the server was starting (a sibling failed, or a signal): drain now.
  if (hooks.stopRequested()) process.emit('SIGTERM', 'SIGTERM');
  try {
    await server.whenReady;
  } catch (err) {
    // A SIGTERM from the primary drains the server (nothing in flight: readiness never turned green) and ends the process.
    return hooks.fail(err);
  }
  hooks.announceReady(server.url);
  return { url: server.url, done };
}
