import * as path from 'node:path';
import { newRunId } from '../common/paths';
import { silentLogger, type Logger } from '../common/logger';
import { resolveContext, type RunContext } from '../context';
import { runIngestion, type IngestionResult } from '../ingestion';
import { createIngestionProgress, type IngestionProgress } from '../ingestion/progress';
import { startSampleApi } from '../ingestion/sample-api';
import { loadPredictor } from '../serving/load';
import { startServer, type RunningServer } from '../serving/server';
import { invoke } from '../serving/invoke';
import type { StoreCloud } from '../storage/open';
import type { ModelVersion } from '../registry';
import { getText } from '../storage/object-store';
import { train, type TrainResult } from '../training';
import { registerPackage } from '../training/register';
import { percentile } from './stats';
import { sampleFeatureRows } from './sample-rows';
import { MlstackError } from '../common/errors';

export const PIPELINE_STAGES = ['ingest', 'train', 'evaluate', 'register', 'serve', 'invoke'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

export interface PipelineOptions {
  configDir: string;
  env: string;
  cloud: StoreCloud;
  /** REST API URL, file path or object URI; the built-in sample API when omitted. */
  source?: string;
  workdir: string;
  /** Overrides pipeline.json's project for every lookup (`--project`). */
  project?: string;
  /** Leave the endpoint running after the summary (the caller closes it). */
  keepServing?: boolean;
  port?: number;
  /** Rows the built-in sample API serves when no source is given (default: its own default). */
  sampleRows?: number;
  /** Number of single-row requests the invoke stage sends to measure latency. */
  invokeRequests?: number;
  logger?: Logger;
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  onStage?: (stage: PipelineStage, event: 'start' | 'end', detail?: string) => void;
}

export interface PipelineSummary {
  env: string;
  cloud: StoreCloud;
  project: string;
  run_id: string;
  source: string;
  model_version: string;
  rows: { fetched: number; processed: number; quarantined: number };
  metrics: Record<string, number>;
  endpoint: string;
  latency_ms: { p50: number; p99: number };
  backend: string;
  artifacts: {
    processed: string;
    quarantine: string;
    quality_report: string;
    /** The training run's package (`<models><project>/runs/<run>/`). */
    model_package: string;
    /** The registered version's model.tar.gz (`<models><project>/<version>/`). */
    model_archive: string;
    evaluation_report: string;
  };
  stage_seconds: Record<PipelineStage, number>;
  sample_prediction: unknown;
}

export interface PipelineRun {
  summary: PipelineSummary;
  /** Stops the endpoint; a no-op unless keepServing was set (the pipeline closes it otherwise). */
  close(): Promise<void>;
}

/** Times each stage and tells onStage when it starts and ends. */
class StageClock {
  readonly seconds = {} as Record<PipelineStage, number>;
  constructor(private readonly onStage?: PipelineOptions['onStage']) {}

  async run<T>(name: PipelineStage, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
    this.onStage?.(name, 'start');
    const started = process.hrtime.bigint();
    const result = await fn();
    this.seconds[name] = Number(process.hrtime.bigint() - started) / 1e9;
    this.onStage?.(name, 'end', detail?.(result));
    return result;
  }
}

/** What the pipeline opened and must close: the sample API and the endpoint. */
class Closers {
  api?: () => Promise<void>;
  server?: () => Promise<void>;

  async closeApi(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    await api?.();
  }

  readonly closeAll = async (): Promise<void> => {
    const closers = [this.server, this.api];
    this.server = this.api = undefined;
    for (const close of closers) await close?.();
  };
}

interface PipelineState {
  ctx: RunContext;
  opts: PipelineOptions;
  logger: Logger;
  clock: StageClock;
  runId: string;
}

async function sourceOf(opts: PipelineOptions, closers: Closers, logger: Logger): Promise<string> {
  if (opts.source) return opts.source;
  const api = await startSampleApi(opts.sampleRows === undefined ? {} : { rows: opts.sampleRows });
  closers.api = api.close;
  logger.info({ url: api.url }, 'started the built-in sample API');
  return api.url;
}

/** The ingest stage's bar: only where training may draw one (a terminal); no lines in a pipe. */
function ingestionProgress(mode: PipelineOptions['progress']): IngestionProgress {
  return createIngestionProgress(mode === 'auto' || mode === 'bar' ? mode : 'none');
}

async function ingestStage({ ctx, clock, runId, logger, opts }: PipelineState, source: string): Promise<IngestionResult> {
  const ingested = await clock.run(
    'ingest',
    () => runIngestion({ project: ctx.project, env: ctx.envName, cloud: ctx.cloud, store: ctx.store, source, runId, logger, progress: ingestionProgress(opts.progress) }),
    (r) => `${r.rows.fetched} fetched, ${r.rows.processed} processed, ${r.rows.quarantined} quarantined`,
  );
  if (ingested.rows.processed === 0) {
    throw new MlstackError('DATA_QUALITY', `ingestion of ${source} produced no valid rows: see ${ctx.store.uri(ingested.quarantineKey)}`);
  }
  return ingested;
}

function trainStage({ ctx, clock, runId, logger, opts }: PipelineState, ingested: IngestionResult): Promise<TrainResult> {
  return clock.run(
    'train',
    () =>
      train({
        project: ctx.project,
        store: ctx.store,
        dataKeys: [ingested.processedKey],
        runId,
        modelsPrefix: ctx.paths.models,
        checkpointsPrefix: ctx.paths.checkpoints,
        logger,
        progress: opts.progress ?? 'none',
        tracking: { store: ctx.store, source: 'pipeline', env: ctx.envName, cloud: ctx.cloud },
      }),
    (r) => `${r.epochs} epochs on ${r.backend}`,
  );
}

function evaluateStage({ ctx, clock }: PipelineState, trained: TrainResult): Promise<Record<string, number>> {
  return clock.run(
    'evaluate',
    async () => {
      // train() evaluates on the held-out test split; this stage checks the report exists.
      await getText(ctx.store, trained.reportKey);
      return trained.metrics;
    },
    (m) => Object.entries(m).filter(([k]) => ['auc', 'accuracy', 'rmse'].includes(k)).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', '),
  );
}

