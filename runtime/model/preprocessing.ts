/**
 * Feature preprocessing shared by training and serving: fitted on the train
 * split only, saved as JSON beside the model, and applied per request by the
 * serving process with exactly this code. Pure TypeScript, no tf dependency.
 */
import { ConfigInvalidError, InvalidInputError } from '../common/errors';

export const PREPROCESSING_FORMAT_VERSION = 1;

/**
 * Serving inputs are clipped to the train range widened by this many standard deviations on
 * each side, so one absurd value cannot dominate a prediction. (Clipping train outliers to a
 * fixed ±k sd, or log1p on skewed amounts, cost AUC on adult.csv: rare huge capital gains are signal.)
 */
export const CLIP_MARGIN_SD = 1;
/** Categories kept per column (most frequent first); rarer ones fall into the unknown bucket. */
export const MAX_CATEGORIES = 100;

export interface NumericFeatureState {
  name: string;
  kind: 'numeric';
  /** log1p is applied before scaling to the columns listed in spec.logTransform. */
  transform: 'none' | 'log1p';
  /** Imputed value for a missing input, in raw units. */
  fill: number;
  imputation: 'median' | 'mean';
  /** Whether an extra 0/1 "was missing" column follows the value (only when the train split had gaps). */
  missing_indicator: boolean;
  /** Mean and standard deviation of the (transformed) train values. */
  mean: number;
  std: number;
  /** Clipping bounds in standardised units. */
  clip_low: number;
  clip_high: number;
  /** First output column of this feature. */
  offset: number;
}

export interface BooleanFeatureState {
  name: string;
  kind: 'boolean';
  /** Share of true in train, used for missing inputs. */
  fill: number;
  missing_indicator: boolean;
  offset: number;
}

export interface CategoricalFeatureState {
  name: string;
  kind: 'categorical';
  /** Known categories (trimmed strings); the output has one more column, the unknown bucket, last. */
  categories: string[];
  offset: number;
}

export type FeatureState = NumericFeatureState | BooleanFeatureState | CategoricalFeatureState;

export interface PreprocessingState {
  format_version: typeof PREPROCESSING_FORMAT_VERSION;
  features: FeatureState[];
  /** Width of one transformed row. */
  outputDim: number;
  /** A name per output column ("age", "age__missing", "plan=basic", "plan=__unknown__"). */
  output_names: string[];
  /** Rows the state was fitted on (the train split). */
  fitted_rows: number;
}

export interface PreprocessingSpec {
  features: string[];
  /** Columns to one-hot encode; when omitted every column's kind is inferred from the data. */
  categorical?: string[];
  /** Imputation for numeric columns; median also adds a missing indicator when the train split had gaps. */
  imputation?: 'median' | 'mean';
  /** Non-negative numeric columns to log1p before scaling. */
  logTransform?: string[];
}

type Row = Record<string, unknown>;
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export function isMissing(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '');
}

const TRUE_WORDS = new Set(['true']);
const FALSE_WORDS = new Set(['false']);

/** A boolean from true/false or "true"/"false" (any case); undefined when the value is not one. */
function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  return undefined;
}

/** A number from a number or a numeric string; NaN when it is neither (callers check missing first). */
function asNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const text = value.trim();
    return text === '' ? NaN : Number(text);
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return NaN;
}

function categoryOf(value: unknown): string {
  return isMissing(value) ? '' : String(value).trim();
}

function inferKind(values: unknown[]): FeatureState['kind'] {
  let seen = 0;
  let allBoolean = true;
  let allNumeric = true;
  for (const v of values) {
    if (isMissing(v)) continue;
    seen++;
    if (allBoolean && asBoolean(v) === undefined) allBoolean = false;
    if (allNumeric && (typeof v === 'boolean' || !Number.isFinite(asNumber(v)))) allNumeric = false;
    if (!allBoolean && !allNumeric) return 'categorical';
  }
  if (seen === 0) return 'numeric';
  return allBoolean ? 'boolean' : allNumeric ? 'numeric' : 'categorical';
}

function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function meanStd(values: Float64Array): { mean: number; std: number } {
  if (values.length === 0) return { mean: 0, std: 1 };
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) * (v - mean);
  const std = Math.sqrt(sq / values.length);
  return { mean, std: std > 1e-12 ? std : 1 };
}

