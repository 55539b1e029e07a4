import { createHash, type Hash } from 'node:crypto';
import type { Logger } from '../common/logger';
import type { ObjectStore } from '../storage/object-store';
import { ObjectWriter } from './sink';
import type { IngestionState, RawPart, RunCheckpoint } from './state';
import type { SourcePosition, Watermark } from './types';

/**
 * The raw JSONL parts of a run's fetch and the checkpoint they add up to. The part being written is
 * streamed to the store and becomes visible only once committed (atomic put); each commit rewrites the
 * checkpoint, so a crashed run resumes after its last committed part.
 */
export class RawParts {
  private open: { writer: ObjectWriter; hash: Hash; rows: number } | undefined;
  /** Pages in the open part. */
  private partPages = 0;
  /** Pages read and records skipped by watermark since the last commit. */
  private pending = { pages: 0, skipped: 0 };

  constructor(
    private current: RunCheckpoint,
    private readonly store: ObjectStore,
    private readonly partKey: (index: number) => string,
    private readonly state: IngestionState,
    private readonly log: Logger,
  ) {}

  /** Rows in the open part (the run commits it once they reach raw_part_rows). */
  get openRows(): number {
    return this.open?.rows ?? 0;
  }

  /** The run's checkpoint as last committed. */
  get checkpoint(): RunCheckpoint {
    return this.current;
  }

  /** Pages read by the run so far, committed or not. */
  get pages(): number {
    return this.current.pages + this.pending.pages;
  }

  pageRead(): void {
    this.pending.pages += 1;
    this.partPages += 1;
  }

  skippedByWatermark(): void {
    this.pending.skipped += 1;
  }

  /**
   * Adds a page's raw lines (one string: one append and one hash update per page, not per row), encoded to UTF-8
   * once for both the hash and the store.
   */
  append(text: string, rows: number): void {
    this.open ??= { writer: new ObjectWriter(this.store, this.partKey(this.current.parts.length), 'application/x-ndjson'), hash: createHash('sha256'), rows: 0 };
    const bytes = Buffer.from(text, 'utf8');
    this.open.writer.appendBytes(bytes);
    this.open.hash.update(bytes);
    this.open.rows += rows;
  }

  async flush(): Promise<void> {
    await this.open?.writer.flush();
  }

  /** Writes the open part and a checkpoint that includes it, at `watermark` and `position`. */
  async commit(watermark: Watermark, position: SourcePosition): Promise<void> {
    if (!this.open) return;
    await this.open.writer.end();
    const part: RawPart = { key: this.open.writer.key, rows: this.open.rows, pages: this.partPages, bytes: this.open.writer.bytes, sha256: this.open.hash.digest('hex') };
    this.current = {
      ...this.current,
      watermark,
      position,
      pages: this.current.pages + this.pending.pages,
      skipped_by_watermark: this.current.skipped_by_watermark + this.pending.skipped,
      parts: [...this.current.parts, part],
    };
    await this.state.writeCheckpoint(this.current);
    this.log.debug({ part: part.key, rows: part.rows }, 'raw part committed');
    this.open = undefined;
    this.partPages = 0;
    this.pending = { pages: 0, skipped: 0 };
  }

  /**
   * After the last page: commits the open part, or (pages without new records) counts the pages read since
   * the last commit without writing a checkpoint. Returns the run's checkpoint.
   */
  async close(watermark: Watermark, position: SourcePosition): Promise<RunCheckpoint> {
    if (this.open) await this.commit(watermark, position);
    else if (this.pending.pages > 0) {
      this.current = { ...this.current, pages: this.current.pages + this.pending.pages, skipped_by_watermark: this.current.skipped_by_watermark + this.pending.skipped };
    }
    return this.current;
  }

  /** Drops the open part (nothing of it is left in the store). */
  async abort(err: Error): Promise<void> {
    await this.open?.writer.abort(err);
  }
}