async function registerStage({ ctx, clock }: PipelineState, trained: TrainResult, ingested: IngestionResult): Promise<ModelVersion> {
  return clock.run(
    'register',
    async () => {
      // The same registration as every other path (lineage from the package, version folder and archive);
      // a SageMaker model package is left to `mlstack register --cloud aws`.
      const registration = await registerPackage(ctx, { source: trained.packagePrefix, dataUri: ctx.store.uri(ingested.processedKey), modelPackage: false });
      return registration.version;
    },
    (v) => v.version,
  );
}

function serveStage({ ctx, clock, opts, logger }: PipelineState, version: ModelVersion): Promise<RunningServer> {
  const serving = ctx.project.pipeline.serving;
  return clock.run(
    'serve',
    async () => {
      const predictor = await loadPredictor(version.version, { store: ctx.store, workdir: path.resolve(opts.workdir), project: ctx.project.pipeline.project });
      return startServer({ predictor, port: opts.port ?? 0, host: '127.0.0.1', logger, maxBatchSize: serving.max_batch_size, maxBodyBytes: serving.max_body_bytes });
    },
    (s) => s.url,
  );
}

async function invokeStage({ ctx, clock, opts }: PipelineState, ingested: IngestionResult, url: string): Promise<{ latencies: number[]; first: unknown }> {
  const rows = await sampleFeatureRows(ctx.store, ingested.processedKey, ctx.project.pipeline.features, opts.invokeRequests ?? 200);
  return clock.run(
    'invoke',
    async () => {
      const latencies: number[] = [];
      let first: unknown;
      for (const row of rows) {
        const result = await invoke({ cloud: 'local', env: ctx.envName, project: ctx.project, rows: [row], url });
        latencies.push(result.latencyMs);
        first ??= result.predictions[0];
      }
      return { latencies, first };
    },
    (r) => `${r.latencies.length} requests`,
  );
}

interface StageResults {
  source: string;
  ingested: IngestionResult;
  trained: TrainResult;
  metrics: Record<string, number>;
  version: ModelVersion;
  endpoint: string;
  invoked: { latencies: number[]; first: unknown };
}

function summarise({ ctx, clock, runId }: PipelineState, r: StageResults): PipelineSummary {
  const { store } = ctx;
  return {
    env: ctx.envName,
    cloud: ctx.cloud,
    project: ctx.project.pipeline.project,
    run_id: runId,
    source: r.source,
    model_version: r.version.version,
    rows: r.ingested.rows,
    metrics: r.metrics,
    endpoint: r.endpoint,
    latency_ms: { p50: percentile(r.invoked.latencies, 50), p99: percentile(r.invoked.latencies, 99) },
    backend: r.trained.backend,
    artifacts: {
      processed: store.uri(r.ingested.processedKey),
      quarantine: store.uri(r.ingested.quarantineKey),
      quality_report: store.uri(r.ingested.reportKey),
      model_package: store.uri(r.trained.packagePrefix),
      model_archive: r.version.artifact_uri as string,
      evaluation_report: store.uri(r.trained.reportKey),
    },
    stage_seconds: clock.seconds,
    sample_prediction: r.invoked.first,
  };
}

/** ingest -> train -> evaluate -> register -> serve -> invoke, each stage the same module the CLI and containers use. */
export async function runPipeline(opts: PipelineOptions): Promise<PipelineRun> {
  const logger = opts.logger ?? silentLogger;
  const ctx = await resolveContext({ configDir: opts.configDir, env: opts.env, cloud: opts.cloud, workdir: opts.workdir, project: opts.project });
  const state: PipelineState = { ctx, opts, logger, clock: new StageClock(opts.onStage), runId: newRunId() };
  const closers = new Closers();
  try {
    const source = await sourceOf(opts, closers, logger);
    const ingested = await ingestStage(state, source);
    const trained = await trainStage(state, ingested);
    const metrics = await evaluateStage(state, trained);
    const version = await registerStage(state, trained, ingested);
    const server = await serveStage(state, version);
    closers.server = server.close;
    const invoked = await invokeStage(state, ingested, server.url);
    const summary = summarise(state, { source, ingested, trained, metrics, version, endpoint: server.url, invoked });
    // Only the endpoint may stay up; the sample API is done once ingestion is.
    if (opts.keepServing) await closers.closeApi();
    else await closers.closeAll();
    return { summary, close: closers.closeAll };
  } catch (err) {
    await closers.closeAll().catch(() => undefined);
    throw err;
  }
}
