import { parse } from 'csv-parse';
import type { ObjectStore } from '../storage/object-store';

/**
 * The first `count` complete rows of a processed CSV, reduced to the model's
 * features and typed the way a client would send them (numbers as numbers).
 */
export async function sampleFeatureRows(
  store: ObjectStore,
  key: string,
  features: readonly string[],
  count: number,
): Promise<Record<string, unknown>[]> {
  const source = await store.stream(key);
  const parser = source.pipe(parse({ columns: true, cast: true, skip_empty_lines: true }));
  const rows: Record<string, unknown>[] = [];
  try {
    for await (const record of parser as AsyncIterable<Record<string, unknown>>) {
      const row: Record<string, unknown> = {};
      let complete = true;
      for (const f of features) {
        const value = record[f];
        if (value === undefined || value === null || value === '') complete = false;
        row[f] = value;
      }
      if (complete) rows.push(row);
      if (rows.length >= count) break;
    }
  } finally {
    parser.destroy();
    source.destroy();
  }
  return rows;
}
