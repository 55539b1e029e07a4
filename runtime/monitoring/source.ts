/**
 * Reading live data from a store, one record at a time (memory stays flat): CSV objects (a header row),
 * JSONL objects (captured traffic in either format of records.ts, or plain rows). Records older than
 * `since` (by their capture time) are skipped; records without a time are kept.
 */
import { parse as parseCsv } from 'csv-parse';
import * as readline from 'node:readline';
import { NotFoundError } from '../common/errors';
import type { ObjectStore } from '../storage/object-store';
import { recordsOfLine, type CapturedRecord } from './records';

export interface LiveSource {
  store: ObjectStore;
  /** Object keys: .csv files are read as CSV with a header, anything else as JSONL. */
  keys: string[];
}

/** The data objects under a key or prefix: the key itself, or every .csv/.jsonl object under the prefix (not markers such as _SUCCESS.json), sorted. */
export async function liveKeys(store: ObjectStore, keyOrPrefix: string): Promise<string[]> {
  if (keyOrPrefix !== '' && !keyOrPrefix.endsWith('/') && (await store.exists(keyOrPrefix))) return [keyOrPrefix];
  const base = keyOrPrefix === '' || keyOrPrefix.endsWith('/') ? keyOrPrefix : `${keyOrPrefix}/`;
  const keys = (await store.list(base)).map((o) => o.key).filter((k) => /\.(csv|jsonl)$/i.test(k));
  if (keys.length === 0) throw new NotFoundError(`no data at ${store.uri(keyOrPrefix)}: expected a .csv or .jsonl object, or a folder holding some (captured traffic lies under data-capture/)`);
  return keys.sort();
}

async function* csvRecords(store: ObjectStore, key: string): AsyncGenerator<CapturedRecord> {
  const parser = (await store.stream(key)).pipe(parseCsv({ columns: true, skip_empty_lines: true, trim: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    const id = row.request_id ?? row.id;
    yield { id: id === undefined || id === '' ? undefined : id, features: row };
  }
}

async function* jsonlRecords(store: ObjectStore, key: string, features: readonly string[]): AsyncGenerator<CapturedRecord> {
  const lines = readline.createInterface({ input: await store.stream(key), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    yield* recordsOfLine(line, features, `${store.uri(key)} line ${n}`);
  }
}

/** Every record of the source, in key order, skipping those captured before `since`. */
export async function* readLive(source: LiveSource, features: readonly string[], since?: Date): AsyncGenerator<CapturedRecord> {
  const from = since?.getTime();
  for (const key of source.keys) {
    const records = /\.csv$/i.test(key) ? csvRecords(source.store, key) : jsonlRecords(source.store, key, features);
    for await (const r of records) {
      if (from !== undefined && r.time !== undefined && Date.parse(r.time) < from) continue;
      yield r;
    }
  }
}
