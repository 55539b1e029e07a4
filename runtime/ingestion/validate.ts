import type { FieldRule, ParserConfig } from '../../config/schema';
import type { FieldPlan } from './fields';

/**
 * A row's verdict. A quarantined row carries its reasons (with the values, `age: 142 is above max 100`) and, same
 * index, their kinds without the values (`age: above max 100`), which the run counts to name its top reasons.
 */
export type RowOutcome = { ok: true; values: unknown[] } | { ok: false; reasons: string[]; kinds: string[]; values?: unknown[] };

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Empty strings, null and undefined are nulls; strings are trimmed (CSV cells such as " <=50K"). */
function normalize(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed === '' ? null : trimmed;
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** Converts a non-null value to the rule's type; returns an error text when it cannot. */
function coerce(value: unknown, type: FieldRule['type']): { value: unknown } | { error: string } {
  switch (type) {
    case 'integer':
      if (typeof value === 'number') return Number.isInteger(value) ? { value } : { error: `${describe(value)} is not an integer` };
      if (typeof value === 'string' && INTEGER.test(value)) return { value: Number(value) };
      return { error: `${describe(value)} is not an integer` };
    case 'number':
      if (typeof value === 'number') return Number.isFinite(value) ? { value } : { error: `${describe(value)} is not a finite number` };
      if (typeof value === 'string' && NUMBER.test(value)) return { value: Number(value) };
      return { error: `${describe(value)} is not a number` };
    case 'boolean':
      if (typeof value === 'boolean') return { value };
      if (value === 'true' || value === 1 || value === '1') return { value: true };
      if (value === 'false' || value === 0 || value === '0') return { value: false };
      return { error: `${describe(value)} is not a boolean` };
    case 'timestamp':
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return { value };
      if (typeof value === 'number' && Number.isFinite(value)) return { value: new Date(value).toISOString() };
      return { error: `${describe(value)} is not a timestamp` };
    case 'string':
      if (typeof value === 'string') return { value };
      if (typeof value === 'number' || typeof value === 'boolean') return { value: String(value) };
      return { error: `${describe(JSON.stringify(value))} is not a string` };
  }
}

/** One column's check, compiled once from its rule so the per-row path does no lookups or closures. */
interface ColumnCheck {
  name: string;
  sourceName: string;
  rule?: FieldRule;
  /** String forms of `allowed`, for one Set lookup per value. */
  allowed?: Set<string>;
  allowedText?: string;
}

/** Maps one source record to processed columns and checks parser.json `validation`. */
export class RowValidator {
  private readonly checks: ColumnCheck[];
  /** Per column: records (objects) where the source value was null or missing, valid or not. */
  readonly nullCounts: number[];
  /** Records checked that were objects (the denominator of null shares). */
  objectRecords = 0;

  constructor(plan: FieldPlan, parser: ParserConfig) {
    this.checks = plan.columns.map((name, i) => {
      const entry: unknown = parser.validation[name];
      // validation.max_quarantine_share is the one run-wide number beside the per-field rules.
      const rule = typeof entry === 'object' && entry !== null ? (entry as FieldRule) : undefined;
      return {
        name,
        sourceName: plan.sourceNames[i],
        rule,
        allowed: rule?.allowed !== undefined ? new Set(rule.allowed.map(String)) : undefined,
        allowedText: rule?.allowed?.map((a) => JSON.stringify(a)).join(', '),
      };
    });
    this.nullCounts = plan.columns.map(() => 0);
  }

  check(record: unknown): RowOutcome {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      return { ok: false, reasons: [`record is ${Array.isArray(record) ? 'an array' : record === null ? 'null' : `a ${typeof record}`}, not an object`], kinds: ['record is not an object'] };
    }
    const source = record as Record<string, unknown>;
    const checks = this.checks;
    const values: unknown[] = new Array(checks.length);
    this.objectRecords += 1;
    let reasons: string[] | undefined;
    let kinds: string[] | undefined;
    for (let i = 0; i < checks.length; i += 1) {
      const column = checks[i];
      let value = normalize(source[column.sourceName]);
      if (value === null) this.nullCounts[i] += 1;
      const rule = column.rule;
      if (rule === undefined) {
        values[i] = value;
        continue;
      }
      let error: string | undefined;
      let kind = '';
      if (value === null) {
        if (rule.required) error = kind = 'required but missing';
      } else {
        const coerced = fastCoerce(value, rule.type);
        if (coerced === INVALID) {
          const slow = coerce(value, rule.type);
          if ('error' in slow) {
            error = slow.error;
            kind = `not a valid ${rule.type}`;
          }
        } else {
          value = coerced;
          if (typeof value === 'number') {
            if (rule.min !== undefined && value < rule.min) {
              error = `${value} is below min ${rule.min}`;
              kind = `below min ${rule.min}`;
            } else if (rule.max !== undefined && value > rule.max) {
              error = `${value} is above max ${rule.max}`;
              kind = `above max ${rule.max}`;
            }
          }
          if (error === undefined && column.allowed !== undefined && !column.allowed.has(typeof value === 'string' ? value : String(value))) {
            error = `${describe(value)} is not one of ${column.allowedText}`;
            kind = `not one of ${column.allowedText}`;
          }
        }
      }
      if (error !== undefined) {
        (reasons ??= []).push(`${column.name}: ${error}`);
        (kinds ??= []).push(`${column.name}: ${kind}`);
        values[i] = null;
      } else values[i] = value;
    }
    return reasons ? { ok: false, reasons, kinds: kinds!, values } : { ok: true, values };
  }
}

const INVALID = Symbol('invalid');

/** The common cases of coerce() without allocating a result object; INVALID sends the value to coerce() for its error text. */
function fastCoerce(value: unknown, type: FieldRule['type']): unknown {
  switch (type) {
    case 'integer':
      if (typeof value === 'number') return Number.isInteger(value) ? value : INVALID;
      return typeof value === 'string' && INTEGER.test(value) ? Number(value) : INVALID;
    case 'number':
      if (typeof value === 'number') return Number.isFinite(value) ? value : INVALID;
      return typeof value === 'string' && NUMBER.test(value) ? Number(value) : INVALID;
    case 'string':
      if (typeof value === 'string') return value;
      return typeof value === 'number' || typeof value === 'boolean' ? String(value) : INVALID;
    case 'timestamp':
      if (typeof value === 'string') return Number.isNaN(Date.parse(value)) ? INVALID : value;
      return typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString() : INVALID;
    default: {
      const result = coerce(value, type);
      return 'error' in result ? INVALID : result.value;
    }
  }
}
