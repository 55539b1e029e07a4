import { parse as parseCsv } from 'csv-parse/sync';
import { InputError, type Predictor } from './predictor';

export type Row = Record<string, unknown>;

const NUMBER_CELL = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;
/** Keys under which JSON bodies may wrap their rows: Vertex AI, TF Serving / SageMaker style, Azure ML style. */
export const WRAPPER_KEYS = ['instances', 'inputs', 'data'] as const;

export type BodyFormat = 'json' | 'csv';

/** Maps a Content-Type header to a body format; a missing header means JSON (documented). */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  if (contentType === undefined || contentType.trim() === '') return 'json';
  const mime = contentType.split(';', 1)[0].trim().toLowerCase();
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  if (mime === 'text/csv' || mime === 'application/csv') return 'csv';
  throw new InputError('UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Type "${truncate(contentType)}": send application/json or text/csv`, {
    field: 'Content-Type',
    expected: 'application/json or text/csv',
  });
}

/** Parses a request body into rows keyed by feature name (not yet validated). */
export function parseRows(body: string, format: BodyFormat, features: readonly string[]): Row[] {
  return format === 'csv' ? parseCsvRows(body, features) : parseJsonRows(body, features);
}

export function parseJsonRows(body: string, features: readonly string[]): Row[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new InputError('INPUT_INVALID', `malformed JSON body: ${(err as Error).message}`, { field: 'body', expected: 'valid JSON' });
  }
  return rowsFromDocument(doc, features);
}

function rowsFromDocument(doc: unknown, features: readonly string[]): Row[] {
  if (Array.isArray(doc)) return doc.map((item, i) => toRow(item, i, features));
  if (isPlainObject(doc)) {
    for (const key of WRAPPER_KEYS) {
      if (key in doc && !features.includes(key)) {
        const inner = doc[key];
        if (!Array.isArray(inner)) {
          throw new InputError('INPUT_INVALID', `"${key}" must be an array of rows, found ${describeValue(inner)}`, {
            field: key,
            expected: 'an array of rows',
          });
        }
        if ('parameters' in doc && doc.parameters !== null && !isPlainObject(doc.parameters)) {
          throw new InputError('INPUT_INVALID', `"parameters" must be an object, found ${describeValue(doc.parameters)}`, {
            field: 'parameters',
            expected: 'an object',
          });
        }
        return inner.map((item, i) => toRow(item, i, features));
      }
    }
    return [doc];
  }
  throw new InputError('INPUT_INVALID', `expected a row object, an array of rows or {"instances": [...]}, found ${describeValue(doc)}`, {
    field: 'body',
    expected: 'a JSON object or array',
  });
}

function toRow(item: unknown, index: number, features: readonly string[]): Row {
  if (isPlainObject(item)) return item;
  if (Array.isArray(item)) {
    if (item.length !== features.length) {
      throw new InputError('INPUT_INVALID', `row ${index}: an array row needs ${features.length} values in feature order (${features.join(', ')}), found ${item.length}`, {
        row: index,
        expected: `${features.length} values`,
      });
    }
    const row: Row = {};
    for (let i = 0; i < features.length; i++) row[features[i]] = item[i];
    return row;
  }
  throw new InputError('INPUT_INVALID', `row ${index}: expected an object of features or an array of values, found ${describeValue(item)}`, {
    row: index,
    expected: 'an object or array',
  });
}

/** CSV rows in feature order; a first line equal to the feature names (any order) is a header. */
export function parseCsvRows(body: string, features: readonly string[]): Row[] {
  let records: string[][];
  try {
    records = parseCsv(body, { skip_empty_lines: true, relax_column_count: true, bom: true }) as string[][];
  } catch (err) {
    throw new InputError('INPUT_INVALID', `malformed CSV body: ${(err as Error).message}`, { field: 'body', expected: 'RFC 4180 CSV' });
  }
  let order: readonly string[] = features;
  let firstDataLine = 0;
  if (records.length > 0 && isHeader(records[0], features)) {
    order = records[0].map((c) => c.trim());
    firstDataLine = 1;
  }
  const rows: Row[] = [];
  for (let r = firstDataLine; r < records.length; r++) {
    const cells = records[r];
    const index = r - firstDataLine;
    if (cells.length !== order.length) {
      throw new InputError('INPUT_INVALID', `CSV row ${index}: expected ${order.length} columns (${order.join(', ')}), found ${cells.length}`, {
        row: index,
        expected: `${order.length} columns`,
      });
    }
    const row: Row = {};
    for (let c = 0; c < order.length; c++) row[order[c]] = csvCell(cells[c]);
    rows.push(row);
  }
  return rows;
}

function isHeader(cells: string[], features: readonly string[]): boolean {
  if (cells.length !== features.length) return false;
  const names = new Set(cells.map((c) => c.trim()));
  return names.size === features.length && features.every((f) => names.has(f));
}

/** Numbers become numbers, empty cells null; everything else stays text for the model's type check. */
export function csvCell(cell: string): unknown {
  if (cell === '') return null;
  return NUMBER_CELL.test(cell) ? Number(cell) : cell;
}

/**
 * Checks that every row has exactly the model's features with JSON-scalar, finite values,
 * then asks the predictor for its type checks. Throws InputError naming the row and field.
 */
export function validateRows(rows: Row[], predictor: Pick<Predictor, 'features' | 'validateRow'>, maxBatchSize: number): void {
  if (rows.length === 0) throw new InputError('INPUT_INVALID', 'the request holds no rows', { field: 'body', expected: 'at least one row' });
  if (rows.length > maxBatchSize) {
    throw new InputError('PAYLOAD_TOO_LARGE', `too many rows: ${rows.length}, at most ${maxBatchSize} per request (split the batch)`, {
      field: 'body',
      expected: `at most ${maxBatchSize} rows`,
    });
  }
  const { features } = predictor;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    let present = 0;
    for (const feature of features) {
      if (!Object.prototype.hasOwnProperty.call(row, feature)) {
        throw new InputError('INPUT_INVALID', `row ${i}: missing feature "${feature}"`, { row: i, field: feature, expected: 'a value' });
      }
      present++;
      const value = row[feature];
      const problem = scalarProblem(value);
      if (problem) throw new InputError('INPUT_INVALID', `row ${i}: feature "${feature}": ${problem}`, { row: i, field: feature, expected: 'a finite number, string, boolean or null' });
    }
    if (Object.keys(row).length !== present) {
      const extra = Object.keys(row).find((k) => !features.includes(k)) as string;
      throw new InputError('INPUT_INVALID', `row ${i}: unknown field "${truncate(extra)}"; the model takes exactly: ${features.join(', ')}`, {
        row: i,
        field: extra,
        expected: `only the features ${features.join(', ')}`,
      });
    }
    const message = predictor.validateRow?.(row);
    if (message) {
      const field = features.find((f) => message.includes(`"${f}"`) || message.startsWith(f));
      throw new InputError('INPUT_INVALID', `row ${i}: ${message}`, { row: i, field });
    }
  }
}

function scalarProblem(value: unknown): string | null {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? null : `expected a finite number, found ${value}`;
    case 'string':
    case 'boolean':
      return null;
    case 'object':
      return value === null ? null : `expected a number or string, found ${describeValue(value)}`;
    default:
      return `expected a number or string, found ${typeof value}`;
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(truncate(value))}`;
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
