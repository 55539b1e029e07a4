import type { IngestionConfig } from '../../config/schema';

/**
 * Duplicate rows within one run, found by a hash of each valid row: its `ingestion.unique_key` columns
 * (FingerprintTable: 53-bit fingerprints in a growing table of doubles, whole-number keys as themselves), or
 * without a key the whole processed row (RowSet: a fixed table of 32-bit checks, inserted in batches). Typed
 * arrays, not a Set, so nothing is boxed and the per-row cost stays a hash and a probe.
 */

/** What the run reports about duplicates (quality report `duplicates`, result `duplicates`). */
export interface DuplicateReport {
  /** The processed columns that identify a row; null: whole processed rows were compared (and kept). */
  unique_key: string[] | null;
  /** Which duplicate of a key was kept (with a key). */
  keep: 'first' | 'last' | null;
  /** Valid rows that repeat an earlier (or, with keep "last", a later) row of the run. */
  found: number;
  /** Of those, rows left out of data.csv: all of them with a key, none without. */
  dropped: number;
  /** False when the run had more distinct rows than the whole-row check holds (it then checks against the first ones only). */
  exact: boolean;
}

/**
 * A set of fingerprints (finite doubles), optionally with a number per fingerprint. Linear probing over a
 * Float64Array whose zero is the empty slot (the fingerprint 0 is kept aside), Fibonacci hashing for the slot,
 * doubling at 3/4 load; `maxSlots` caps its memory, after which unknown fingerprints are no longer added
 * (`saturated`) but known ones are still found.
 */
export class FingerprintTable {
  private keys: Float64Array;
  private values?: Float64Array;
  private mask: number;
  /** 32 - log2(slots): the slot is the top bits of the multiplied hash. */
  private shift: number;
  private hasZero = false;
  private zeroValue = 0;
  size = 0;
  saturated = false;

  constructor(
    withValues: boolean,
    private readonly maxSlots = 2 ** 30,
    initialSlots = Math.min(1 << 16, maxSlots),
  ) {
    this.keys = new Float64Array(initialSlots);
    if (withValues) this.values = new Float64Array(initialSlots);
    this.mask = initialSlots - 1;
    this.shift = 32 - Math.log2(initialSlots);
  }

  /** Slot of `fp` (not 0), or of the empty slot where it would go. */
  private slotOf(fp: number): number {
    const keys = this.keys;
    const mask = this.mask;
    const hi = (fp / TWO_32) | 0;
    let i = Math.imul((fp | 0) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i];
      if (k === fp || k === 0) return i;
      i = (i + 1) & mask;
    }
  }

  /** Adds `fp`; true when it was not there before. */
  add(fp: number): boolean {
    if (fp === 0) {
      if (this.hasZero) return false;
      this.hasZero = true;
      this.size += 1;
      return true;
    }
    let i = this.slotOf(fp);
    if (this.keys[i] === fp) return false;
    const room = this.makeRoom();
    if (room === Room.Full) return true;
    if (room === Room.Grown) i = this.slotOf(fp);
    this.keys[i] = fp;
    this.size += 1;
    return true;
  }

  /** The number stored with `fp`, or undefined. */
  get(fp: number): number | undefined {
    if (fp === 0) return this.hasZero ? this.zeroValue : undefined;
    const i = this.slotOf(fp);
    return this.keys[i] === fp ? this.values![i] : undefined;
  }

  /** Stores `value` with `fp` (adding it, or replacing its value). */
  set(fp: number, value: number): void {
    if (fp === 0) {
      if (!this.hasZero) this.size += 1;
      this.hasZero = true;
      this.zeroValue = value;
      return;
    }
    let i = this.slotOf(fp);
    if (this.keys[i] !== fp) {
      const room = this.makeRoom();
      if (room === Room.Full) return;
      if (room === Room.Grown) i = this.slotOf(fp);
      this.keys[i] = fp;
      this.size += 1;
    }
    this.values![i] = value;
  }

  /** Makes room for one more entry, doubling the table at 3/4 load while under the cap. */
  private makeRoom(): Room {
    const slots = this.keys.length;
    if ((this.size + 1) * 4 <= slots * 3) return Room.Free;
    if (slots * 2 > this.maxSlots) {
      if ((this.size + 1) * 8 <= slots * 7) return Room.Free; // at the cap: fill to 7/8, then stop adding
      this.saturated = true;
      return Room.Full;
    }
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(slots * 2);
    if (oldValues) this.values = new Float64Array(slots * 2);
    this.mask = slots * 2 - 1;
    this.shift -= 1;
    for (let j = 0; j < slots; j += 1) {
      const k = oldKeys[j];
      if (k === 0) continue;
      const i = this.slotOf(k);
      this.keys[i] = k;
      if (oldValues) this.values![i] = oldValues[j];
    }
    return Room.Grown;
  }
}

