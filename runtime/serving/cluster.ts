/**
 * Several serving processes behind one port (node:cluster): the primary accepts connections and
 * hands them to the workers, each of which runs the whole server with its own copy of the model.
 * One Node process uses one core; a serving instance has several, so one worker per core is
 * the default (MLSTACK_WORKERS or --workers overrides it).
 *
 * The primary forwards SIGTERM/SIGINT so every worker drains, restarts a worker that dies after it
 * became ready, gives up when one cannot load the model, and answers /metrics requests from workers
 * with the sum over all workers (prom-client's AggregatorRegistry), so a scrape that lands on any
 * worker sees the whole server.
 */
import cluster, { type Worker } from 'node:cluster';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../common/logger';
import { ENV } from '../contract/env';

/** Worker count from a flag or MLSTACK_WORKERS: a positive integer or `auto` (one per usable core). */
export function parseWorkers(value: string | undefined, where: string = ENV.workers): number {
  if (value === undefined || value === '' || value === 'auto') return usableCores();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${where}="${value}" must be a positive integer or "auto"`);
  return n;
}

/**
 * Cores this process may use: the CPU affinity, capped by a cgroup v2 CPU quota (Cloud Run, Container
 * Apps, Kubernetes limits), so a 1-vCPU container on a 64-core host runs one worker, not 64.
 */
export function usableCores(cpuMaxFile = '/sys/fs/cgroup/cpu.max'): number {
  const cores = os.availableParallelism();
  try {
    const [quota, period] = fs.readFileSync(cpuMaxFile, 'utf8').trim().split(/\s+/);
    if (quota !== 'max' && Number(quota) > 0 && Number(period) > 0) {
      return Math.max(1, Math.min(cores, Math.ceil(Number(quota) / Number(period))));
    }
  } catch {
    // No cgroup v2 quota file: not in a limited container.
  }
  return cores;
}

export const isServingWorker = (): boolean => cluster.isWorker;

/** whenReady's rejection when a signal stopped the server while the workers were still loading. */
export class StoppedBeforeReady extends Error {
  constructor() {
    super('stopped before every worker was ready');
  }
}

type WorkerMessage =
  | { type: 'mlstack:ready'; url: string }
  | { type: 'mlstack:metrics-request'; id: number };
type PrimaryMessage = { type: 'mlstack:metrics'; id: number; text?: string; error?: string } | { type: 'mlstack:all-ready' };

/** A worker that exits this often within a minute after being ready is not restarted again. */
const MAX_RESTARTS_PER_MINUTE = 5;
const METRICS_TIMEOUT_MS = 5_000;

export interface ServingPrimary {
  /** Resolves with the server URL once every worker has loaded its model; rejects when one cannot. */
  whenReady: Promise<string>;
  /** Resolves with the exit code once every worker has exited (after a signal or a fatal failure). */
  done: Promise<number>;
  /** Drains every worker (what SIGTERM does). */
  stop(): void;
}

/**
 * Forks `workers` copies of this process (they rerun the same command; the worker side calls
 * runServingWorker) and supervises them. Signals SIGTERM and SIGINT drain them all.
 */
export function startServingPrimary(workers: number, logger: Logger): ServingPrimary {
  // Under tsx (bin/run-ts.js, tests) the entry is a .ts file: the workers need the same loader.
  if (process.argv[1]?.endsWith('.ts')) {
    cluster.setupPrimary({ execArgv: [...process.execArgv, '--require', require.resolve('tsx/cjs')] });
  }
  const aggregator = new AggregatorRegistry();
  const everReady = new Set<number>();
  const restarts: number[] = [];
  let stopping = false;
  let failed = false;
  let url = '';
  let markReady!: (url: string) => void;
  let markFailed!: (err: Error) => void;
  const whenReady = new Promise<string>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  whenReady.catch(() => undefined);
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  // Our own list: cluster.workers may still hold a worker when its 'exit' event fires.
  const running = new Set<Worker>();
  const live = (): Worker[] => [...running];

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    markFailed(new StoppedBeforeReady());
    logger.info({ workers: live().length }, 'draining every worker');
    for (const worker of live()) worker.process.kill('SIGTERM');
    if (live().length === 0) finish(failed ? 1 : 0);
  };

  const fork = (): void => {
    const worker = cluster.fork();
    running.add(worker);
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === 'mlstack:ready') {
        everReady.add(worker.id);
        url = message.url;
        if (live().every((w) => everReady.has(w.id))) {
          logger.info({ workers: live().length, url }, 'all workers ready');
          // Readiness turns green in every worker at once: a probe must never pass while a sibling still loads.
          for (const w of live()) if (w.isConnected()) w.send({ type: 'mlstack:all-ready' } satisfies PrimaryMessage);
          markReady(url);
        }
      } else if (message?.type === 'mlstack:metrics-request') {
        const reply = (m: PrimaryMessage): void => {
          if (worker.isConnected()) worker.send(m);
        };
        aggregator.clusterMetrics().then(
          (text) => reply({ type: 'mlstack:metrics', id: message.id, text }),
          (err: Error) => reply({ type: 'mlstack:metrics', id: message.id, error: err.message }),
        );
      }
    });
  };

  const onExit = (worker: Worker, code: number, signal: string | null): void => {
    if (!running.delete(worker)) return;
    const remaining = running.size;
    if (stopping) {
      if (code !== 0) failed = true;
      if (remaining === 0) finish(failed ? 1 : 0);
      return;
    }
    if (!everReady.has(worker.id)) {
      logger.error({ worker: worker.id, code, signal }, 'a worker exited before its model was ready: stopping the server');
      failed = true;
      markFailed(new Error(`serving worker ${worker.id} exited (${signal ?? code}) before the model was loaded; see its log above`));
      stop();
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0] < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      logger.error({ restarts: restarts.length }, 'workers keep dying: stopping the server');
      failed = true;
      stop();
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker died: starting a new one');
    fork();
  };
  cluster.on('exit', onExit);

  for (let i = 0; i < workers; i++) fork();
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'signal received');
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  void done.then(() => {
    cluster.off('exit', onExit);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  });
  return { whenReady, done, stop };
}

/**
 * Worker side: `renderMetrics` for startServer (asks the primary for the cluster-wide sum),
 * `announceReady` to call once the model is loaded, and signal handling that never lets a second
 * signal (the terminal's SIGINT plus the primary's SIGTERM) kill a worker mid-drain.
 */
export function servingWorkerHooks(): {
  renderMetrics: (local: Registry) => Promise<string>;
  /** What this worker reports when the primary collects every worker's metrics; call as soon as the server exists. */
  shareMetrics: (local: Registry) => void;
  announceReady: (url: string) => void;
  /** True once the primary has seen every worker's model loaded (what this worker's readiness waits for). */
  clusterReady: () => boolean;
} {
  new AggregatorRegistry(); // installs the worker's reply to the primary's metrics requests
  let nextId = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let allReady = false;
  process.on('message', (message: PrimaryMessage) => {
    if (message?.type === 'mlstack:all-ready') allReady = true;
    if (message?.type !== 'mlstack:metrics') return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(message.error));
    else waiter.resolve(message.text ?? '');
  });
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  return {
    shareMetrics(local) {
      AggregatorRegistry.setRegistries([local]);
    },
    renderMetrics(local) {
      // The primary is gone (the worker is draining on its own): this worker's figures are all there is.
      if (!process.connected || !process.send) return local.metrics();
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the serving primary did not answer the metrics request within 5 s'));
        }, METRICS_TIMEOUT_MS);
        pending.set(id, {
          resolve: (text) => (clearTimeout(timer), resolve(text)),
          reject: (err) => (clearTimeout(timer), reject(err)),
        });
        process.send?.({ type: 'mlstack:metrics-request', id } satisfies WorkerMessage);
      });
    },
    announceReady(url) {
      process.send?.({ type: 'mlstack:ready', url } satisfies WorkerMessage);
    },
    // A worker that outlived its primary answers on its own.
    clusterReady: () => allReady || !process.connected,
  };
}
