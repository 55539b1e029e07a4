import { createHash } from 'node:crypto';
import * as readline from 'node:readline';
import { DEFAULT_MAX_QUARANTINE_SHARE, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { MlstackError } from '../common/errors';
import { silentLogger, type Logger } from '../common/logger';
import { newRunId } from '../common/paths';
import { storagePaths, SUCCESS_MARKER } from '../contract/layout';
import { getJson, joinKey, putJson, type ObjectStore } from '../storage/object-store';
import type { StoreCloud } from '../storage/open';
import { csvLine } from './csv';
import { Duplicates, type DuplicateReport } from './duplicates';
import { IngestionConfigError, planFields, type FieldPlan } from './fields';
import { silentIngestionProgress, type IngestionProgress } from './progress';
import { ColumnStats, type ColumnReport } from './quality';
import { RawParts } from './raw-parts';
import { PaginationLoopError } from './rest-source';
import { compareFields, describeChanges, FieldCensus, type SchemaReport, type SourceFields } from './schema-drift';
import { ObjectWriter } from './sink';
import { openSource } from './sources';
import { IngestionState, sourceId, type RawPart, type RunCheckpoint, type WatermarkState } from './state';
import { compareWatermarks, watermarkOf, type IngestionSource, type ReadStart, type SourcePage, type SourceRecord, type Watermark } from './types';
import { RowValidator } from './validate';

export { IngestionConfigError } from './fields';
export { PaginationLoopError } from './rest-source';
export type { DuplicateReport } from './duplicates';
export type { SchemaReport } from './schema-drift';
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
  /** Told the rows and pages as they are fetched (the CLI's bar in a terminal); default: nothing. */
  progress?: IngestionProgress;
  /** Told each warning of the run (a schema change, kept duplicates) as one line; default: the logger at warn. */
  onWarning?: (message: string) => void;
}

export interface IngestionResult {
  runId: string;
  rawKeys: string[];
  processedKey: string;
  quarantineKey: string;
  reportKey: string;
  /** fetched = processed + quarantined + duplicates.dropped. */
  rows: { fetched: number; processed: number; quarantined: number };
  watermark?: string | number | null;
  /** Duplicate valid rows found, and dropped with a unique_key (absent in results written before it existed). */
  duplicates?: DuplicateReport;
  /** The source's fields compared with source_fields or the previous run. */
  schema?: Pick<SchemaReport, 'compared_with' | 'changed' | 'missing' | 'new' | 'type_changed'>;
  /** The run's warnings (also in the quality report). */
  warnings?: string[];
}

/** How many of a run's quarantine reasons the report and a failure name. */
const TOP_REASONS = 5;

/** The run's data broke a rule that applies to the whole run (max_null_share); outputs are kept for inspection. */
export class DataQualityError extends MlstackError {
  constructor(
    message: string,
    readonly reportKey: string,
  ) {
    super('DATA_QUALITY', message);
    this.name = 'DataQualityError';
  }
}

