import * as path from 'node:path';
import { assertEnvironmentName, loadProjectConfig } from '../../config/load';
import type { ProjectConfig } from '../../config/schema';
import { newRunId } from '../common/paths';
import { storagePaths } from '../contract/layout';
import { silentLogger, type Logger } from '../common/logger';
import { runIngestion } from '../ingestion';
import { startSampleApi } from '../ingestion/sample-api';
import { loadPredictor } from '../serving/load';
import { startServer } from '../serving/server';
import { invoke } from '../serving/invoke';
import { storeForEnvironment, type StoreCloud } from '../storage/open';
import { getText } from '../storage/object-store';
import { train } from '../training';
import { registerPackage } from '../training/register';
import { percentile } from './stats';
import { sampleFeatureRows } from './sample-rows';

export const PIPELINE_STAGES = ['ingest', 'train', 'evaluate', 'register', 'serve', 'invoke'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

export interface PipelineOptions {
  configDir: string;
  env: string;
  cloud: StoreCloud;
  /** REST API URL, file path or object URI; the built-in sample API when omitted. */
  source?: string;
  workdir: string;
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
    /** The training run's package (`<models><run>/`). */
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

/** ingest -> train -> evaluate -> register -> serve -> invoke, each stage the same module the CLI and containers use. */
export async function runPipeline(opts: PipelineOptions): Promise<PipelineRun> {
  const logger = opts.logger ?? silentLogger;
  const envName = assertEnvironmentName(opts.env);
  const project: ProjectConfig = loadProjectConfig(opts.configDir);
  const env = project.environments[envName];
  const workdir = path.resolve(opts.workdir);
  const store = await storeForEnvironment(env, opts.cloud, workdir);
  const paths = storagePaths(env, opts.cloud);
  const runId = newRunId();
  const seconds = {} as Record<PipelineStage, number>;
  let closeApi: (() => Promise<void>) | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  const closeAll = async () => {
    const closers = [closeServer, closeApi];
    closeServer = closeApi = undefined;
    for (const close of closers) await close?.();
  };

  const stage = async <T>(name: PipelineStage, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> => {
    opts.onStage?.(name, 'start');
    const started = process.hrtime.bigint();
    const result = await fn();
    seconds[name] = Number(process.hrtime.bigint() - started) / 1e9;
    opts.onStage?.(name, 'end', detail?.(result));
    return result;
  };

  try {
    let source = opts.source;
    if (!source) {
      const api = await startSampleApi(opts.sampleRows === undefined ? {} : { rows: opts.sampleRows });
      closeApi = api.close;
      source = api.url;
      logger.info({ url: source }, 'started the built-in sample API');
    }
    const ingested = await stage(
      'ingest',
      () => runIngestion({ project, env: envName, cloud: opts.cloud, store, source: source!, runId, logger }),
      (r) => `${r.rows.fetched} fetched, ${r.rows.processed} processed, ${r.rows.quarantined} quarantined`,
    );
    if (ingested.rows.processed === 0) {
      throw new Error(`ingestion of ${source} produced no valid rows: see ${store.uri(ingested.quarantineKey)}`);
    }
    const trained = await stage(
      'train',
      () =>
        train({
          project,
          store,
          dataKeys: [ingested.processedKey],
          runId,
          modelsPrefix: paths.models,
          checkpointsPrefix: paths.checkpoints,
          logger,
          progress: opts.progress ?? 'none',
        }),
      (r) => `${r.epochs} epochs on ${r.backend}`,
    );
    const metrics = await stage(
      'evaluate',
      async () => {
        // train() evaluates on the held-out test split; this stage checks the report exists and applies the gates.
        await getText(store, trained.reportKey);
        return trained.metrics;
      },
      (m) => Object.entries(m).filter(([k]) => ['auc', 'accuracy', 'rmse'].includes(k)).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', '),
    );
    const version = await stage(
      'register',
      async () => {
        // The same registration as every other path (lineage from the package, version folder and archive);
        // a SageMaker model package is left to `mlstack register --cloud aws`.
        const registration = await registerPackage(
          { project, envName, cloud: opts.cloud, store, paths },
          { source: trained.packagePrefix, dataUri: store.uri(ingested.processedKey), modelPackage: false },
        );
        return registration.version;
      },
      (v) => v.version,
    );
    const server = await stage(
      'serve',
      async () => {
        const predictor = await loadPredictor(version.version, { store, workdir });
        return startServer({
          predictor,
          port: opts.port ?? 0,
          host: '127.0.0.1',
          logger,
          maxBatchSize: project.pipeline.serving.max_batch_size,
          maxBodyBytes: project.pipeline.serving.max_body_bytes,
        });
      },
      (s) => s.url,
    );
    closeServer = server.close;

    const rows = await sampleFeatureRows(store, ingested.processedKey, project.pipeline.features, opts.invokeRequests ?? 200);
    const invoked = await stage(
      'invoke',
      async () => {
        const latencies: number[] = [];
        let first: unknown;
        for (const row of rows) {
          const result = await invoke({ cloud: 'local', env: envName, project, rows: [row], url: server.url });
          latencies.push(result.latencyMs);
          first ??= result.predictions[0];
        }
        return { latencies, first };
      },
      (r) => `${r.latencies.length} requests`,
    );

    const summary: PipelineSummary = {
      env: envName,
      cloud: opts.cloud,
      run_id: runId,
      source: source!,
      model_version: version.version,
      rows: ingested.rows,
      metrics,
      endpoint: server.url,
      latency_ms: { p50: percentile(invoked.latencies, 50), p99: percentile(invoked.latencies, 99) },
      backend: trained.backend,
      artifacts: {
        processed: store.uri(ingested.processedKey),
        quarantine: store.uri(ingested.quarantineKey),
        quality_report: store.uri(ingested.reportKey),
        model_package: store.uri(trained.packagePrefix),
        model_archive: version.artifact_uri as string,
        evaluation_report: store.uri(trained.reportKey),
      },
      stage_seconds: seconds,
      sample_prediction: invoked.first,
    };
    if (opts.keepServing) {
      // Only the endpoint stays up; the sample API is done once ingestion is.
      const api = closeApi;
      closeApi = undefined;
      await api?.();
    } else {
      await closeAll();
    }
    return { summary, close: closeAll };
  } catch (err) {
    await closeAll().catch(() => undefined);
    throw err;
  }
}
