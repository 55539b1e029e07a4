import { parse as csvParser } from 'csv-parse';
import { stringify as csvLine } from 'csv-stringify/sync';
import * as readline from 'node:readline';
import { Readable } from 'node:stream';
import { UsageError } from '../common/errors';
import { silentLogger, type Logger } from '../common/logger';
import { openObjectUri } from '../storage/open';
import { csvCell, validateRows, type Row } from './input';
import { InputError, type Prediction, type Predictor } from './predictor';

export const BATCH_FORMATS = ['csv', 'jsonl'] as const;
export type BatchFormat = (typeof BATCH_FORMATS)[number];

export interface BatchOptions {
  predictor: Predictor;
  /** Input object URI or path (CSV with a header row, or JSON Lines). */
  input: string;
  /** Output object URI or path; written atomically when the whole input is done. */
  output: string;
  /** @default inferred from the input's extension (.csv, .jsonl/.ndjson/.json) */
  format?: BatchFormat;
  /** Rows predicted per chunk; memory stays flat at a few chunks whatever the input size. @default 1000 */
  chunkRows?: number;
  logger?: Logger;
}

export interface BatchSummary {
  rows: number;
  /** Rows that could not be predicted; each has its reason in the output's error field. */
  failed: number;
  chunks: number;
  output: string;
}

export function inferFormat(uri: string): BatchFormat {
  const lower = uri.toLowerCase().replace(/\.gz$/, '');
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  throw new UsageError(`cannot tell the format of "${uri}" from its extension: name it .csv or .jsonl, or pass --format`);
}

/**
 * Streams the input through the model in chunks and writes one output line per input line:
 * CSV gets prediction, probability_<class> and error columns appended; JSONL gets the same fields.
 * Extra input columns (ids, the target) are kept in the output and not given to the model.
 */
export async function batchTransform(opts: BatchOptions): Promise<BatchSummary> {
  const { predictor } = opts;
  const logger = opts.logger ?? silentLogger;
  const format = opts.format ?? inferFormat(opts.input);
  const chunkRows = opts.chunkRows ?? 1000;
  const source = await openObjectUri(opts.input);
  const target = await openObjectUri(opts.output);
  const summary: BatchSummary = { rows: 0, failed: 0, chunks: 0, output: target.store.uri(target.key) };
  const input = await source.store.stream(source.key);

  const records: AsyncIterable<Row | BadLine> = format === 'csv' ? csvRecords(input) : jsonlRecords(input);
  let columns: string[] | undefined;
  const classes = predictor.classes ?? [];

  async function* outputLines(): AsyncGenerator<string> {
    for await (const chunk of chunksOf(records, chunkRows)) {
      const results = predictChunk(predictor, chunk);
      summary.chunks++;
      summary.rows += chunk.length;
      let text = '';
      for (let i = 0; i < chunk.length; i++) {
        const item = chunk[i];
        const result = results[i];
        if ('error' in result) summary.failed++;
        if (format === 'jsonl') {
          const base = isBad(item) ? { line: item.line } : item;
          text += JSON.stringify({ ...base, ...result }) + '\n';
        } else {
          if (!columns) {
            columns = isBad(item) ? [] : Object.keys(item);
            text += csvLine([[...columns, 'prediction', ...classes.map((c) => `probability_${c}`), 'error']]);
          }
          const row = isBad(item) ? {} : item;
          const ok = 'prediction' in result ? result : undefined;
          text += csvLine([
            [
              ...columns.map((c) => formatCell(row[c])),
              ok ? ok.prediction : '',
              ...classes.map((c) => (ok?.probabilities?.[c] ?? '') as string | number),
              'error' in result ? result.error : '',
            ],
          ]);
        }
      }
      logger.debug({ rows: summary.rows }, 'batch chunk done');
      yield text;
    }
  }

  await target.store.put(target.key, Readable.from(outputLines()), { contentType: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
  logger.info(summary, 'batch transform done');
  return summary;
}

/** An input line that is not a row (malformed JSON); it still gets an output line with its reason. */
class BadLine {
  constructor(
    readonly line: number,
    readonly bad: string,
  ) {}
}

function isBad(item: Row | BadLine): item is BadLine {
  return item instanceof BadLine;
}

function predictChunk(predictor: Predictor, chunk: (Row | BadLine)[]): (Prediction | { error: string })[] {
  const results: (Prediction | { error: string })[] = new Array(chunk.length);
  const valid: Row[] = [];
  const at: number[] = [];
  chunk.forEach((item, i) => {
    if (isBad(item)) {
      results[i] = { error: item.bad };
      return;
    }
    const row: Row = {};
    for (const f of predictor.features) if (Object.prototype.hasOwnProperty.call(item, f)) row[f] = item[f];
    try {
      validateRows([row], predictor, 1);
      valid.push(row);
      at.push(i);
    } catch (err) {
      results[i] = { error: err instanceof InputError ? err.message.replace(/^row 0: /, '') : String(err) };
    }
  });
  if (valid.length > 0) {
    const predictions = predictor.predict(valid);
    predictions.forEach((p, k) => (results[at[k]] = p));
  }
  return results;
}

async function* chunksOf<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function* csvRecords(input: Readable): AsyncGenerator<Row> {
  const parser = input.pipe(csvParser({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: false }));
  input.on('error', (err) => parser.destroy(err));
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    const row: Row = {};
    for (const key of Object.keys(record)) row[key] = csvCell(record[key]);
    yield row;
  }
}

async function* jsonlRecords(input: Readable): AsyncGenerator<Row | BadLine> {
  let line = 0;
  for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) yield new BadLine(line, `line ${line}: expected a JSON object of features`);
      else yield value as Row;
    } catch (err) {
      yield new BadLine(line, `line ${line}: malformed JSON: ${(err as Error).message}`);
    }
  }
}

function formatCell(value: unknown): string | number | boolean {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : (value as string | number | boolean);
}
