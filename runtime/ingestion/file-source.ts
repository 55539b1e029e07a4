import { parse } from 'csv-parse';
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { ObjectStore } from '../storage/object-store';
import type { IngestionSource, ReadStart, SourcePage, SourceRecord } from './types';

export type FileFormat = 'csv' | 'jsonl';

/** Picks the format from the key's extension (.csv, .jsonl, .ndjson; optionally before .gz is not supported). */
export function fileFormatOf(key: string): FileFormat {
  const lower = key.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  throw new Error(`cannot tell the format of "${key}": name a .csv, .jsonl or .ndjson file`);
}

export interface FileSourceOptions {
  store: ObjectStore;
  key: string;
  /** Rows per page (each page is a checkpoint). */
  pageRows: number;
  delimiter?: string;
  declaredFields?: readonly string[];
}

/**
 * A CSV (header row, values trimmed) or JSONL object read as a stream from any ObjectStore.
 * Resuming skips `position.offset` records; invalid JSONL lines come through as their text
 * (a string record), so processing quarantines them instead of the read failing.
 */
export class FileSource implements IngestionSource {
  readonly description: string;
  readonly declaredFields?: readonly string[];
  readonly format: FileFormat;
  private header?: string[];

  constructor(private readonly options: FileSourceOptions) {
    this.format = fileFormatOf(options.key);
    this.description = options.store.uri(options.key);
    this.declaredFields = options.declaredFields;
  }

  fieldNames(): readonly string[] | undefined {
    return this.declaredFields ?? this.header;
  }

  async *pages(start: ReadStart): AsyncIterable<SourcePage> {
    const input = await this.options.store.stream(this.options.key);
    const records = this.format === 'csv' ? this.csvRecords(input) : jsonlRecords(input);
    const skip = start.position.offset ?? 0;
    let offset = 0;
    let batch: SourceRecord[] = [];
    try {
      for await (const record of records) {
        offset += 1;
        if (offset <= skip) continue;
        batch.push(record);
        if (batch.length >= this.options.pageRows) {
          yield { records: batch, next: { offset } };
          batch = [];
        }
      }
      yield { records: batch, next: { offset } };
    } finally {
      input.destroy();
    }
  }

  private async *csvRecords(input: Readable): AsyncIterable<SourceRecord> {
    const parser = input.pipe(
      parse({
        columns: (header: string[]) => {
          this.header = header.map((h) => h.trim());
          return this.header;
        },
        delimiter: this.options.delimiter ?? ',',
        trim: true,
        relax_column_count: true,
        skip_empty_lines: true,
        bom: true,
      }),
    );
    input.once('error', (err) => parser.destroy(err));
    yield* parser as AsyncIterable<SourceRecord>;
  }
}

async function* jsonlRecords(input: Readable): AsyncIterable<SourceRecord> {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line);
    } catch {
      yield line;
    }
  }
}
