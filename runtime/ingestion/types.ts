/** One record as the source returned it (a JSON value; objects are the normal case). */
export type SourceRecord = unknown;

/** Where a source stands after a page, so an interrupted run can continue from it. */
export interface SourcePosition {
  /** Next page number (page style). */
  page?: number;
  /** Next row offset (offset style, files, databases without a watermark). */
  offset?: number;
  /** Next cursor (cursor style). */
  cursor?: string | null;
  /** Next URL (Link-header style). */
  url?: string | null;
}

export interface SourcePage {
  records: SourceRecord[];
  /** Each record's text as the source sent it (same index; undefined where unknown): kept as the raw line as is. */
  rawTexts?: readonly (string | undefined)[];
  /** Position after this page. */
  next: SourcePosition;
}

export type Watermark = string | number | null;

/** Where a read starts: records with a watermark above `since` (when the run has a watermark field), from `position`. */
export interface ReadStart {
  since: Watermark;
  position: SourcePosition;
}

/** A paginated source of records; every kind (REST, file, database) implements this. */
export interface IngestionSource {
  /** Kind and location, with credentials removed: goes into metadata and logs. */
  readonly description: string;
  /** Field names known before any record is read (file headers are read lazily, so undefined there). */
  readonly declaredFields?: readonly string[];
  /**
   * True when the source itself returns only records above `since` (an API's watermark parameter, SQL).
   * Files are filtered by the run instead, which then also skips records without a watermark value on reruns.
   */
  readonly filtersByWatermark?: boolean;
  /** Pages in order; each page ends at a point the run can checkpoint. */
  pages(start: ReadStart): AsyncIterable<SourcePage>;
  /** Field names seen so far or known from the source's schema (CSV header, query columns). */
  fieldNames?(): readonly string[] | undefined;
  close?(): Promise<void>;
}

/** Compares watermarks: numbers numerically, anything else as strings (ISO timestamps sort as strings). */
export function compareWatermarks(a: Watermark, b: Watermark): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Reads a watermark value out of a record field (numbers and numeric strings become numbers). */
export function watermarkOf(value: unknown): Watermark {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  const text = String(value).trim();
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

/** Follows a dotted path ("data.items") into a parsed JSON body; "" is the body itself. */
export function atPath(body: unknown, dotted: string): unknown {
  if (dotted === '') return body;
  let current: unknown = body;
  for (const part of dotted.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
