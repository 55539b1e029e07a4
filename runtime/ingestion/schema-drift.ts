/**
 * Schema drift: which fields a source sent in a run, and of what JSON type, compared with what parser.json
 * declares (`ingestion.source_fields`) or, without it, with the fields of the source's previous complete run
 * (kept in the state folder beside the watermark).
 */

/** The JSON type of a field's values (null and missing values have none). */
export type FieldType = 'number' | 'string' | 'boolean' | 'object' | 'array';

const TYPES: readonly FieldType[] = ['number', 'string', 'boolean', 'object', 'array'];

/** The fields of one run as stored for the next: each name with its most common type (null: only nulls seen). */
export interface SourceFields {
  source: string;
  run_id: string;
  updated_at: string;
  fields: Record<string, FieldType | null>;
}

export interface TypeChange {
  field: string;
  was: FieldType;
  now: FieldType;
}

/** The quality report's `schema` section. */
export interface SchemaReport {
  /** What the fields were compared with. */
  compared_with: 'source_fields' | 'previous_run' | 'nothing';
  /** The previous complete run whose fields were the reference (or whose types were compared). */
  previous_run: string | null;
  /** Records whose fields were read: every one of the first INSPECT_ALL, then one in INSPECT_EVERY. */
  inspected_records: number;
  fields: Record<string, FieldType | null>;
  missing: string[];
  new: string[];
  type_changed: TypeChange[];
  changed: boolean;
}

/** Every record's fields are read up to this many records of a run ... */
export const INSPECT_ALL = 1000;
/** ... then one record in this many (a power of two): a field set rarely varies within a run. */
export const INSPECT_EVERY = 16;

function typeIndex(value: unknown): number {
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return 0;
    case 'string':
      return 1;
    case 'boolean':
      return 2;
    case 'object':
      // Dates (database rows) are strings once written as raw JSONL, so a resumed run sees them alike.
      return Array.isArray(value) ? 4 : value instanceof Date ? 1 : 3;
    default:
      return -1;
  }
}

/** Counts, per field name, the records that carried it and the types of its non-null values. */
export class FieldCensus {
  private readonly counts = new Map<string, number[]>();
  inspected = 0;

  /** Whether the record numbered `row` (1-based within the run) is one to inspect. */
  static wants(row: number): boolean {
    return row <= INSPECT_ALL || (row & (INSPECT_EVERY - 1)) === 0;
  }

  add(record: unknown): void {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return;
    this.inspected += 1;
    const fields = record as Record<string, unknown>;
    for (const name in fields) {
      let c = this.counts.get(name);
      if (c === undefined) {
        c = [0, 0, 0, 0, 0];
        this.counts.set(name, c);
      }
      const t = typeIndex(fields[name]);
      if (t >= 0 && fields[name] !== null) c[t] += 1;
    }
  }

  /** Each field seen, with its most common type. */
  fields(): Record<string, FieldType | null> {
    const out: Record<string, FieldType | null> = {};
    for (const [name, c] of this.counts) {
      let best = -1;
      for (let t = 0; t < c.length; t += 1) if (c[t] > 0 && (best < 0 || c[t] > c[best])) best = t;
      out[name] = best < 0 ? null : TYPES[best];
    }
    return out;
  }
}

/**
 * Compares the fields a run saw with `declared` (source_fields) or else `previous` (the last complete run's):
 * names missing from the run, names new in it, and types that changed since the previous run.
 * A run that inspected no records (nothing new above the watermark) reports no change.
 */
export function compareFields(seen: Record<string, FieldType | null>, inspected: number, declared: readonly string[] | undefined, previous: SourceFields | undefined): SchemaReport {
  const report: SchemaReport = {
    compared_with: declared !== undefined ? 'source_fields' : previous !== undefined ? 'previous_run' : 'nothing',
    previous_run: previous?.run_id ?? null,
    inspected_records: inspected,
    fields: seen,
    missing: [],
    new: [],
    type_changed: [],
    changed: false,
  };
  if (inspected === 0) return report;
  const reference = declared ?? (previous ? Object.keys(previous.fields) : undefined);
  if (reference !== undefined) {
    const names = new Set(reference);
    report.missing = reference.filter((name) => !(name in seen));
    report.new = Object.keys(seen).filter((name) => !names.has(name));
  }
  if (previous !== undefined) {
    for (const [field, now] of Object.entries(seen)) {
      const was = previous.fields[field];
      if (was !== undefined && was !== null && now !== null && was !== now) report.type_changed.push({ field, was, now });
    }
  }
  report.changed = report.missing.length + report.new.length + report.type_changed.length > 0;
  return report;
}

/** One line naming every change: `source schema changed: missing: customer_age; new: age_years (against ...); type changed since run R: spend (number -> string)`. */
export function describeChanges(report: SchemaReport): string {
  const names: string[] = [];
  if (report.missing.length > 0) names.push(`missing: ${report.missing.join(', ')}`);
  if (report.new.length > 0) names.push(`new: ${report.new.join(', ')}`);
  const parts: string[] = [];
  if (names.length > 0) {
    const against = report.compared_with === 'source_fields' ? 'parser.json ingestion.source_fields' : `the fields of run ${report.previous_run}`;
    parts.push(`${names.join('; ')} (against ${against})`);
  }
  if (report.type_changed.length > 0) {
    parts.push(`type changed since run ${report.previous_run}: ${report.type_changed.map((c) => `${c.field} (${c.was} -> ${c.now})`).join(', ')}`);
  }
  return `source schema changed: ${parts.join('; ')}`;
}
