import { createHash, type Hash } from 'node:crypto';
import * as readline from 'node:readline';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';
import { silentLogger, type Logger } from '../common/logger';
import { newRunId } from '../common/paths';
import { storagePaths, SUCCESS_MARKER } from '../contract/layout';
import { getJson, joinKey, putJson, type ObjectStore } from '../storage/object-store';
import type { StoreCloud } from '../storage/open';
import { csvLine } from './csv';
import { IngestionConfigError, planFields, type FieldPlan } from './fields';
import { ColumnStats, type ColumnReport } from './quality';
import { ObjectWriter } from './sink';
import { openSource } from './sources';
import { IngestionState, sourceId, type RawPart, type RunCheckpoint } from './state';
import { compareWatermarks, watermarkOf, type IngestionSource, type SourceRecord, type Watermark } from './types';
import { RowValidator } from './validate';

export { IngestionConfigError } from './fields';
export { startSampleApi } from './sample-api';

export interface IngestionOptions {
  project: ProjectConfig;
  env: EnvironmentName;
  cloud: StoreCloud;
  store: ObjectStore;
  /** http(s) URL of a paginated JSON API; a file path or object URI (file://, s3://, gs://, az://) of .csv/.jsonl; postgres:// or mysql:// URL. */
  source: string;
  /** Same run id = same outputs: a finished run is returned as is, an interrupted one resumes. */
  runId?: string;
  logger?: Logger;
  /** Variables the source reads (an API token named by ingestion.auth.token_env); default process.env. */
  variables?: NodeJS.ProcessEnv;
}

export interface IngestionResult {
  runId: string;
  rawKeys: string[];
  processedKey: string;
  quarantineKey: string;
  reportKey: string;
  rows: { fetched: number; processed: number; quarantined: number };
  watermark?: string | number | null;
}

/** The run's data broke a rule that applies to the whole run (max_null_share); outputs are kept for inspection. */
export class DataQualityError extends Error {
  constructor(
    message: string,
    readonly reportKey: string,
  ) {
    super(message);
    this.name = 'DataQualityError';
  }
}

/** Where one run's outputs go: `<raw>/<runId>/part-NNNNN.jsonl` and `<processed>/<runId>/{data.csv,quarantine.jsonl,quality_report.json}`. */
export function runKeys(project: ProjectConfig, env: EnvironmentName, cloud: StoreCloud, runId: string) {
  const paths = storagePaths(project.environments[env], cloud);
  const rawDir = joinKey(paths.raw, runId);
  const processedDir = joinKey(paths.processed, runId);
  return {
    state: paths.state,
    rawDir,
    rawPart: (index: number) => joinKey(rawDir, `part-${String(index).padStart(5, '0')}.jsonl`),
    rawMetadata: joinKey(rawDir, '_metadata.json'),
    processed: joinKey(processedDir, 'data.csv'),
    quarantine: joinKey(processedDir, 'quarantine.jsonl'),
    report: joinKey(processedDir, 'quality_report.json'),
    success: joinKey(processedDir, SUCCESS_MARKER),
  };
}

/**
 * Fetches a source into raw JSONL parts, maps and validates every record into processed CSV or the
 * quarantine, and writes a data quality report. fetched = processed + quarantined, always.
 * Crash-safe: each raw part is a checkpoint; rerunning the same run id replays the committed parts
 * and fetches the rest from the checkpoint's watermark (or position), so nothing is lost or duplicated.
 */
export async function runIngestion(opts: IngestionOptions): Promise<IngestionResult> {
  const logger = opts.logger ?? silentLogger;
  const { parser } = opts.project;
  const config = parser.ingestion;
  // Config checks first: nothing is fetched or written when parser.json is inconsistent.
  let plan = planFields(parser, config.source_fields);
  const source = await openSource({ source: opts.source, config, watermarkColumn: plan.watermarkSource, logger, env: opts.variables });
  try {
    if ('prepare' in source && typeof source.prepare === 'function') {
      await (source.prepare as () => Promise<void>)();
      plan = planFields(parser, source.fieldNames?.());
    }
    return await new IngestionRun(opts, source, plan, logger).run();
  } finally {
    await source.close?.();
  }
}

class IngestionRun {
  private readonly state: IngestionState;
  private readonly validator: RowValidator;
  private readonly stats: ColumnStats[];
  private readonly checksum = createHash('sha256');
  private fetched = 0;
  private processed = 0;
  private quarantined = 0;
  private fieldsChecked: boolean;
  private runId = '';
  private abortRaw: (err: Error) => Promise<void> = async () => undefined;
  private keys!: ReturnType<typeof runKeys>;

  constructor(
    private readonly opts: IngestionOptions,
    private readonly source: IngestionSource,
    private plan: FieldPlan,
    private readonly logger: Logger,
  ) {
    const paths = storagePaths(opts.project.environments[opts.env], opts.cloud);
    this.state = new IngestionState(opts.store, paths.state, sourceId(source.description));
    this.validator = new RowValidator(plan, opts.project.parser);
    this.stats = plan.columns.map(() => new ColumnStats());
    this.fieldsChecked = source.fieldNames?.() !== undefined;
  }