function fitNumeric(name: string, values: unknown[], imputation: 'median' | 'mean', log: boolean): Omit<NumericFeatureState, 'offset'> {
  const present: number[] = [];
  for (const v of values) {
    if (isMissing(v)) continue;
    const n = asNumber(v);
    if (Number.isFinite(n)) present.push(n);
  }
  const raw = Float64Array.from(present).sort();
  const rawStats = meanStd(raw);
  const fill = imputation === 'median' ? quantileSorted(raw, 0.5) : rawStats.mean;
  if (log && raw.length > 0 && raw[0] < 0) throw new InvalidInputError(`feature "${name}" has negative values (${raw[0]}): it cannot be log-transformed`);
  const transform = log ? 'log1p' : 'none';
  const transformed = log ? raw.map(Math.log1p) : raw;
  const { mean, std } = log ? meanStd(transformed) : rawStats;
  const low = transformed.length ? (transformed[0] - mean) / std : 0;
  const high = transformed.length ? (transformed[transformed.length - 1] - mean) / std : 0;
  return {
    name,
    kind: 'numeric',
    transform,
    fill,
    imputation,
    missing_indicator: present.length < values.length,
    mean,
    std,
    clip_low: low - CLIP_MARGIN_SD,
    clip_high: high + CLIP_MARGIN_SD,
  };
}

function fitBoolean(name: string, values: unknown[]): Omit<BooleanFeatureState, 'offset'> {
  let trues = 0;
  let present = 0;
  for (const v of values) {
    const b = isMissing(v) ? undefined : asBoolean(v);
    if (b === undefined) continue;
    present++;
    if (b) trues++;
  }
  return { name, kind: 'boolean', fill: present ? trues / present : 0, missing_indicator: present < values.length };
}

function fitCategorical(name: string, values: unknown[]): Omit<CategoricalFeatureState, 'offset'> {
  const counts = new Map<string, number>();
  for (const v of values) {
    const c = categoryOf(v);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const categories = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, MAX_CATEGORIES)
    .map(([c]) => c)
    .sort();
  return { name, kind: 'categorical', categories };
}

function widthOf(f: DistributiveOmit<FeatureState, 'offset'>): number {
  switch (f.kind) {
    case 'numeric':
    case 'boolean':
      return f.missing_indicator ? 2 : 1;
    case 'categorical':
      return f.categories.length + 1;
  }
}

function namesOf(f: FeatureState): string[] {
  switch (f.kind) {
    case 'numeric':
    case 'boolean':
      return f.missing_indicator ? [f.name, `${f.name}__missing`] : [f.name];
    case 'categorical':
      return [...f.categories.map((c) => `${f.name}=${c}`), `${f.name}=__unknown__`];
  }
}

/** Fits the preprocessing on `rows` (pass the TRAIN split only). */
export function fitPreprocessing(rows: Row[], spec: PreprocessingSpec): PreprocessingState {
  if (rows.length === 0) throw new InvalidInputError('cannot fit preprocessing on zero rows: the train split is empty');
  if (spec.features.length === 0) throw new ConfigInvalidError('cannot fit preprocessing without features');
  const imputation = spec.imputation ?? 'median';
  const categorical = new Set(spec.categorical ?? []);
  const logged = new Set(spec.logTransform ?? []);
  const features: FeatureState[] = [];
  let offset = 0;
  for (const name of spec.features) {
    if (!rows.some((r) => Object.prototype.hasOwnProperty.call(r, name))) {
      throw new ConfigInvalidError(`feature "${name}" is not a column of the training data (columns: ${Object.keys(rows[0]).join(', ')})`);
    }
    const values = rows.map((r) => r[name]);
    // Columns not listed as categorical still become categorical when they hold text.
    const kind = categorical.has(name) ? 'categorical' : inferKind(values);
    const fitted =
      kind === 'categorical' ? fitCategorical(name, values) : kind === 'boolean' ? fitBoolean(name, values) : fitNumeric(name, values, imputation, logged.has(name));
    const feature = { ...fitted, offset } as FeatureState;
    features.push(feature);
    offset += widthOf(fitted);
  }
  return {
    format_version: PREPROCESSING_FORMAT_VERSION,
    features,
    outputDim: offset,
    output_names: features.flatMap(namesOf),
    fitted_rows: rows.length,
  };
}

// Category lookups are rebuilt once per state object, not per row.
const categoryIndexCache = new WeakMap<CategoricalFeatureState, Map<string, number>>();

function categoryIndex(f: CategoricalFeatureState): Map<string, number> {
  let index = categoryIndexCache.get(f);
  if (!index) {
    index = new Map(f.categories.map((c, i) => [c, i]));
    categoryIndexCache.set(f, index);
  }
  return index;
}

/** Writes a numeric feature's column(s) at `at`; `n` is the raw value, not finite when missing. */
export function writeNumericFeature(f: NumericFeatureState, n: number, out: Float32Array, at: number): void {
  const missing = !Number.isFinite(n);
  if (missing) n = f.fill;
  if (f.transform === 'log1p') n = Math.log1p(Math.max(n, 0));
  let z = (n - f.mean) / f.std;
  if (z < f.clip_low) z = f.clip_low;
  else if (z > f.clip_high) z = f.clip_high;
  out[at] = z;
  if (f.missing_indicator) out[at + 1] = missing ? 1 : 0;
}

