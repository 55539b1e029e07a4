/**
 * Captured traffic and given data as live records. One line of JSONL is, by its shape:
 *
 *   mlstack capture   {"request_id","time","instances":[{...}],"predictions":[{prediction, probabilities?}]}
 *                     (what runtime/monitoring/capture.ts writes on every cloud): one record per instance,
 *                     id = request_id (or request_id#i when the request held several rows)
 *   SageMaker capture {"captureData":{"endpointInput":{data, encoding, observedContentType},"endpointOutput":{...}},
 *                      "eventMetadata":{"eventId","inferenceTime"}} as data capture writes it: the input's rows
 *                     and the output's predictions, id = eventId (or eventId#i)
 *   a plain row       any other JSON object (a JSONL file given with --data), as are CSV rows
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { InvalidInputError } from '../common/errors';
import type { LiveRecord } from './drift';

export interface CapturedRecord extends LiveRecord {
  /** The request id (with #i for the i-th row of a batch); absent for plain rows without one. */
  id?: string;
  /** When the request was served (ISO 8601), where the capture says. */
  time?: string;
}

/** One captured request as our capture writes it. */
export interface CaptureLine {
  request_id: string;
  time: string;
  model_version: string;
  instances: Record<string, unknown>[];
  predictions: unknown[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idOf(base: string, i: number, n: number): string {
  return n === 1 ? base : `${base}#${i}`;
}

function fromRequest(base: string, time: string | undefined, rows: unknown[], predictions: unknown[]): CapturedRecord[] {
  return rows.map((row, i) => ({ id: idOf(base, i, rows.length), time, features: isObject(row) ? row : {}, prediction: predictions[i] }));
}

function decode(part: Json | undefined, where: string): string {
  if (!part || typeof part.data !== 'string') throw new InvalidInputError(`${where}: a SageMaker capture record without captureData data`);
  return part.encoding === 'BASE64' ? Buffer.from(part.data, 'base64').toString('utf8') : part.data;
}

/** The rows of a captured body: JSON (an array, or wrapped in instances/inputs/data) or CSV lines without a header. */
function rowsOfBody(text: string, contentType: unknown, features: readonly string[]): unknown[] {
  if (typeof contentType === 'string' && /csv/i.test(contentType)) {
    return (parseCsv(text, { relax_column_count: true }) as string[][]).map((cells) => Object.fromEntries(features.map((f, i) => [f, cells[i]])));
  }
  const doc: unknown = JSON.parse(text);
  if (Array.isArray(doc)) return doc;
  if (isObject(doc)) for (const key of ['instances', 'inputs', 'data', 'predictions']) if (Array.isArray(doc[key])) return doc[key] as unknown[];
  return [doc];
}

function fromSageMaker(line: Json, features: readonly string[], where: string): CapturedRecord[] {
  const capture = line.captureData as Json;
  const meta = isObject(line.eventMetadata) ? line.eventMetadata : {};
  const input = capture.endpointInput as Json | undefined;
  const output = capture.endpointOutput as Json | undefined;
  const rows = rowsOfBody(decode(input, where), input?.observedContentType, features);
  const predictions = output ? rowsOfBody(decode(output, where), output.observedContentType, ['prediction']) : [];
  const time = typeof meta.inferenceTime === 'string' ? meta.inferenceTime : undefined;
  return fromRequest(String(meta.eventId ?? meta.inferenceId ?? where), time, rows, predictions);
}

/** The records of one JSONL line; `where` names the file and line for errors. */
export function recordsOfLine(text: string, features: readonly string[], where: string): CapturedRecord[] {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${where}: not valid JSON (${(err as Error).message}); each line must be one JSON object`);
  }
  if (!isObject(line)) throw new InvalidInputError(`${where}: each line must be a JSON object`);
  try {
    if (isObject(line.captureData)) return fromSageMaker(line, features, where);
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`${where}: a SageMaker capture record whose data cannot be read (${(err as Error).message})`);
  }
  if (typeof line.request_id === 'string' && Array.isArray(line.instances)) {
    const predictions = Array.isArray(line.predictions) ? line.predictions : [];
    return fromRequest(line.request_id, typeof line.time === 'string' ? line.time : undefined, line.instances, predictions);
  }
  const id = line.request_id ?? line.id;
  return [{ id: id === undefined ? undefined : String(id), features: line }];
}

/** The prediction as the baseline profiles it: the score of `scoreClass` (binary), the value (regression) or the label. */
export function predictionValue(prediction: unknown, scoreClass: string | null): unknown {
  if (!isObject(prediction)) return prediction;
  const probabilities = prediction.probabilities;
  if (scoreClass !== null && isObject(probabilities) && typeof probabilities[scoreClass] === 'number') return probabilities[scoreClass];
  return prediction.prediction;
}
