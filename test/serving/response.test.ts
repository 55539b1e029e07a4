import fc from 'fast-check';
import { predictionsBody } from '../../runtime/serving/response';
import type { Prediction } from '../../runtime/serving/predictor';

const generic = (predictions: Prediction[], version: string): string =>
  JSON.stringify({ predictions: predictions.map((p) => ({ ...p, model_version: version })), model_version: version });

describe('predictionsBody', () => {
  it('is byte for byte what JSON.stringify gives for every prediction shape', () => {
    const number = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 5e-324));
    const label = fc.oneof(fc.string(), fc.constantFrom('<=50K', '>50K', 'a "quoted" \\ label', 'line\nbreak', '\u2028', '\ud800'));
    const prediction: fc.Arbitrary<Prediction> = fc.oneof(
      fc.record({ prediction: number }),
      fc.record({ prediction: label, probabilities: fc.dictionary(label, number, { maxKeys: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(prediction, { maxLength: 20 }), label, (predictions, version) => {
        expect(predictionsBody(predictions, version)).toBe(generic(predictions, version));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the class order of the probabilities and renders a binary batch', () => {
    const predictions: Prediction[] = [
      { prediction: '>50K', probabilities: { '<=50K': 0.25, '>50K': 0.75 } },
      { prediction: '<=50K', probabilities: { '<=50K': 0.875, '>50K': 0.125 } },
    ];
    expect(predictionsBody(predictions, 'v7')).toBe(
      '{"predictions":[{"prediction":">50K","probabilities":{"<=50K":0.25,">50K":0.75},"model_version":"v7"},' +
        '{"prediction":"<=50K","probabilities":{"<=50K":0.875,">50K":0.125},"model_version":"v7"}],"model_version":"v7"}',
    );
    expect(predictionsBody([], 'v7')).toBe('{"predictions":[],"model_version":"v7"}');
  });
});