/** makeRoom's answers. */
const Room = { Free: 0, Grown: 1, Full: 2 } as const;
type Room = (typeof Room)[keyof typeof Room];

const TWO_32 = 4294967296;

const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);

/**
 * A 53-bit fingerprint of `values` at `indexes` (all of them when undefined): two 32-bit multiplicative lanes over
 * each value's type, length and content (strings two characters a step), kept in locals so the loop stays tight.
 */
export function fingerprint(values: readonly unknown[], indexes?: readonly number[]): number {
  hashInto(values, indexes);
  const a = LANES[0];
  // A sign, 20 + 32 bits, plus a half: below 2^52 in size, where doubles still hold halves, so never equal to a
  // whole-number key (nor to 0, the table's empty slot).
  const magnitude = (a >>> 12) * TWO_32 + (LANES[1] >>> 0) + 0.5;
  return a & 0x800 ? -magnitude : magnitude;
}

/** The two finished 32-bit lanes of the last hashInto. */
const LANES = new Int32Array(2);

/** Hashes `values` at `indexes` (all when undefined) into LANES. */
function hashInto(values: readonly unknown[], indexes?: readonly number[]): void {
  let a = 0x811c9dc5 | 0;
  let b = 0x3c6ef372 | 0;
  const count = indexes === undefined ? values.length : indexes.length;
  for (let v = 0; v < count; v += 1) {
    const value = values[indexes === undefined ? v : indexes[v]];
    let k: number;
    if (typeof value === 'string') {
      const n = value.length;
      k = 0x100 + n; // the length keeps ["ab", "c"] and ["a", "bc"] apart
      let i = 0;
      for (; i + 1 < n; i += 2) {
        a = Math.imul(a ^ k, 0x01000193);
        b = Math.imul((b ^ k) + 0x7f4a7c15, 0x5bd1e995);
        k = value.charCodeAt(i) | (value.charCodeAt(i + 1) << 16);
      }
      if (i < n) {
        a = Math.imul(a ^ k, 0x01000193);
        b = Math.imul((b ^ k) + 0x7f4a7c15, 0x5bd1e995);
        k = value.charCodeAt(i) | 0x10000000;
      }
    } else if (typeof value === 'number') {
      if ((value | 0) === value) k = value ^ 0x2d2d2d2d;
      else {
        f64[0] = value;
        a = Math.imul(a ^ i32[0], 0x01000193);
        b = Math.imul((b ^ i32[0]) + 0x7f4a7c15, 0x5bd1e995);
        k = i32[1];
      }
    } else if (value === null || value === undefined) k = 0x6e756c6c;
    else if (typeof value === 'boolean') k = value ? 0x74727565 : 0x66616c73;
    else {
      const text = JSON.stringify(value);
      k = 0x200 + text.length;
      for (let i = 0; i < text.length; i += 1) {
        a = Math.imul(a ^ k, 0x01000193);
        b = Math.imul((b ^ k) + 0x7f4a7c15, 0x5bd1e995);
        k = text.charCodeAt(i);
      }
    }
    a = Math.imul(a ^ k, 0x01000193);
    b = Math.imul((b ^ k) + 0x7f4a7c15, 0x5bd1e995);
  }
  a ^= a >>> 15;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 16;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  LANES[0] = a;
  LANES[1] = b;
}

/** Whole-row duplicates are checked against at most this many slots (16 MB): about 3.7 million distinct rows. */
export const WHOLE_ROW_SLOTS = 1 << 22;

/** Rows hashed before their batch goes into the RowSet table. */
const ROW_BATCH = 4096;

/**
 * The set of whole rows seen, for counting duplicates: a fixed Uint32Array (allocated once, its pages touched only
 * as rows land in them) whose slot comes from one hash lane and whose stored check value is the other, so a false
 * match needs both to agree (54 bits). It never grows; at 7/8 full it stops adding (`saturated`).
 *
 * Rows are hashed as they come and inserted a batch at a time: each insert is a cache miss into a table of many
 * megabytes, and a tight loop of independent inserts lets the CPU wait for several of them at once. Nothing is
 * dropped without a key, so counting a batch late changes no output.
 */
