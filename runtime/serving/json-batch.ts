/**
 * The fast path for JSON predict bodies: one pass over the body's bytes that writes the model's
 * input matrix directly: no decoded text, no parsed objects, no separate validation or transform.
 *
 * It takes only the plain shape: `{"instances"|"inputs"|"data": [rows]}`, `[rows]` or one row,
 * where a row is an object holding every feature exactly once and each value is a JSON number
 * (numeric feature), a string without escapes (categorical), true/false (boolean) or null.
 * For anything else it answers undefined, and the server takes the general path (decode, JSON.parse,
 * validateRows, transformRows), which either accepts the body with the same matrix or names the
 * problem in a 4xx. So this path never changes an answer, only how soon it comes:
 * test/serving/json-batch.test.ts checks that against the general path by property.
 *
 * Bytes, not a decoded string, because on these machines a charCodeAt loop costs over twice what a
 * Uint8Array loop does (bench/serve-input.ts measures the paths). JSON's structure is ASCII, so quotes,
 * brackets and digits are found on bytes alike; texts are matched as UTF-8 bytes.
 */
import {
  categoryColumn,
  writeBooleanFeature,
  writeNumericFeature,
  type FeatureState,
  type PreprocessingState,
} from '../model/preprocessing';

export interface EncodedBatch {
  /** Rows encoded. */
  rows: number;
  /** rows x outputDim, row-major; owned by the encoder and valid until its next call. */
  matrix: Float32Array;
}

export type JsonBatchEncoder = (body: Uint8Array, maxRows: number) => EncodedBatch | undefined;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const LOWER_N = 0x6e;
const LOWER_T = 0x74;
const LOWER_F = 0x66;
const INITIAL_ROWS = 128;
/**
 * A decimal with at most this many significant digits and a power of ten within ±MAX_EXACT_POWER is
 * mantissa x or / 10^k with both operands exact doubles, so one IEEE operation rounds it correctly,
 * as JSON.parse does. Anything longer goes through Number().
 */
const MAX_EXACT_DIGITS = 15;
const MAX_EXACT_POWER = 22;
const POWERS_OF_TEN = Float64Array.from({ length: MAX_EXACT_POWER + 1 }, (_, k) => 10 ** k);
/** Hashes stay non-negative small integers. */
const HASH_MASK = 0x3fffffff;

/** Text that JSON writes only with escapes: such a feature or category name disables the fast path. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
const isWellFormed = (text: string): boolean => Buffer.from(text, 'utf8').toString('utf8') === text;

/**
 * Builds the encoder for one preprocessing state. `wrapperKeys` are the keys that may wrap the row
 * array (the general path's, so both agree). The encoder always declines when a feature or category
 * name needs escaping in JSON or is not well-formed Unicode, or when a feature is named like a wrapper key.
 */
export function createJsonBatchEncoder(state: PreprocessingState, wrapperKeys: readonly string[]): JsonBatchEncoder {
  const features = state.features;
  const names = features.map((f) => f.name);
  const texts = [...names, ...features.flatMap((f) => (f.kind === 'categorical' ? f.categories : []))];
  if (texts.some((t) => NEEDS_ESCAPE.test(t) || !isWellFormed(t)) || names.some((n) => wrapperKeys.includes(n))) return () => undefined;
  return new Scanner(state, new TextTable(wrapperKeys)).encode;
}

const EMPTY = new Uint8Array(0);

class Scanner {
  private b: Uint8Array = EMPTY;
  private p = 0;
  private rowsSeen = 0;
  private matrix: Float32Array;
  private capacity = INITIAL_ROWS;
  /** The hash of the last string stringEnd scanned. */
  private hash = 0;
  /** Counts rows over every call, so a stamp is never reused. */
  private stamp = 0;
  private readonly dim: number;
  private readonly features: FeatureState[];
  private readonly names: TextTable;
  private readonly nameBytes: Uint8Array[];
  private readonly categories: (TextTable | undefined)[];
  /** Per feature, the stamp of the row it was last seen in: finds duplicate keys without clearing per row. */
  private readonly seenIn: Float64Array;