/** Writes a boolean feature's column(s) at `at`; `b` is undefined when missing. */
export function writeBooleanFeature(f: BooleanFeatureState, b: boolean | undefined, out: Float32Array, at: number): void {
  out[at] = b === undefined ? f.fill : b ? 1 : 0;
  if (f.missing_indicator) out[at + 1] = b === undefined ? 1 : 0;
}

/** The column, counted from the feature's offset, that a categorical value sets to 1 (the last one: unknown). */
export function categoryColumn(f: CategoricalFeatureState, value: unknown): number {
  const categories = categoryIndex(f);
  // Most values are exact category names: look them up before trimming and stringifying.
  const index = (typeof value === 'string' ? categories.get(value) : undefined) ?? categories.get(categoryOf(value));
  return index ?? f.categories.length;
}

function writeRow(state: PreprocessingState, row: Row, out: Float32Array, base: number): void {
  for (const f of state.features) {
    const at = base + f.offset;
    const value = row[f.name];
    switch (f.kind) {
      case 'numeric':
        writeNumericFeature(f, typeof value === 'number' ? value : isMissing(value) ? NaN : asNumber(value), out, at);
        break;
      case 'boolean':
        writeBooleanFeature(f, isMissing(value) ? undefined : asBoolean(value), out, at);
        break;
      case 'categorical':
        out[at + categoryColumn(f, value)] = 1;
        break;
    }
  }
}

/** Transforms rows into a row-major matrix of rows.length x state.outputDim. */
export function transformRows(state: PreprocessingState, rows: Row[]): Float32Array {
  const out = new Float32Array(rows.length * state.outputDim);
  for (let i = 0; i < rows.length; i++) writeRow(state, rows[i], out, i * state.outputDim);
  return out;
}

/** Transforms one row (serving's per-request path). */
export function transformRow(state: PreprocessingState, row: Row): Float32Array {
  const out = new Float32Array(state.outputDim);
  writeRow(state, row, out, 0);
  return out;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * Checks one input row before transformRow: null when it is usable, else a message naming
 * the field and what was expected (serving turns it into a 400 response).
 * Missing keys are errors; explicit nulls (or empty strings) are imputed like missing train values.
 */
export function validateInputRow(state: PreprocessingState, row: unknown): string | null {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    return `each instance must be a JSON object keyed by feature name (${state.features.map((f) => f.name).join(', ')}), found ${describeValue(row)}`;
  }
  const record = row as Row;
  for (const f of state.features) {
    if (!Object.prototype.hasOwnProperty.call(record, f.name)) {
      return `missing feature "${f.name}" (expected a ${f.kind === 'categorical' ? 'string' : f.kind === 'boolean' ? 'boolean' : 'number'}; use null for an unknown value)`;
    }
    const value = record[f.name];
    // The common cases first: a number for a numeric feature, any string for a categorical one.
    if (typeof value === 'number' && f.kind === 'numeric') {
      if (Number.isFinite(value)) continue;
      return Number.isNaN(value) ? `feature "${f.name}" must be a finite number, found NaN` : `feature "${f.name}" must be a finite number, found ${value}`;
    }
    if (typeof value === 'string' && f.kind === 'categorical') continue;
    if (isMissing(value)) continue;
    switch (f.kind) {
      case 'numeric': {
        if (typeof value !== 'number' && typeof value !== 'string') {
          return `feature "${f.name}" must be a number, found ${describeValue(value)}`;
        }
        const n = asNumber(value);
        if (Number.isNaN(n)) {
          return typeof value === 'number'
            ? `feature "${f.name}" must be a finite number, found NaN`
            : `feature "${f.name}" must be a number, found ${describeValue(value)}`;
        }
        if (!Number.isFinite(n)) return `feature "${f.name}" must be a finite number, found ${n}`;
        break;
      }
      case 'boolean':
        if (asBoolean(value) === undefined) return `feature "${f.name}" must be true or false, found ${describeValue(value)}`;
        break;
      case 'categorical':
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          return `feature "${f.name}" must be a string (one of its categories), found ${describeValue(value)}`;
        }
        if (typeof value === 'number' && !Number.isFinite(value)) {
          return `feature "${f.name}" must be a string or a finite number, found ${value}`;
        }
        break;
    }
  }
  return null;
}

/** Checks that a parsed JSON document is a PreprocessingState this code can apply. */
export function assertPreprocessingState(doc: unknown, source: string): PreprocessingState {
  const state = doc as PreprocessingState;
  if (!state || typeof state !== 'object' || state.format_version !== PREPROCESSING_FORMAT_VERSION || !Array.isArray(state.features)) {
    throw new Error(`${source} is not a preprocessing state of format_version ${PREPROCESSING_FORMAT_VERSION}`);
  }
  return state;
}