/** Where one run's outputs go: `<raw><project>/<runId>/part-NNNNN.jsonl` and `<processed><project>/<runId>/{data.csv,quarantine.jsonl,quality_report.json}`. */
export function runKeys(project: ProjectConfig, env: EnvironmentName, cloud: StoreCloud, runId: string) {
  const paths = storagePaths(project.environments[env], cloud, project.pipeline.project);
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
  private validator: RowValidator;
  private readonly stats: ColumnStats[];
  private readonly duplicates: Duplicates;
  private readonly census = new FieldCensus();
  /** Quarantined rows per reason kind (`age: required but missing`). */
  private readonly reasonCounts = new Map<string, number>();
  /**
   * keep "last": the first pass over the run's rows only records each key's last valid row (`scanning`); a
   * second pass over the committed raw parts then writes the outputs.
   */
  private scanning: boolean;
  private previousFields?: SourceFields;
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
    const paths = storagePaths(opts.project.environments[opts.env], opts.cloud, opts.project.pipeline.project);
    this.state = new IngestionState(opts.store, paths.state, sourceId(source.description));
    this.validator = new RowValidator(plan, opts.project.parser);
    this.stats = plan.columns.map(() => new ColumnStats());
    this.fieldsChecked = source.fieldNames?.() !== undefined;
    this.duplicates = new Duplicates(opts.project.parser.ingestion, plan.columns);
    this.scanning = this.duplicates.keepLast;
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
    this.previousFields = await this.state.readFields();
    let checkpoint = await this.begin(previous, log);
    const processedOut = new ObjectWriter(store, this.keys.processed, 'text/csv');
    const quarantineOut = new ObjectWriter(store, this.keys.quarantine, 'application/x-ndjson');
    const progress = this.opts.progress ?? silentIngestionProgress;
    progress.start();
    try {
      await processedOut.write(csvLine(this.plan.columns));
      let replayedPages = 0;
      for (const part of checkpoint.parts) {
        await this.replayPart(part, processedOut, quarantineOut);
        progress.update(this.fetched, (replayedPages += part.pages));
      }
      checkpoint = await this.fetchRemaining(checkpoint, processedOut, quarantineOut, log, progress);
      if (this.scanning) await this.writePass(checkpoint, processedOut, quarantineOut);
      await processedOut.end();
      await quarantineOut.end();
    } catch (err) {
      await this.abortRaw(err as Error);
      await processedOut.abort(err as Error);
      await quarantineOut.abort(err as Error);
      throw err;
    } finally {
      progress.stop();
    }
    return this.finish(checkpoint, previous?.watermark ?? null, log);
  }

  /** The run's checkpoint (an interrupted run's, or a new one from the source's watermark), with the source marked in progress. */
  private async begin(previous: WatermarkState | undefined, log: Logger): Promise<RunCheckpoint> {
    const startedAt = new Date().toISOString();
    const checkpoint: RunCheckpoint = (await this.state.readCheckpoint(this.runId)) ?? {
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
    return checkpoint;
  }

  /** keep "last": every row of the run again, from its committed raw parts, now that each key's last row is known. */
  private async writePass(checkpoint: RunCheckpoint, processedOut: ObjectWriter, quarantineOut: ObjectWriter): Promise<void> {
    this.scanning = false;
    this.fetched = 0;
    this.validator = new RowValidator(this.plan, this.opts.project.parser);
    for (const part of checkpoint.parts) await this.replayPart(part, processedOut, quarantineOut);
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

  /** Fetches the pages after the checkpoint: raw parts committed every raw_part_rows rows, each record validated as it comes. */
  private async fetchRemaining(checkpoint: RunCheckpoint, processedOut: ObjectWriter, quarantineOut: ObjectWriter, log: Logger, progress: IngestionProgress): Promise<RunCheckpoint> {
    const partRows = this.opts.project.parser.ingestion.raw_part_rows;
    const start = this.readStart(checkpoint);
    const parts = new RawParts(checkpoint, this.opts.store, this.keys.rawPart, this.state, log);
    this.abortRaw = (err: Error) => parts.abort(err);
    let watermark: Watermark = checkpoint.watermark;
    let lastPosition = checkpoint.position;
    try {
      for await (const page of this.source.pages(start)) {
        this.checkFieldsOnFirstPage();
        parts.pageRead();
        watermark = this.takePage(page, start.since, watermark, parts, processedOut, quarantineOut);
        await Promise.all([parts.flush(), processedOut.flush(), quarantineOut.flush()]);
        lastPosition = page.next;
        progress.update(this.fetched, parts.pages);
        if (parts.openRows >= partRows) await parts.commit(watermark, page.next);
      }
    } catch (err) {
      if (!(err instanceof PaginationLoopError)) throw err;
      // The pages before the loop are good: commit them, so a rerun resumes after them once the API is fixed.
      await parts.commit(watermark, lastPosition);
      const committed = parts.checkpoint.parts;
      throw new PaginationLoopError(
        `${err.message}. Run ${this.runId} keeps what it read before: ${committed.reduce((n, p) => n + p.rows, 0)} rows in ${committed.length} committed raw parts; ` +
          `a rerun (or --run-id ${this.runId}) resumes after them`,
        err.url,
      );
    }
    return parts.close(watermark, lastPosition);
  }

  /** With a watermark field the read restarts after the committed watermark; without one, at the committed position. */
  private readStart(checkpoint: RunCheckpoint): ReadStart {
    return this.plan.watermarkSource !== undefined ? { since: checkpoint.watermark, position: {} } : { since: null, position: checkpoint.position };
  }

  /** Sources without declared fields (an API without source_fields) are checked on their first page, before any write. */
  private checkFieldsOnFirstPage(): void {
    if (this.fieldsChecked) return;
    const names = this.source.fieldNames?.();
    if (names !== undefined && names.length > 0) {
      this.plan = planFields(this.opts.project.parser, names);
      this.fieldsChecked = true;
    }
  }

  /**
   * One page: drops records at or below `since` (counted as skipped), adds the rest to the raw part and
   * validates them. Returns the run's watermark after the page.
   */
  private takePage(page: SourcePage, since: Watermark, watermark: Watermark, parts: RawParts, processedOut: ObjectWriter, quarantineOut: ObjectWriter): Watermark {
    const wmField = this.plan.watermarkSource;
    const sourceFilters = this.source.filtersByWatermark === true;
    let rawText = '';
    let rawRows = 0;
    const { records, rawTexts } = page;
    for (let r = 0; r < records.length; r += 1) {
      const record = records[r];
      if (wmField !== undefined) {
        const value = record !== null && typeof record === 'object' ? watermarkOf((record as Record<string, unknown>)[wmField]) : null;
        if (isAtOrBelow(value, since, sourceFilters)) {
          parts.skippedByWatermark();
          continue;
        }
        if (value !== null && (watermark === null || compareWatermarks(value, watermark) > 0)) watermark = value;
      }
      rawText += (rawTexts?.[r] ?? JSON.stringify(record)) + '\n';
      rawRows += 1;
      this.processRecord(record, processedOut, quarantineOut);
    }
    if (rawRows > 0) parts.append(rawText, rawRows);
    return watermark;
  }

  private processRecord(record: SourceRecord, processedOut: ObjectWriter, quarantineOut: ObjectWriter): void {
    const row = (this.fetched += 1);
    const outcome = this.validator.check(record);
    if (this.scanning) {
      // keep "last", first pass: note each key's last valid row and the fields; writePass does the rest.
      if (FieldCensus.wants(row)) this.census.add(record);
      if (outcome.ok) this.duplicates.scan(outcome.values, row);
      return;
    }
    if (!this.duplicates.keepLast && FieldCensus.wants(row)) this.census.add(record);
    if (outcome.ok) {
      if (this.duplicates.isDropped(outcome.values, row)) return;
      this.processed += 1;
      for (let i = 0; i < outcome.values.length; i += 1) this.stats[i].add(outcome.values[i]);
      processedOut.append(csvLine(outcome.values));
    } else {
      this.quarantined += 1;
      for (const kind of outcome.kinds) this.reasonCounts.set(kind, (this.reasonCounts.get(kind) ?? 0) + 1);
      quarantineOut.append(JSON.stringify({ run_id: this.runId, row, reasons: outcome.reasons, record }) + '\n');
    }
  }

  /** Writes the raw metadata and the quality report; a run that passes the checks is then marked complete. */
  private async finish(checkpoint: RunCheckpoint, previousWatermark: Watermark, log: Logger): Promise<IngestionResult> {
    const finishedAt = new Date().toISOString();
    const rows = { fetched: this.fetched, processed: this.processed, quarantined: this.quarantined };
    // The run's checksum covers every raw byte through the part checksums (each part is hashed once, as it is written).
    for (const part of checkpoint.parts) this.checksum.update(`${part.sha256}\n`);
    const checksum = this.checksum.digest('hex');
    await this.writeRawMetadata(checkpoint, finishedAt, checksum);
    const { columns, problems } = this.columnReports();
    const { parser } = this.opts.project;
    const duplicates = this.duplicates.report();
    const schema = compareFields(this.census.fields(), this.census.inspected, parser.ingestion.source_fields, this.previousFields);
    const quarantine = this.quarantineReport();
    const warnings: string[] = [];
    if (quarantine.problem !== undefined) problems.push(quarantine.problem);
    if (schema.changed) {
      if (parser.ingestion.on_schema_change === 'fail') problems.push(`${describeChanges(schema)} (ingestion.on_schema_change is "fail")`);
      else warnings.push(describeChanges(schema));
    }
    if (duplicates.unique_key === null && duplicates.found > 0) {
      warnings.push(`${duplicates.found} processed rows repeat an earlier row of the run in every column; they are kept: set parser.json ingestion.unique_key to drop duplicates`);
    }
    const warn = this.opts.onWarning ?? ((message: string) => log.warn(message));
    for (const message of warnings) warn(message);
    await putJson(this.opts.store, this.keys.report, {
      run_id: this.runId,
      source: this.source.description,
      status: problems.length > 0 ? 'failed' : 'ok',
      problems,
      warnings,
      started_at: checkpoint.started_at,
      finished_at: finishedAt,
      rows: { ...rows, skipped_by_watermark: checkpoint.skipped_by_watermark, duplicates_dropped: duplicates.dropped },
      pages: checkpoint.pages,
      raw_checksum_sha256: checksum,
      duplicates,
      quarantine: { rows: this.quarantined, share: quarantine.share, max_share: quarantine.maxShare, top_reasons: quarantine.topReasons },
      schema,
      columns,
    });
    if (problems.length > 0) {
      throw new DataQualityError(`run ${this.runId} failed data quality checks (report: ${this.opts.store.uri(this.keys.report)}):\n  ${problems.join('\n  ')}`, this.keys.report);
    }
    const summary = { duplicates, schema: { compared_with: schema.compared_with, changed: schema.changed, missing: schema.missing, new: schema.new, type_changed: schema.type_changed }, warnings };
    const result = await this.markComplete(checkpoint.parts, rows, checkpoint.watermark ?? previousWatermark, finishedAt, summary);
    if (this.census.inspected > 0) {
      await this.state.writeFields({ source: this.source.description, run_id: this.runId, updated_at: finishedAt, fields: schema.fields });
    }
    log.info({ ...rows, watermark: result.watermark }, 'ingestion complete');
    return result;
  }

  /** `<raw run>/_metadata.json`: where the raw parts came from, their checksums and the watermark range. */
  private async writeRawMetadata(checkpoint: RunCheckpoint, finishedAt: string, checksum: string): Promise<void> {
    await putJson(this.opts.store, this.keys.rawMetadata, {
      source: this.source.description,
      run_id: this.runId,
      fetched_at: checkpoint.started_at,
      finished_at: finishedAt,
      pages: checkpoint.pages,
      row_count: this.fetched,
      skipped_by_watermark: checkpoint.skipped_by_watermark,
      checksum: { algorithm: 'sha256 of the parts\' sha256 lines, in order', value: checksum },
      watermark: { field: this.opts.project.parser.watermark_field ?? null, since: checkpoint.since, until: checkpoint.watermark },
      parts: checkpoint.parts,
    });
  }

  /** The run's quarantine share against validation.max_quarantine_share, and its most frequent reasons. */
  private quarantineReport(): { share: number; maxShare: number; topReasons: { reason: string; rows: number }[]; problem?: string } {
    const maxShare = this.opts.project.parser.validation.max_quarantine_share ?? DEFAULT_MAX_QUARANTINE_SHARE;
    const share = this.fetched === 0 ? 0 : this.quarantined / this.fetched;
    const topReasons = [...this.reasonCounts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, TOP_REASONS)
      .map(([reason, rows]) => ({ reason, rows }));
    if (share <= maxShare) return { share, maxShare, topReasons };
    const count = (n: number) => n.toLocaleString('en-US');
    return {
      share,
      maxShare,
      topReasons,
      problem:
        `quarantined ${count(this.quarantined)} of ${count(this.fetched)} rows (${(share * 100).toFixed(1)}%), above validation.max_quarantine_share ${maxShare}; ` +
        `top reasons: ${topReasons.map((r) => `${r.reason} (${count(r.rows)} rows)`).join(', ')}`,
    };
  }

  /** Each column's quality report, and the columns whose null share is above their max_null_share. */
  private columnReports(): { columns: Record<string, ColumnReport>; problems: string[] } {
    const columns: Record<string, ColumnReport> = {};
    const problems: string[] = [];
    this.plan.columns.forEach((name, i) => {
      this.stats[i].nullsAllRows = this.validator.nullCounts[i];
      const report = this.stats[i].report(this.validator.objectRecords);
      columns[name] = report;
      const rule: unknown = this.opts.project.parser.validation[name];
      const limit = typeof rule === 'object' && rule !== null ? (rule as { max_null_share?: number }).max_null_share : undefined;
      if (limit !== undefined && report.null_share > limit) {
        problems.push(`${name}: null share ${report.null_share.toFixed(4)} is above max_null_share ${limit}`);
      }
    });
    return { columns, problems };
  }

  /** Writes the success marker (the result), then moves the source's watermark to the run's. */
  private async markComplete(
    parts: RawPart[],
    rows: IngestionResult['rows'],
    watermark: Watermark,
    finishedAt: string,
    summary: Pick<IngestionResult, 'duplicates' | 'schema' | 'warnings'>,
  ): Promise<IngestionResult> {
    const result: IngestionResult = {
      runId: this.runId,
      rawKeys: parts.map((p) => p.key),
      processedKey: this.keys.processed,
      quarantineKey: this.keys.quarantine,
      reportKey: this.keys.report,
      rows,
      watermark,
      ...summary,
    };
    await putJson(this.opts.store, this.keys.success, result);
    await this.state.writeWatermark({
      source: this.source.description,
      watermark_field: this.opts.project.parser.watermark_field ?? null,
      watermark,
      run_id: this.runId,
      in_progress_run_id: null,
      updated_at: finishedAt,
    });
    return result;
  }
}

/**
 * Whether a record is no newer than the run's start watermark `since`, so the run skips it. A record
 * without a watermark value is skipped on a rerun unless the source filters by watermark itself.
 */
function isAtOrBelow(value: Watermark, since: Watermark, sourceFilters: boolean): boolean {
  if (since === null) return false;
  if (value === null) return !sourceFilters;
  return compareWatermarks(value, since) <= 0;
}

export type { IngestionSource } from './types';