  constructor(
    state: PreprocessingState,
    private readonly wrapperKeys: TextTable,
  ) {
    this.features = state.features;
    this.dim = state.outputDim;
    this.matrix = new Float32Array(this.capacity * this.dim);
    this.names = new TextTable(this.features.map((f) => f.name));
    this.nameBytes = this.features.map((f) => new Uint8Array(Buffer.from(f.name, 'utf8')));
    this.categories = this.features.map((f) => (f.kind === 'categorical' ? new TextTable(f.categories) : undefined));
    this.seenIn = new Float64Array(this.features.length).fill(-1);
  }

  readonly encode = (body: Uint8Array, maxRows: number): EncodedBatch | undefined => {
    this.b = body;
    this.p = 0;
    this.rowsSeen = 0;
    try {
      return this.document(maxRows) ? { rows: this.rowsSeen, matrix: this.matrix } : undefined;
    } finally {
      this.b = EMPTY;
    }
  };

  private document(maxRows: number): boolean {
    const c = this.peek();
    if (c === OPEN_BRACKET) {
      if (!this.rowArray(maxRows)) return false;
    } else if (c === OPEN_BRACE) {
      const start = this.p;
      this.p++;
      if (this.peek() === QUOTE && this.isWrapperKey()) {
        if (this.peek() !== COLON) return false;
        this.p++;
        if (this.peek() !== OPEN_BRACKET || !this.rowArray(maxRows) || this.peek() !== CLOSE_BRACE) return false;
        this.p++;
      } else {
        this.p = start;
        if (maxRows < 1 || !this.row()) return false;
      }
    } else {
      return false;
    }
    return this.peek() === -1;
  }

  private isWrapperKey(): boolean {
    const start = this.p + 1;
    const end = this.stringEnd();
    return end >= 0 && this.wrapperKeys.find(this.b, start, end, this.hash) >= 0;
  }

  /** `[row, row, ...]` with at least one and at most maxRows rows; p is at the `[`. */
  private rowArray(maxRows: number): boolean {
    this.p++;
    if (this.peek() === CLOSE_BRACKET) return false;
    for (;;) {
      if (this.rowsSeen >= maxRows || !this.row()) return false;
      const c = this.peek();
      this.p++;
      if (c === CLOSE_BRACKET) return true;
      if (c !== COMMA) return false;
    }
  }

