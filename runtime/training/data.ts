/** Training data: processed CSV objects -> rows, a content hash, seeded stratified splits. */
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import type { ObjectStore } from '../storage/object-store';
import { seededRandom } from '../common/random';
import { InvalidInputError, NotFoundError } from '../common/errors';

export { seededRandom };

export type Row = Record<string, string>;

export interface LoadedData {
  rows: Row[];
  columns: string[];
  /** sha256 over the objects' bytes in key order: the data lineage of a model. */
  dataHash: string;
}

/** Reads and concatenates CSV objects (all must share the header). */
export async function loadCsvRows(store: ObjectStore, keys: string[]): Promise<LoadedData> {
  if (keys.length === 0) throw new NotFoundError('no training data: pass at least one processed CSV object');
  const hash = createHash('sha256');
  const rows: Row[] = [];
  let columns: string[] | undefined;
  for (const key of [...keys].sort()) {
    const body = await store.get(key);
    hash.update(key.split('/').pop() ?? key).update('\0').update(body);
    let parsed: Row[];
    try {
      parsed = parse(body, { columns: true, skip_empty_lines: true, bom: true, trim: true }) as Row[];
    } catch (err) {
      throw new InvalidInputError(`${store.uri(key)} is not a valid CSV file: ${(err as Error).message}`);
    }
    const header = parsed.length ? Object.keys(parsed[0]) : [];
    if (columns && header.length && header.join(',') !== columns.join(',')) {
      throw new InvalidInputError(`${store.uri(key)} has columns [${header.join(', ')}], but earlier files have [${columns.join(', ')}]`);
    }
    columns = columns ?? (header.length ? header : undefined);
    for (const r of parsed) rows.push(r);
  }
  if (rows.length === 0) throw new InvalidInputError(`no rows in ${keys.map((k) => store.uri(k)).join(', ')}`);
  return { rows, columns: columns ?? [], dataHash: hash.digest('hex') };
}

/** Lists the CSV objects under a prefix, or returns the key itself when it names one object. */
export async function resolveCsvKeys(store: ObjectStore, keyOrPrefix: string): Promise<string[]> {
  if (/\.csv$/i.test(keyOrPrefix) && (await store.exists(keyOrPrefix))) return [keyOrPrefix];
  const prefix = keyOrPrefix === '' || keyOrPrefix.endsWith('/') ? keyOrPrefix : `${keyOrPrefix}/`;
  const keys = (await store.list(prefix)).map((o) => o.key).filter((k) => /\.csv$/i.test(k));
  if (keys.length === 0) throw new NotFoundError(`no .csv objects at ${keyOrPrefix ? store.uri(keyOrPrefix) : store.root}: point --data at a CSV file or a folder of CSV files`);
  return keys;
}

export function shuffledIndices(n: number, random: () => number): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

/**
 * Splits indices 0..n-1 into a first part of ~`fraction` and the rest. With `strata`
 * (one label per index) each label is split in the same proportion.
 */
export function splitIndices(n: number, fraction: number, seed: number, strata?: ArrayLike<number>): { first: number[]; second: number[] } {
  const random = seededRandom(seed);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = strata ? strata[i] : 0;
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(i);
  }
  const first: number[] = [];
  const second: number[] = [];
  for (const g of [...groups.keys()].sort((a, b) => a - b)) {
    const members = groups.get(g) as number[];
    const order = shuffledIndices(members.length, random);
    const cut = Math.round(members.length * fraction);
    for (let k = 0; k < members.length; k++) (k < cut ? first : second).push(members[order[k]]);
  }
  first.sort((a, b) => a - b);
  second.sort((a, b) => a - b);
  return { first, second };
}

/** A stable hash of a JSON value (keys sorted), for config lineage. */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
