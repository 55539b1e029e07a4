/**
 * Request-input benchmark: what serving spends turning a JSON predict body into the model's input
 * matrix, on the general path (decode, JSON.parse, validateRows, transformRows) beside the fast
 * path (runtime/serving/json-batch.ts: one pass over the bytes), with preprocessing fitted on adult.csv
 * and bodies of its first rows. Also times a bare loop over the body as a string (charCodeAt) and as
 * bytes, the fact the fast path's design rests on.
 *
 *   node bin/run-ts.js bench/serve-input.ts [--samples 15] [--data ../shared/data/adult.csv]
 *
 * Prints median microseconds per body for 1 row and 100 rows, and the ratio general/fast.
 */
import { parse } from 'csv-parse/sync';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { csvCell, parseJsonRows, validateRows, WRAPPER_KEYS } from '../runtime/serving/input';
import { createJsonBatchEncoder } from '../runtime/serving/json-batch';
import { fitPreprocessing, transformRows, validateInputRow } from '../runtime/model/preprocessing';
import { microsPerCall } from './lib/stats';

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const SAMPLES = Number(flag('--samples') ?? 15);
const DATA = path.resolve(flag('--data') ?? path.join(__dirname, '..', '..', 'shared', 'data', 'adult.csv'));
const TARGET = 'income';

function sumCodes(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum += text.charCodeAt(i);
  return sum;
}

function sumBytes(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i];
  return sum;
}

function main(): void {
  if (!fs.existsSync(DATA)) throw new Error(`adult.csv not found at ${DATA}: pass --data <path>`);
  const records = parse(fs.readFileSync(DATA, 'utf8'), { columns: true, trim: true }) as Record<string, string>[];
  const rows = records.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, csvCell(v)])));
  const features = Object.keys(rows[0]).filter((c) => c !== TARGET);
  const state = fitPreprocessing(rows, { features });
  const inputs = rows.map((r) => Object.fromEntries(features.map((k) => [k, r[k]])));
  const encode = createJsonBatchEncoder(state, WRAPPER_KEYS);
  const validator = { features, validateRow: (row: Record<string, unknown>) => validateInputRow(state, row) };
  const general = (body: Buffer): Float32Array => {
    const parsed = parseJsonRows(body.toString('utf8'), features);
    validateRows(parsed, validator, 1000);
    return transformRows(state, parsed);
  };

  console.log(`adult.csv: ${features.length} features -> ${state.outputDim} inputs; median of ${SAMPLES} samples`);
  for (const n of [1, 100]) {
    const body = Buffer.from(n === 1 ? JSON.stringify(inputs[0]) : JSON.stringify({ instances: inputs.slice(0, n) }));
    const fast = encode(body, 1000);
    const reference = general(body);
    if (!fast || fast.rows !== n || reference.some((v, i) => !Object.is(v, fast.matrix[i]))) throw new Error(`the fast path does not give the general path's matrix for ${n} rows`);
    const generalUs = microsPerCall(() => general(body), SAMPLES);
    const fastUs = microsPerCall(() => encode(body, 1000), SAMPLES);
    const label = `${n} row${n === 1 ? '' : 's'} (${body.length} bytes)`.padEnd(24);
    console.log(`${label} general ${generalUs.toFixed(2).padStart(8)} us   fast ${fastUs.toFixed(2).padStart(8)} us   general/fast ${(generalUs / fastUs).toFixed(1)}x`);
  }
  const body = Buffer.from(JSON.stringify({ instances: inputs.slice(0, 100) }));
  const text = body.toString('utf8');
  let sink = 0;
  const stringUs = microsPerCall(() => (sink += sumCodes(text)), SAMPLES);
  const bytesUs = microsPerCall(() => (sink += sumBytes(body)), SAMPLES);
  console.log(`bare loop over the 100-row body: string ${stringUs.toFixed(2)} us, bytes ${bytesUs.toFixed(2)} us (${(stringUs / bytesUs).toFixed(1)}x)${sink === 0 ? ' ' : ''}`);
}

main();