  /** One row object, written into the matrix; p is at (or at whitespace before) the `{`. */
  private row(): boolean {
    if (this.peek() !== OPEN_BRACE) return false;
    this.p++;
    const index = this.rowsSeen;
    if (index === this.capacity) this.grow();
    const base = index * this.dim;
    this.matrix.fill(0, base, base + this.dim);
    const stamp = ++this.stamp;
    const features = this.features;
    let present = 0;
    let expected = 0;
    if (this.peek() === CLOSE_BRACE) return false;
    for (;;) {
      if (this.peek() !== QUOTE) return false;
      const fi = this.featureKey(expected);
      if (fi < 0 || this.seenIn[fi] === stamp) return false;
      this.seenIn[fi] = stamp;
      present++;
      expected = fi + 1 === features.length ? 0 : fi + 1;
      if (this.peek() !== COLON) return false;
      this.p++;
      const f = features[fi];
      if (!this.value(f, fi, base + f.offset)) return false;
      const c = this.peek();
      this.p++;
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) return false;
    }
    if (present !== features.length) return false;
    this.rowsSeen = index + 1;
    return true;
  }

  /** A feature's value: writes its columns at `at`, or declines. */
  private value(f: FeatureState, fi: number, at: number): boolean {
    const c = this.peek();
    if (c === LOWER_N) {
      if (!this.literal('null')) return false;
      if (f.kind === 'numeric') writeNumericFeature(f, NaN, this.matrix, at);
      else if (f.kind === 'boolean') writeBooleanFeature(f, undefined, this.matrix, at);
      else this.matrix[at + categoryColumn(f, null)] = 1;
      return true;
    }
    switch (f.kind) {
      case 'numeric': {
        if (c !== MINUS && !isDigit(c)) return false;
        const n = this.number();
        if (!Number.isFinite(n)) return false;
        writeNumericFeature(f, n, this.matrix, at);
        return true;
      }
      case 'categorical': {
        if (c !== QUOTE) return false;
        const start = this.p + 1;
        const end = this.stringEnd();
        if (end < 0) return false;
        const known = (this.categories[fi] as TextTable).find(this.b, start, end, this.hash);
        // Anything but an exact name (padded, unknown) gets the general path's own lookup.
        this.matrix[at + (known >= 0 ? known : categoryColumn(f, Buffer.from(this.b.buffer, this.b.byteOffset + start, end - start).toString('utf8')))] = 1;
        return true;
      }
      case 'boolean': {
        if (c === LOWER_T && this.literal('true')) writeBooleanFeature(f, true, this.matrix, at);
        else if (c === LOWER_F && this.literal('false')) writeBooleanFeature(f, false, this.matrix, at);
        else return false;
        return true;
      }
    }
  }

  /** Whether `word` (ASCII) is next; p moves past it when it is. */
  private literal(word: string): boolean {
    const b = this.b;
    const p = this.p;
    if (p + word.length > b.length) return false;
    for (let k = 0; k < word.length; k++) if (b[p + k] !== word.charCodeAt(k)) return false;
    this.p = p + word.length;
    return true;
  }

  /**
   * The feature a key names, or -1; p is at the opening quote and ends past the closing one.
   * Clients mostly send features in one order, so the feature after the last one is tried first,
   * in one compare, before the general lookup.
   */
  private featureKey(expected: number): number {
    const b = this.b;
    const start = this.p + 1;
    const name = this.nameBytes[expected];
    const end = start + name.length;
    if (end < b.length && b[end] === QUOTE) {
      let k = 0;
      while (k < name.length && b[start + k] === name[k]) k++;
      if (k === name.length) {
        this.p = end + 1;
        return expected;
      }
    }
    const close = this.stringEnd();
    return close < 0 ? -1 : this.names.find(b, start, close, this.hash);
  }

  /**
   * Finds the closing quote of a string without escapes or control characters, hashing its bytes on
   * the way into `hash`; p is at the opening quote and ends past the closing one. Returns the closing
   * quote's index, or -1 for a string this path does not take.
   */
  private stringEnd(): number {
    const b = this.b;
    let h = 0;
    for (let i = this.p + 1; i < b.length; i++) {
      const c = b[i];
      if (c === QUOTE) {
        this.p = i + 1;
        this.hash = h;
        return i;
      }
      if (c === BACKSLASH || c < 0x20) return -1;
      h = (Math.imul(h, 31) + c) & HASH_MASK;
    }
    return -1;
  }

  /** A number (NaN when it is not one in JSON's grammar); p is at its first byte and ends past it. */
  private number(): number {
    const n = readJsonNumber(this.b, this.p);
    this.p = numberEnd;
    return n;
  }

  /** The next non-whitespace byte, with p moved to it; -1 at the end of the body. */
  private peek(): number {
    const b = this.b;
    let p = this.p;
    while (p < b.length) {
      const c = b[p];
      if (!isSpace(c)) {
        this.p = p;
        return c;
      }
      p++;
    }
    this.p = p;
    return -1;
  }

  private grow(): void {
    const bigger = new Float32Array(this.capacity * 2 * this.dim);
    bigger.set(this.matrix);
    this.matrix = bigger;
    this.capacity *= 2;
  }
}

/** Where the last readJsonNumber stopped (a module variable, so reading a number allocates nothing). */
let numberEnd = 0;