  async run(): Promise<IngestionResult> {
    const { store } = this.opts;
    const previous = await this.state.readWatermark();
    this.runId = this.opts.runId ?? previous?.in_progress_run_id ?? newRunId();
    this.keys = runKeys(this.opts.project, this.opts.env, this.opts.cloud, this.runId);
    const log = this.logger.child({ runId: this.runId, source: this.source.description });

    if (await store.exists(this.keys.success)) {
      log.info('run already complete: returning its result');
      return getJson<IngestionResult>(store, this.keys.success);
    }
    const startedAt = new Date().toISOString();
    let checkpoint: RunCheckpoint = (await this.state.readCheckpoint(this.runId)) ?? {
      run_id: this.runId,
      source: this.source.description,
      started_at: startedAt,
      since: previous?.watermark ?? null,
      watermark: previous?.watermark ?? null,
      position: {},
      pages: 0,
      skipped_by_watermark: 0,
      parts: [],
    };
    if (checkpoint.parts.length > 0) log.info({ parts: checkpoint.parts.length }, 'resuming an interrupted run');
    await this.state.writeWatermark({
      source: this.source.description,
      watermark_field: this.opts.project.parser.watermark_field ?? null,
      watermark: previous?.watermark ?? null,
      run_id: previous?.run_id ?? null,
      in_progress_run_id: this.runId,
      updated_at: startedAt,
    });

    const processedOut = new ObjectWriter(store, this.keys.processed, 'text/csv');
    const quarantineOut = new ObjectWriter(store, this.keys.quarantine, 'application/x-ndjson');
    try {
      await processedOut.write(csvLine(this.plan.columns));
      for (const part of checkpoint.parts) await this.replayPart(part, processedOut, quarantineOut);
      checkpoint = await this.fetchRemaining(checkpoint, processedOut, quarantineOut, log);
      await processedOut.end();
      await quarantineOut.end();
    } catch (err) {
      await this.abortRaw(err as Error);
      await processedOut.abort(err as Error);
      await quarantineOut.abort(err as Error);
      throw err;
    }
    return this.finish(checkpoint, previous?.watermark ?? null, log);
  }

