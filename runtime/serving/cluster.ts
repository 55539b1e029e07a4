/**
 * Several serving processes behind one port (node:cluster): the primary accepts connections and
 * hands them to the workers, each of which runs the whole server with its own copy of the model.
 * One Node process uses one core; a serving instance has several, so one worker per core is
 * the default (MLSTACK_WORKERS or --workers overrides it).
 *
 * The primary forwards SIGTERM/SIGINT so every worker drains, restarts a worker that dies after it
 * became ready, gives up when one cannot load the model (the worker reports why, the primary rejects
 * whenReady with that error, so the caller prints it once, with the exit code a single process would
 * have), and answers /metrics requests from workers
 * with the sum over all workers (prom-client's AggregatorRegistry), so a scrape that lands on any
 * worker sees the whole server. A worker's process ends once it has drained (its IPC channel to the
 * primary would keep it alive for good), so the primary's `done` follows the last drain at once.
 */
import cluster, { type Worker } from 'node:cluster';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../common/logger';
import { ENV } from '../contract/env';
import { ERROR_CODES, exitCodeFor, MlstackError, UsageError, type ErrorCode } from '../common/errors';
import { DEFAULT_DRAIN_TIMEOUT_MS } from './server';

/** Worker count from a flag or MLSTACK_WORKERS: a positive integer or `auto` (one per usable core). */
export function parseWorkers(value: string | undefined, where: string = ENV.workers): number {
  if (value === undefined || value === '' || value === 'auto') return usableCores();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${where}="${value}" must be a positive integer or "auto"`);
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
export class StoppedBeforeReady extends MlstackError {
  constructor() {
    super('ABORTED', 'stopped before every worker was ready');
    this.name = 'StoppedBeforeReady';
  }
}

type WorkerMessage =
  | { type: 'mlstack:ready'; url: string }
  | { type: 'mlstack:failed'; message: string; code?: string; exitCode: number }
  | { type: 'mlstack:metrics-request'; id: number };
type MetricsAnswer = { type: 'mlstack:metrics'; id: number; text?: string; error?: string };
type PrimaryMessage = MetricsAnswer | { type: 'mlstack:all-ready' };

/** A worker that exits this often within a minute after being ready is not restarted again. */
const MAX_RESTARTS_PER_MINUTE = 5;
const METRICS_TIMEOUT_MS = 5_000;
/** A worker still running this long after the drain timeout is killed: the primary's exit must not wait on it. */
const EXIT_GRACE_MS = 2_000;

/** The error a worker reported, rebuilt in the primary with its catalogue code (so its exit code is the same). */
function workerError(message: string, code: string | undefined, exitCode: number): Error {
  if (code !== undefined && code in ERROR_CODES) return new MlstackError(code as ErrorCode, message, { exitCode });
  return new Error(message);
}

export interface ServingPrimary {
  /** Resolves with the server URL once every worker has loaded its model; rejects when one cannot. */
  whenReady: Promise<string>;
  /** Resolves with the exit code once every worker has exited (after a signal or a fatal failure). */
  done: Promise<number>;
  /** Drains every worker (what SIGTERM does). */
  stop(): void;
}

/**
 * The restart policy: `exits` holds the times earlier ready workers died; returns the times within the
 * last minute including `now`, and whether one more restart stays within MAX_RESTARTS_PER_MINUTE.
 */
export function restartPolicy(exits: readonly number[], now: number): { recent: number[]; restart: boolean } {
  const recent = [...exits.filter((t) => t >= now - 60_000), now];
  return { recent, restart: recent.length <= MAX_RESTARTS_PER_MINUTE };
}

/** The primary's bookkeeping over its workers: forks them, answers their messages, replaces the dead, drains them all. */
class WorkerSupervisor {
  private readonly aggregator = new AggregatorRegistry();
  private readonly everReady = new Set<number>();
  // Our own list: cluster.workers may still hold a worker when its 'exit' event fires.
  private readonly running = new Set<Worker>();
  private exits: number[] = [];
  private stopping = false;
  private failed = false;
  readonly whenReady: Promise<string>;
  readonly done: Promise<number>;
  private markReady!: (url: string) => void;
  private markFailed!: (err: Error) => void;
  private finish!: (code: number) => void;

  constructor(private readonly logger: Logger) {
    this.whenReady = new Promise<string>((resolve, reject) => {
      this.markReady = resolve;
      this.markFailed = reject;
    });
    this.whenReady.catch(() => undefined);
    this.done = new Promise<number>((resolve) => (this.finish = resolve));
  }

  private live(): Worker[] {
    return [...this.running];
  }

  fork(): void {
    const worker = cluster.fork();
    this.running.add(worker);
    worker.on('message', (message: WorkerMessage) => this.onMessage(worker, message));
  }

  private onMessage(worker: Worker, message: WorkerMessage): void {
    if (message?.type === 'mlstack:ready') this.onWorkerReady(worker, message.url);
    else if (message?.type === 'mlstack:failed') this.onWorkerFailed(worker, message.message, message.code, message.exitCode);
    else if (message?.type === 'mlstack:metrics-request') this.answerMetricsRequest(worker, message.id);
  }

  private onWorkerReady(worker: Worker, url: string): void {
    // Stopping (a sibling failed, or a signal): readiness must not turn green on a partial start.
    if (this.stopping) return;
    this.everReady.add(worker.id);
    const live = this.live();
    if (!live.every((w) => this.everReady.has(w.id))) return;
    this.logger.info({ workers: live.length, url }, 'all workers ready');
    // Readiness turns green in every worker at once: a probe must never pass while a sibling still loads.
    for (const w of live) if (w.isConnected()) w.send({ type: 'mlstack:all-ready' } satisfies PrimaryMessage);
    this.markReady(url);
  }

  /** A worker could not start serving (the model did not load): stop them all; whenReady rejects with its error. */
  private onWorkerFailed(worker: Worker, message: string, code: string | undefined, exitCode: number): void {
    if (this.stopping) return;
    // Info: the caller prints the error itself, once.
    this.logger.info({ worker: worker.id, err: message }, 'a worker could not load the model: stopping the server');
    this.fail(workerError(message, code, exitCode));
  }

  private answerMetricsRequest(worker: Worker, id: number): void {
    const reply = (m: PrimaryMessage): void => {
      if (worker.isConnected()) worker.send(m);
    };
    this.aggregator.clusterMetrics().then(
      (text) => reply({ type: 'mlstack:metrics', id, text }),
      (err: Error) => reply({ type: 'mlstack:metrics', id, error: err.message }),
    );
  }

  /** cluster's 'exit': finish a drain, give up on a worker that never loaded, else restart within the policy. */
  readonly onExit = (worker: Worker, code: number, signal: string | null): void => {
    if (!this.running.delete(worker)) return;
    if (this.stopping) {
      if (code !== 0) this.failed = true;
      if (this.running.size === 0) this.finish(this.failed ? 1 : 0);
      return;
    }
    if (!this.everReady.has(worker.id)) {
      this.logger.error({ worker: worker.id, code, signal }, 'a worker exited before its model was ready: stopping the server');
      return this.fail(new Error(`serving worker ${worker.id} exited (${signal ?? code}) before the model was loaded; see its log above`));
    }
    const { recent, restart } = restartPolicy(this.exits, Date.now());
    this.exits = recent;
    if (!restart) {
      this.logger.error({ restarts: recent.length }, 'workers keep dying: stopping the server');
      return this.fail();
    }
    this.logger.error({ worker: worker.id, code, signal }, 'worker died: starting a new one');
    this.fork();
  };

  private fail(err?: Error): void {
    this.failed = true;
    if (err) this.markFailed(err);
    this.stop();
  }

  /** Drains every worker; done resolves once the last has exited. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.markFailed(new StoppedBeforeReady());
    const live = this.live();
    this.logger.info({ workers: live.length }, 'draining every worker');
    for (const worker of live) worker.process.kill('SIGTERM');
    if (this.running.size === 0) return this.finish(this.failed ? 1 : 0);
    // Each worker cuts its connections at the drain timeout and exits; one that does not is killed.
    const backstop = setTimeout(() => {
      for (const worker of this.live()) {
        this.logger.error({ worker: worker.id }, 'a worker did not exit after the drain timeout: killing it');
        worker.process.kill('SIGKILL');
      }
    }, DEFAULT_DRAIN_TIMEOUT_MS + EXIT_GRACE_MS);
    backstop.unref();
    void this.done.then(() => clearTimeout(backstop));
  }
}

/** Under tsx (bin/run-ts.js, tests) the entry is a .ts file: the workers need the same loader. */
function shareTsLoader(): void {
  if (process.argv[1]?.endsWith('.ts')) {
    cluster.setupPrimary({ execArgv: [...process.execArgv, '--require', require.resolve('tsx/cjs')] });
  }
}

/**
 * Forks `workers` copies of this process (they rerun the same command; the worker side calls
 * runServingWorker) and supervises them. Signals SIGTERM and SIGINT drain them all.
 */
export function startServingPrimary(workers: number, logger: Logger): ServingPrimary {
  shareTsLoader();
  const supervisor = new WorkerSupervisor(logger);
  cluster.on('exit', supervisor.onExit);
  for (let i = 0; i < workers; i++) supervisor.fork();
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'signal received');
    supervisor.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  void supervisor.done.then(() => {
    cluster.off('exit', supervisor.onExit);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  });
  return { whenReady: supervisor.whenReady, done: supervisor.done, stop: () => supervisor.stop() };
}

export interface ServingWorkerHooks {
  renderMetrics: (local: Registry) => Promise<string>;
  /** What this worker reports when the primary collects every worker's metrics; call as soon as the server exists. */
  shareMetrics: (local: Registry) => void;
  announceReady: (url: string) => void;
  /** True once the primary has seen every worker's model loaded (what this worker's readiness waits for). */
  clusterReady: () => boolean;
  /**
   * This worker cannot serve (`err`: its model did not load): tells the primary, which prints the error once
   * and stops every worker, then ends this process with the error's exit code when the primary says so (or
   * is gone). Never settles.
   */
  fail: (err: unknown) => Promise<never>;
  /** Ends this worker's process with `code` (the failure's exit code after fail()) once its output is flushed. */
  exit: (code: number) => void;
  /** True once SIGTERM or SIGINT reached this worker (possibly before its server existed to drain). */
  stopRequested: () => boolean;
}

/** Requests the cluster-wide metrics from the primary; its answers come back through `settle`. */
function primaryMetricsRequests(): { request: (local: Registry) => Promise<string>; settle: (message: MetricsAnswer) => void } {
  let nextId = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  return {
    settle(message) {
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.text ?? '');
    },
    request(local) {
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
  };
}

/** Ends the worker once stdout and stderr are flushed; the first call wins, a recorded failure's code over `code`. */
function flushedExit(failureCode: () => number | undefined): (code: number) => void {
  let exiting = false;
  return (code) => {
    if (exiting) return;
    exiting = true;
    const flushed = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => (stream.writable ? stream.write('', () => resolve()) : resolve()));
    void Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => process.exit(failureCode() ?? code));
  };
}

/**
 * Worker side: `renderMetrics` for startServer (asks the primary for the cluster-wide sum),
 * `announceReady` to call once the model is loaded, and signal handling that never lets a second
 * signal (the terminal's SIGINT plus the primary's SIGTERM) kill a worker mid-drain.
 */
export function servingWorkerHooks(): ServingWorkerHooks {
  new AggregatorRegistry(); // installs the worker's reply to the primary's metrics requests
  const metrics = primaryMetricsRequests();
  let allReady = false;
  process.on('message', (message: PrimaryMessage) => {
    if (message?.type === 'mlstack:all-ready') allReady = true;
    if (message?.type === 'mlstack:metrics') metrics.settle(message);
  });
  // Never let a signal kill a worker; remember it, so one that arrives before the server exists still stops it.
  let stopRequested = false;
  const remember = (): void => {
    stopRequested = true;
  };
  process.on('SIGINT', remember);
  process.on('SIGTERM', remember);
  let failureCode: number | undefined;
  const exit = flushedExit(() => failureCode);
  return {
    exit,
    stopRequested: () => stopRequested,
    fail(err) {
      failureCode = exitCodeFor(err);
      const code = (err as { code?: unknown })?.code;
      const report: WorkerMessage = {
        type: 'mlstack:failed',
        message: err instanceof Error ? err.message : String(err),
        code: typeof code === 'string' ? code : undefined,
        exitCode: failureCode,
      };
      const end = (): void => exit(failureCode as number);
      // The primary answers with SIGTERM (it stops every worker); a primary that is gone cannot.
      process.once('SIGTERM', end);
      process.once('disconnect', end);
      if (stopRequested || !process.connected || !process.send) end();
      else process.send(report, (sendErr: Error | null) => sendErr && end());
      return new Promise<never>(() => undefined);
    },
    shareMetrics(local) {
      AggregatorRegistry.setRegistries([local]);
    },
    renderMetrics: metrics.request,
    announceReady(url) {
      process.send?.({ type: 'mlstack:ready', url } satisfies WorkerMessage);
    },
    // A worker that outlived its primary answers on its own.
    clusterReady: () => allReady || !process.connected,
  };
}
