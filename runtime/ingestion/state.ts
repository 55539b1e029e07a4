import { createHash } from 'node:crypto';
import { getJson, joinKey, ObjectNotFoundError, putJson, type ObjectStore } from '../storage/object-store';
import type { SourceFields } from './schema-drift';
import type { SourcePosition, Watermark } from './types';

/** The incremental-loading state of one source, kept in the store: the last committed watermark. */
export interface WatermarkState {
  source: string;
  watermark_field: string | null;
  watermark: Watermark;
  /** Run that advanced it last. */
  run_id: string | null;
  /** A run that started and has not finished; a rerun without --run-id resumes it. */
  in_progress_run_id: string | null;
  updated_at: string;
}

/** One raw part already written: the unit a crashed run resumes after. */
export interface RawPart {
  key: string;
  rows: number;
  pages: number;
  bytes: number;
  sha256: string;
}

/** The checkpoint of a run in progress, rewritten after every raw part. */
export interface RunCheckpoint {
  run_id: string;
  source: string;
  started_at: string;
  /** Watermark the run started from. */
  since: Watermark;
  /** Largest watermark in the committed parts. */
  watermark: Watermark;
  /** Source position after the committed parts (used when there is no watermark field). */
  position: SourcePosition;
  pages: number;
  skipped_by_watermark: number;
  parts: RawPart[];
}

/** A stable, readable id for a source: host/path slug plus a short hash of the whole (credential-free) description. */
export function sourceId(description: string): string {
  const slug = description
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/[?#].*$/, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `${slug || 'source'}-${createHash('sha256').update(description).digest('hex').slice(0, 10)}`;
}

export class IngestionState {
  constructor(
    private readonly store: ObjectStore,
    private readonly statePrefix: string,
    readonly id: string,
  ) {}

  private key(...parts: string[]): string {
    return joinKey(this.statePrefix, 'ingestion', this.id, ...parts);
  }

  private async read<T>(key: string): Promise<T | undefined> {
    try {
      return await getJson<T>(this.store, key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
  }

  get watermarkKey(): string {
    return this.key('watermark.json');
  }

  readWatermark(): Promise<WatermarkState | undefined> {
    return this.read<WatermarkState>(this.watermarkKey);
  }

  writeWatermark(state: WatermarkState): Promise<void> {
    return putJson(this.store, this.watermarkKey, state);
  }

  checkpointKey(runId: string): string {
    return this.key('runs', `${runId}.json`);
  }

  readCheckpoint(runId: string): Promise<RunCheckpoint | undefined> {
    return this.read<RunCheckpoint>(this.checkpointKey(runId));
  }

  writeCheckpoint(checkpoint: RunCheckpoint): Promise<void> {
    return putJson(this.store, this.checkpointKey(checkpoint.run_id), checkpoint);
  }

  /** The fields (and types) the source sent in its last complete run: the reference for schema drift. */
  get fieldsKey(): string {
    return this.key('fields.json');
  }

  readFields(): Promise<SourceFields | undefined> {
    return this.read<SourceFields>(this.fieldsKey);
  }

  writeFields(fields: SourceFields): Promise<void> {
    return putJson(this.store, this.fieldsKey, fields);
  }
}
