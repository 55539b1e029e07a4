import { createModelForward } from '../model/model-forward';
import type { ModelPackage } from '../model/package';
import { transformRows, validateInputRow } from '../model/preprocessing';
import { WRAPPER_KEYS } from './input';
import { createJsonBatchEncoder } from './json-batch';
import type { Prediction, Predictor } from './predictor';

/**
 * A Predictor over a model package: the saved preprocessing, then a lean forward pass over the
 * exported Dense weights (WebAssembly SIMD, about a microsecond a row for a 64-64 MLP; tf's per-call
 * overhead would dominate). MLSTACK_FORWARD=js, read when the predictor is built, forces the JS path.
 */
export function predictorFromPackage(pkg: ModelPackage, version: string): Predictor {
  const { metadata, preprocessing } = pkg;
  const forward = createModelForward(pkg);
  const units = forward.units;
  const features = preprocessing.features.map((f) => f.name);
  const decode = decoder(metadata, units);
  const encodeJson = createJsonBatchEncoder(preprocessing, WRAPPER_KEYS);
  const predictMatrix = (matrix: Float32Array, n: number): Prediction[] => {
    const outputs = forward(matrix, n);
    const predictions: Prediction[] = new Array(n);
    for (let i = 0; i < n; i++) predictions[i] = decode(outputs, i * units);
    return predictions;
  };

  return {
    version,
    features,
    classes: metadata.task === 'regression' ? undefined : metadata.classes,
    validateRow: (row) => validateInputRow(preprocessing, row),
    predict: (rows) => predictMatrix(transformRows(preprocessing, rows), rows.length),
    predictJson(body, maxRows) {
      const batch = encodeJson(body, maxRows);
      return batch && predictMatrix(batch.matrix, batch.rows);
    },
    warmup() {
      // Nulls are imputed, so this row is valid for every package; repeated so the JIT optimises the hot loops.
      const row = Object.fromEntries(features.map((f) => [f, null]));
      const batch = new Array(32).fill(row);
      const body = Buffer.from(JSON.stringify(batch));
      for (let i = 0; i < 50; i++) {
        this.predict(batch);
        this.predictJson?.(body, batch.length);
      }
    },
  };
}

type Decoder = (outputs: Float32Array, at: number) => Prediction;

function decoder(metadata: ModelPackage['metadata'], units: number): Decoder {
  const classes = metadata.classes;
  switch (metadata.task) {
    case 'regression':
      return (out, at) => ({ prediction: out[at] });
    case 'binary': {
      if (classes.length !== 2) throw new Error(`a binary model needs 2 classes in metadata.json, found ${classes.length}`);
      const [negative, positive] = classes;
      const threshold = metadata.threshold ?? 0.5;
      // One sigmoid unit gives P(positive); two softmax units give [P(negative), P(positive)].
      const positiveAt = units === 1 ? 0 : 1;
      return (out, at) => {
        const p = out[at + positiveAt];
        return { prediction: p >= threshold ? positive : negative, probabilities: { [negative]: 1 - p, [positive]: p } };
      };
    }
    case 'multiclass': {
      if (classes.length !== units) throw new Error(`metadata.json lists ${classes.length} classes but the model has ${units} outputs`);
      return (out, at) => {
        let best = 0;
        const probabilities: Record<string, number> = {};
        for (let c = 0; c < units; c++) {
          probabilities[classes[c]] = out[at + c];
          if (out[at + c] > out[at + best]) best = c;
        }
        return { prediction: classes[best], probabilities };
      };
    }
    default:
      throw new Error(`unknown task "${String(metadata.task)}" in metadata.json`);
  }
}