export class RowSet {
  private readonly checks: Uint32Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly limit: number;
  private readonly batch = new Int32Array(2 * ROW_BATCH);
  private batched = 0;
  private found = 0;
  size = 0;
  saturated = false;

  constructor(slots = WHOLE_ROW_SLOTS) {
    this.checks = new Uint32Array(slots);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    this.limit = Math.floor((slots * 7) / 8);
  }

  /** Notes a row (counted as a duplicate, or added, at the next flush). */
  add(values: readonly unknown[]): void {
    hashInto(values);
    const at = 2 * this.batched;
    this.batch[at] = LANES[0];
    this.batch[at + 1] = LANES[1];
    this.batched += 1;
    if (this.batched === ROW_BATCH) this.flush();
  }

  /** Rows seen again so far (flushes the batch). */
  get duplicates(): number {
    this.flush();
    return this.found;
  }

  flush(): void {
    const { checks, mask, shift, batch } = this;
    const n = 2 * this.batched;
    this.batched = 0;
    for (let j = 0; j < n; j += 2) {
      const check = batch[j + 1] >>> 0 || 1; // 0 marks an empty slot
      let i = batch[j] >>> shift;
      for (;;) {
        const c = checks[i];
        if (c === check) {
          this.found += 1;
          break;
        }
        if (c === 0) {
          if (this.size >= this.limit) this.saturated = true;
          else {
            checks[i] = check;
            this.size += 1;
          }
          break;
        }
        i = (i + 1) & mask;
      }
    }
  }
}

/**
 * Finds the duplicates among a run's valid rows. With a key, `keep: "first"` drops a row whose key was seen
 * before; `keep: "last"` needs two passes over the run's rows: `scan` records each key's last row, then
 * `isDropped` keeps only that row. Without a key, whole-row duplicates are counted and kept.
 */
export class Duplicates {
  readonly keyIndexes?: number[];
  private readonly keyNames?: string[];
  readonly keepLast: boolean;
  /** With a key: the keys seen (keep "last": with each key's last row). */
  private readonly table?: FingerprintTable;
  /** Without a key: the whole rows seen. */
  private readonly rows?: RowSet;
  found = 0;
  dropped = 0;

  constructor(config: Pick<IngestionConfig, 'unique_key' | 'keep'>, columns: readonly string[]) {
    const key = config.unique_key === undefined ? undefined : typeof config.unique_key === 'string' ? [config.unique_key] : [...config.unique_key];
    if (key !== undefined) {
      this.keyNames = key;
      this.keyIndexes = key.map((name) => columns.indexOf(name));
    }
    this.keepLast = key !== undefined && config.keep === 'last';
    if (key !== undefined) this.table = new FingerprintTable(this.keepLast);
    else this.rows = new RowSet();
  }

  /** The key's fingerprint, or undefined when a key column is null (such rows are never duplicates). */
  private keyOf(values: readonly unknown[]): number | undefined {
    const indexes = this.keyIndexes!;
    if (indexes.length === 1) {
      const value = values[indexes[0]];
      if (value === null || value === undefined) return undefined;
      // Whole numbers are their own fingerprint: exact, and no hashing for the common id column.
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      return fingerprint(values, indexes);
    }
    for (const i of indexes) if (values[i] === null || values[i] === undefined) return undefined;
    return fingerprint(values, indexes);
  }

  /** First pass of keep "last": remembers `row` as the last valid row of its key. */
  scan(values: readonly unknown[], row: number): void {
    const fp = this.keyOf(values);
    if (fp !== undefined) this.table!.set(fp, row);
  }

  /** Whether valid row number `row` (1-based within the run) stays out of data.csv; counts what it finds. */
  isDropped(values: readonly unknown[], row: number): boolean {
    if (this.keyIndexes === undefined) {
      this.rows!.add(values);
      return false;
    }
    const fp = this.keyOf(values);
    if (fp === undefined) return false;
    const duplicate = this.keepLast ? this.table!.get(fp) !== row : !this.table!.add(fp);
    if (duplicate) {
      this.found += 1;
      this.dropped += 1;
    }
    return duplicate;
  }

  report(): DuplicateReport {
    if (this.rows !== undefined) this.found = this.rows.duplicates;
    return {
      unique_key: this.keyNames ?? null,
      keep: this.keyNames === undefined ? null : this.keepLast ? 'last' : 'first',
      found: this.found,
      dropped: this.dropped,
      exact: !(this.rows?.saturated ?? false),
    };
  }
}
