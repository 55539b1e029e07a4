import type { Prediction } from './predictor';

/**
 * The predict response body, byte for byte what JSON.stringify gives for
 * `{ predictions: [{ ...p, model_version }], model_version }`, built by concatenation: class labels and
 * probability keys repeat on every row, so their JSON is computed once, and no object is made per row.
 * For 100 rows this is several times faster than the spread + JSON.stringify it replaces.
 */
export function predictionsBody(predictions: readonly Prediction[], version: string): string {
  const versionJson = jsonString(version);
  let out = '{"predictions":[';
  for (let i = 0; i < predictions.length; i++) {
    const p = predictions[i];
    if (i > 0) out += ',';
    out += '{"prediction":';
    out += typeof p.prediction === 'string' ? jsonString(p.prediction) : jsonNumber(p.prediction);
    if (p.probabilities !== undefined) {
      out += ',"probabilities":{';
      let first = true;
      for (const key in p.probabilities) {
        if (!first) out += ',';
        first = false;
        out += jsonString(key);
        out += ':';
        out += jsonNumber(p.probabilities[key]);
      }
      out += '}';
    }
    out += ',"model_version":';
    out += versionJson;
    out += '}';
  }
  out += '],"model_version":';
  out += versionJson;
  out += '}';
  return out;
}

const stringCache = new Map<string, string>();

function jsonString(text: string): string {
  let json = stringCache.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    // Labels and versions are few; a cap keeps free-form regression outputs or odd keys from growing it.
    if (stringCache.size < 10_000) stringCache.set(text, json);
  }
  return json;
}

/** JSON.stringify's rendering of a number: NaN and ±Infinity become null. */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}