/**
 * The number in strict JSON grammar that starts at b[start], as JSON.parse reads it, with numberEnd
 * set past it; NaN when the bytes there are not one (leading zeros, a bare sign or dot, ...).
 */
function readJsonNumber(b: Uint8Array, start: number): number {
  let i = start;
  let c = b[i];
  const negative = c === MINUS;
  if (negative) c = b[++i];
  let mantissa = 0;
  let digits = 0;
  if (c === ZERO) {
    c = b[++i];
    if (isDigit(c)) return NaN;
  } else if (isDigit(c)) {
    do {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      c = b[++i];
    } while (isDigit(c));
  } else {
    return NaN;
  }
  let power = 0;
  if (c === DOT) {
    c = b[++i];
    if (!isDigit(c)) return NaN;
    do {
      if (mantissa !== 0 || c !== ZERO) digits++;
      mantissa = mantissa * 10 + (c - ZERO);
      power--;
      c = b[++i];
    } while (isDigit(c));
  }
  if (c === LOWER_E || c === UPPER_E) {
    c = b[++i];
    const negativeExponent = c === MINUS;
    if (c === PLUS || c === MINUS) c = b[++i];
    if (!isDigit(c)) return NaN;
    let exponent = 0;
    do {
      if (exponent < 1e6) exponent = exponent * 10 + (c - ZERO);
      c = b[++i];
    } while (isDigit(c));
    power += negativeExponent ? -exponent : exponent;
  }
  numberEnd = i;
  if (digits <= MAX_EXACT_DIGITS && power >= -MAX_EXACT_POWER && power <= MAX_EXACT_POWER) {
    const magnitude = power >= 0 ? mantissa * POWERS_OF_TEN[power] : mantissa / POWERS_OF_TEN[-power];
    return negative ? -magnitude : magnitude;
  }
  return Number(Buffer.from(b.buffer, b.byteOffset + start, i - start).toString('latin1'));
}

/** A whole text read as one JSON number by this path (NaN when it is not exactly one); for tests. */
export function jsonNumber(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  const n = readJsonNumber(bytes, 0);
  return numberEnd === bytes.length ? n : NaN;
}

/**
 * Exact lookup of a run of the body's bytes among known texts (as UTF-8), by the hash stringEnd
 * computes and a byte compare, so the common case makes no string. An open-addressing table of
 * typed arrays: a Map keyed by number costs several times more per lookup here.
 */
class TextTable {
  private readonly bytes: Uint8Array[];
  /** slot -> hash of the text there; slot -> index + 1 of the text there (0: empty slot). */
  private readonly hashes: Int32Array;
  private readonly indexes: Int32Array;
  private readonly mask: number;

  constructor(texts: readonly string[]) {
    this.bytes = texts.map((t) => new Uint8Array(Buffer.from(t, 'utf8')));
    let size = 8;
    while (size < texts.length * 2) size *= 2;
    this.mask = size - 1;
    this.hashes = new Int32Array(size);
    this.indexes = new Int32Array(size);
    this.bytes.forEach((bytes, i) => {
      const h = hashBytes(bytes);
      let slot = h & this.mask;
      while (this.indexes[slot] !== 0) slot = (slot + 1) & this.mask;
      this.hashes[slot] = h;
      this.indexes[slot] = i + 1;
    });
  }

  /** The index of the text whose bytes equal b[start, end), whose hash is `hash`; -1 when none does. */
  find(b: Uint8Array, start: number, end: number, hash: number): number {
    const length = end - start;
    for (let slot = hash & this.mask; this.indexes[slot] !== 0; slot = (slot + 1) & this.mask) {
      if (this.hashes[slot] !== hash) continue;
      const i = this.indexes[slot] - 1;
      const bytes = this.bytes[i];
      if (bytes.length !== length) continue;
      let k = 0;
      while (k < length && b[start + k] === bytes[k]) k++;
      if (k === length) return i;
    }
    return -1;
  }
}

function hashBytes(bytes: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, 31) + bytes[i]) & HASH_MASK;
  return h;
}
