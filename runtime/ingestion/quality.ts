/** Summary statistics for one processed column, kept in constant memory. */
export interface ColumnReport {
  /** Rows (fetched, before validation) where the column was null or missing. */
  nulls_all_rows: number;
  null_share: number;
  /** Non-null values among processed (valid) rows. */
  count: number;
  /** Null values among processed (valid) rows. */
  nulls: number;
  min?: number | string;
  max?: number | string;
  mean?: number;
  distinct: number;
  /** False once the column had too many distinct values to count exactly (HyperLogLog estimate, ~1.6% error). */
  distinct_exact: boolean;
}

const EXACT_LIMIT = 2048;
const HLL_BITS = 12;
const HLL_SIZE = 1 << HLL_BITS;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Final avalanche of FNV-1a, so HyperLogLog's leading bits are well spread. */
function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a with a final avalanche: fast and well spread for HyperLogLog. */
export function hash32(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return avalanche(h);
}

const digits = new Uint8Array(20);

/** hash32(String(n)) for a safe integer, without building the string. */
export function hashSafeInteger(n: number): number {
  let h = FNV_OFFSET;
  if (n < 0) {
    h = Math.imul(h ^ 45 /* - */, FNV_PRIME);
    n = -n;
  }
  let count = 0;
  do {
    digits[count] = 48 + (n % 10);
    count += 1;
    n = Math.floor(n / 10);
  } while (n > 0);
  for (let i = count - 1; i >= 0; i -= 1) h = Math.imul(h ^ digits[i], FNV_PRIME);
  return avalanche(h);
}

/**
 * Exact distinct count up to EXACT_LIMIT values, then a HyperLogLog estimate. A value counts by its text:
 * the number 1 and the string "1" are one value. Numbers skip the string conversion on the hot path.
 */
export class DistinctCounter {
  private exactStrings: Set<string> | null = new Set();
  private exactNumbers: Set<number> | null = new Set();
  private readonly registers = new Uint8Array(HLL_SIZE);

  add(value: string): void {
    if (this.exactStrings) {
      this.exactStrings.add(value);
      if (this.exactStrings.size + this.exactNumbers!.size > EXACT_LIMIT) this.toSketch();
      return;
    }
    this.addHash(hash32(value));
  }

  addNumber(value: number): void {
    if (this.exactNumbers) {
      this.exactNumbers.add(value === 0 ? 0 : value); // -0 and 0 print alike
      if (this.exactStrings!.size + this.exactNumbers.size > EXACT_LIMIT) this.toSketch();
      return;
    }
    this.addHash(Number.isSafeInteger(value) ? hashSafeInteger(value) : hash32(String(value)));
  }

  private toSketch(): void {
    for (const v of this.exactStrings!) this.addHash(hash32(v));
    for (const v of this.exactNumbers!) this.addHash(hash32(String(v)));
    this.exactStrings = null;
    this.exactNumbers = null;
  }

  private addHash(h: number): void {
    const index = h >>> (32 - HLL_BITS);
    const rest = (h << HLL_BITS) >>> 0;
    const rank = rest === 0 ? 32 - HLL_BITS + 1 : Math.clz32(rest) + 1;
    if (rank > this.registers[index]) this.registers[index] = rank;
  }

  get isExact(): boolean {
    return this.exactStrings !== null;
  }

  count(): number {
    if (this.exactStrings && this.exactNumbers) {
      if (this.exactNumbers.size === 0 || this.exactStrings.size === 0) return this.exactStrings.size + this.exactNumbers.size;
      const union = new Set(this.exactStrings);
      for (const v of this.exactNumbers) union.add(String(v));
      return union.size;
    }
    let sum = 0;
    let zeros = 0;
    for (const r of this.registers) {
      sum += 2 ** -r;
      if (r === 0) zeros += 1;
    }
    const alpha = 0.7213 / (1 + 1.079 / HLL_SIZE);
    const estimate = (alpha * HLL_SIZE * HLL_SIZE) / sum;
    if (estimate <= 2.5 * HLL_SIZE && zeros > 0) return Math.round(HLL_SIZE * Math.log(HLL_SIZE / zeros));
    return Math.round(estimate);
  }
}

export class ColumnStats {
  nullsAllRows = 0;
  count = 0;
  nulls = 0;
  private numericCount = 0;
  private sum = 0;
  private min?: number | string;
  private max?: number | string;
  private readonly distinct = new DistinctCounter();

  /** Records a value of a valid (processed) row. */
  add(value: unknown): void {
    if (value === null || value === undefined) {
      this.nulls += 1;
      return;
    }
    this.count += 1;
    if (typeof value === 'number') {
      this.numericCount += 1;
      this.sum += value;
      if (this.min === undefined || (typeof this.min === 'number' && value < this.min)) this.min = value;
      if (this.max === undefined || (typeof this.max === 'number' && value > this.max)) this.max = value;
      this.distinct.addNumber(value);
      return;
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (this.numericCount === 0) {
      if (this.min === undefined || text < (this.min as string)) this.min = text;
      if (this.max === undefined || text > (this.max as string)) this.max = text;
    }
    this.distinct.add(text);
  }

  report(fetchedRows: number): ColumnReport {
    const numeric = this.numericCount > 0 && this.numericCount === this.count;
    return {
      nulls_all_rows: this.nullsAllRows,
      null_share: fetchedRows === 0 ? 0 : this.nullsAllRows / fetchedRows,
      count: this.count,
      nulls: this.nulls,
      ...(this.count > 0 && (numeric || this.numericCount === 0) ? { min: this.min, max: this.max } : {}),
      ...(numeric ? { mean: this.sum / this.numericCount } : {}),
      distinct: this.distinct.count(),
      distinct_exact: this.distinct.isExact,
    };
  }
}