  /** Reads a committed raw part back through validation (resume path). */
  private async replayPart(part: RawPart, processedOut: ObjectWriter, quarantineOut: ObjectWriter): Promise<void> {
    const lines = readline.createInterface({ input: await this.opts.store.stream(part.key), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      this.processRecord(JSON.parse(line) as SourceRecord, processedOut, quarantineOut);
      if (this.fetched % 1000 === 0) await Promise.all([processedOut.flush(), quarantineOut.flush()]);
    }
  }

  private async fetchRemaining(checkpoint: RunCheckpoint, processedOut: ObjectWriter, quarantineOut: ObjectWriter, log: Logger): Promise<RunCheckpoint> {
    const { config } = { config: this.opts.project.parser.ingestion };
    const wmField = this.plan.watermarkSource;
    // With a watermark field the read restarts after the committed watermark; without one, at the committed position.
    const start =
      wmField !== undefined
        ? { since: checkpoint.watermark, position: {} }
        : { since: null, position: checkpoint.position };
    let current = { ...checkpoint, parts: [...checkpoint.parts] };
    let watermark: Watermark = checkpoint.watermark;
    // The raw part being written: streamed to the store, visible only once committed (atomic put).
    let raw: { writer: ObjectWriter; hash: Hash; rows: number } | undefined;
    let partPages = 0;
    let pending = { pages: 0, skipped: 0 };
    const commit = async (position: RunCheckpoint['position']) => {
      if (!raw) return;
      await raw.writer.end();
      const part: RawPart = { key: raw.writer.key, rows: raw.rows, pages: partPages, bytes: raw.writer.bytes, sha256: raw.hash.digest('hex') };
      current = {
        ...current,
        watermark,
        position,
        pages: current.pages + pending.pages,
        skipped_by_watermark: current.skipped_by_watermark + pending.skipped,
        parts: [...current.parts, part],
      };
      await this.state.writeCheckpoint(current);
      log.debug({ part: part.key, rows: part.rows }, 'raw part committed');
      raw = undefined;
      partPages = 0;
      pending = { pages: 0, skipped: 0 };
    };
    this.abortRaw = async (err: Error) => {
      await raw?.writer.abort(err);
    };

    let lastPosition = checkpoint.position;
    for await (const page of this.source.pages(start)) {
      if (!this.fieldsChecked) {
        // Sources without declared fields (an API without source_fields) are checked on their first page, before any write.
        const names = this.source.fieldNames?.();
        if (names !== undefined && names.length > 0) {
          this.plan = planFields(this.opts.project.parser, names);
          this.fieldsChecked = true;
        }
      }
      pending.pages += 1;
      partPages += 1;
      // The page's raw lines are joined into one string: one append and one hash update per page, not per row.
      let rawText = '';
      let rawRows = 0;
      const { records, rawTexts } = page;
      for (let r = 0; r < records.length; r += 1) {
        const record = records[r];
        if (wmField !== undefined) {
          const value = record !== null && typeof record === 'object' ? watermarkOf((record as Record<string, unknown>)[wmField]) : null;
          if (value === null && start.since !== null && !this.source.filtersByWatermark) {
            pending.skipped += 1;
            continue;
          }
          if (value !== null) {
            if (start.since !== null && compareWatermarks(value, start.since) <= 0) {
              pending.skipped += 1;
              continue;
            }
            if (watermark === null || compareWatermarks(value, watermark) > 0) watermark = value;
          }
        }
        rawText += (rawTexts?.[r] ?? JSON.stringify(record)) + '\n';
        rawRows += 1;
        this.processRecord(record, processedOut, quarantineOut);
      }
      if (rawRows > 0) {
        raw ??= { writer: new ObjectWriter(this.opts.store, this.keys.rawPart(current.parts.length), 'application/x-ndjson'), hash: createHash('sha256'), rows: 0 };
        raw.writer.append(rawText);
        raw.hash.update(rawText);
        raw.rows += rawRows;
      }
      await Promise.all([raw?.writer.flush(), processedOut.flush(), quarantineOut.flush()]);
      lastPosition = page.next;
      if (raw && raw.rows >= config.raw_part_rows) await commit(page.next);
    }
    if (raw) await commit(lastPosition);
    else if (pending.pages > 0) {
      current = { ...current, pages: current.pages + pending.pages, skipped_by_watermark: current.skipped_by_watermark + pending.skipped };
    }
    return current;
  }

  private processRecord(record: SourceRecord, processedOut: ObjectWriter, quarantineOut: ObjectWriter): void {
    this.fetched += 1;
    const outcome = this.validator.check(record);
    if (outcome.ok) {
      this.processed += 1;
      for (let i = 0; i < outcome.values.length; i += 1) this.stats[i].add(outcome.values[i]);
      processedOut.append(csvLine(outcome.values));
    } else {
      this.quarantined += 1;
      quarantineOut.append(JSON.stringify({ run_id: this.runId, row: this.fetched, reasons: outcome.reasons, record }) + '\n');
    }
  }

  private async finish(checkpoint: RunCheckpoint, previousWatermark: Watermark, log: Logger): Promise<IngestionResult> {
    const { store, project } = this.opts;
    const finishedAt = new Date().toISOString();
    const rawKeys = checkpoint.parts.map((p) => p.key);
    const rows = { fetched: this.fetched, processed: this.processed, quarantined: this.quarantined };
    // The run's checksum covers every raw byte through the part checksums (each part is hashed once, as it is written).
    for (const part of checkpoint.parts) this.checksum.update(`${part.sha256}\n`);
    const checksum = this.checksum.digest('hex');
    await putJson(store, this.keys.rawMetadata, {
      source: this.source.description,
      run_id: this.runId,
      fetched_at: checkpoint.started_at,
      finished_at: finishedAt,
      pages: checkpoint.pages,
      row_count: this.fetched,
      skipped_by_watermark: checkpoint.skipped_by_watermark,
      checksum: { algorithm: 'sha256 of the parts\' sha256 lines, in order', value: checksum },
      watermark: { field: project.parser.watermark_field ?? null, since: checkpoint.since, until: checkpoint.watermark },
      parts: checkpoint.parts,
    });

    const columns: Record<string, ColumnReport> = {};
    const problems: string[] = [];
    this.plan.columns.forEach((name, i) => {
      this.stats[i].nullsAllRows = this.validator.nullCounts[i];
      const report = this.stats[i].report(this.validator.objectRecords);
      columns[name] = report;
      const limit = project.parser.validation[name]?.max_null_share;
      if (limit !== undefined && report.null_share > limit) {
        problems.push(`${name}: null share ${report.null_share.toFixed(4)} is above max_null_share ${limit}`);
      }
    });
    await putJson(store, this.keys.report, {
      run_id: this.runId,
      source: this.source.description,
      status: problems.length > 0 ? 'failed' : 'ok',
      problems,
      started_at: checkpoint.started_at,
      finished_at: finishedAt,
      rows: { ...rows, skipped_by_watermark: checkpoint.skipped_by_watermark },
      pages: checkpoint.pages,
      raw_checksum_sha256: checksum,
      columns,
    });
    if (problems.length > 0) {
      throw new DataQualityError(`run ${this.runId} failed data quality checks (report: ${store.uri(this.keys.report)}):\n  ${problems.join('\n  ')}`, this.keys.report);
    }
    const watermark = checkpoint.watermark ?? previousWatermark;
    const result: IngestionResult = {
      runId: this.runId,
      rawKeys,
      processedKey: this.keys.processed,
      quarantineKey: this.keys.quarantine,
      reportKey: this.keys.report,
      rows,
      watermark,
    };
    await putJson(store, this.keys.success, result);
    await this.state.writeWatermark({
      source: this.source.description,
      watermark_field: project.parser.watermark_field ?? null,
      watermark,
      run_id: this.runId,
      in_progress_run_id: null,
      updated_at: finishedAt,
    });
    log.info({ ...rows, watermark }, 'ingestion complete');
    return result;
  }
}

export type { IngestionSource } from './types';
