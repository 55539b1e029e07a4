import fc from 'fast-check';
import {
  CLIP_MARGIN_SD,
  fitPreprocessing,
  transformRow,
  transformRows,
  validateInputRow,
  assertPreprocessingState,
  type NumericFeatureState,
} from '../../runtime/model/preprocessing';

const rows = [
  { age: '30', spend: '10.5', plan: 'basic', vip: 'true', region: 'eu' },
  { age: '40', spend: '', plan: 'premium', vip: 'false', region: 'us' },
  { age: '50', spend: '30', plan: 'basic', vip: 'TRUE', region: 'eu' },
  { age: '60', spend: '20', plan: 'standard', vip: '', region: 'apac' },
];

describe('fitPreprocessing', () => {
  it('infers numeric, boolean and categorical kinds and lays out the output columns', () => {
    const state = fitPreprocessing(rows, { features: ['age', 'spend', 'plan', 'vip'] });
    expect(state.features.map((f) => f.kind)).toEqual(['numeric', 'numeric', 'categorical', 'boolean']);
    expect(state.output_names).toEqual([
      'age',
      'spend',
      'spend__missing',
      'plan=basic',
      'plan=premium',
      'plan=standard',
      'plan=__unknown__',
      'vip',
      'vip__missing',
    ]);
    expect(state.outputDim).toBe(9);
    expect(state.fitted_rows).toBe(4);
    // A JSON round trip keeps it usable (it is saved with the model).
    const copy = JSON.parse(JSON.stringify(state));
    expect(transformRows(copy, rows)).toEqual(transformRows(state, rows));
  });

  it('imputes the train median with a missing indicator, or the mean when asked', () => {
    const median = fitPreprocessing(rows, { features: ['spend'] });
    const f = median.features[0] as NumericFeatureState;
    expect(f.fill).toBe(20);
    expect(f.missing_indicator).toBe(true);
    const out = transformRow(median, { spend: null });
    expect(out[1]).toBe(1);
    expect(out[0]).toBeCloseTo((20 - f.mean) / f.std, 5);
    const mean = fitPreprocessing(rows, { features: ['spend'], imputation: 'mean' });
    expect((mean.features[0] as NumericFeatureState).fill).toBeCloseTo(60.5 / 3, 6);
  });

  it('standardises with train statistics only and clips outliers', () => {
    const state = fitPreprocessing(rows, { features: ['age'] });
    const f = state.features[0] as NumericFeatureState;
    expect(f.mean).toBe(45);
    const train = transformRows(state, rows);
    const avg = Array.from(train).reduce((a, b) => a + b, 0) / 4;
    expect(avg).toBeCloseTo(0, 5);
    // Clipped to the train range (30..60) widened by CLIP_MARGIN_SD on each side.
    expect(transformRow(state, { age: 1e9 })[0]).toBeCloseTo((60 - 45) / f.std + CLIP_MARGIN_SD, 5);
    expect(transformRow(state, { age: -1e9 })[0]).toBeCloseTo((30 - 45) / f.std - CLIP_MARGIN_SD, 5);
    expect(transformRow(state, { age: 60 })[0]).toBeCloseTo((60 - 45) / f.std, 5);
  });

  it('log-transforms the columns asked for, and only non-negative ones', () => {
    const skewed = Array.from({ length: 200 }, (_, i) => ({ gain: i < 190 ? 0 : 10000 * (i - 189), loss: -i }));
    const state = fitPreprocessing(skewed, { features: ['gain'], logTransform: ['gain'] });
    const f = state.features[0] as NumericFeatureState;
    expect(f.transform).toBe('log1p');
    expect(transformRow(state, { gain: 100000 })[0]).toBeCloseTo((Math.log1p(100000) - f.mean) / f.std, 5);
    expect(() => fitPreprocessing(skewed, { features: ['loss'], logTransform: ['loss'] })).toThrow(/"loss" has negative values/);
  });

  it('sends unseen and missing categories to the unknown bucket', () => {
    const state = fitPreprocessing(rows, { features: ['plan'], categorical: ['plan'] });
    expect(Array.from(transformRow(state, { plan: ' premium ' }))).toEqual([0, 1, 0, 0]);
    expect(Array.from(transformRow(state, { plan: 'gold' }))).toEqual([0, 0, 0, 1]);
    expect(Array.from(transformRow(state, { plan: null }))).toEqual([0, 0, 0, 1]);
  });

  it('treats a column listed in categorical as categorical even when numeric', () => {
    const state = fitPreprocessing(rows, { features: ['age'], categorical: ['age'] });
    expect(state.features[0].kind).toBe('categorical');
  });

  it('rejects empty data and unknown columns with a clear message', () => {
    expect(() => fitPreprocessing([], { features: ['age'] })).toThrow(/zero rows/);
    expect(() => fitPreprocessing(rows, { features: ['nope'] })).toThrow(/feature "nope" is not a column.*age, spend/);
  });

  it('gives the same vector for a row alone and in a batch (train and serve paths agree)', () => {
    const state = fitPreprocessing(rows, { features: ['age', 'spend', 'plan', 'vip'] });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            age: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(null)),
            spend: fc.oneof(fc.double({ min: 0, max: 1e4, noNaN: true }).map(String), fc.constant('')),
            plan: fc.constantFrom('basic', 'premium', 'x', null),
            vip: fc.constantFrom(true, false, 'true', null),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        (batch) => {
          const all = transformRows(state, batch);
          batch.forEach((row, i) => {
            expect(validateInputRow(state, row)).toBeNull();
            const one = transformRow(state, row);
            expect(Array.from(one)).toEqual(Array.from(all.slice(i * state.outputDim, (i + 1) * state.outputDim)));
            expect(one.every(Number.isFinite)).toBe(true);
          });
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('validateInputRow', () => {
  const state = fitPreprocessing(rows, { features: ['age', 'plan', 'vip'] });
  it.each([
    [{ plan: 'basic', vip: true }, /missing feature "age".*number/],
    [{ age: 'abc', plan: 'basic', vip: true }, /"age" must be a number, found "abc"/],
    [{ age: NaN, plan: 'basic', vip: true }, /"age" must be a finite number, found NaN/],
    [{ age: Infinity, plan: 'basic', vip: true }, /"age" must be a finite number, found Infinity/],
    [{ age: 3, plan: { a: 1 }, vip: true }, /"plan" must be a string.*an object/],
    [{ age: 3, plan: 'basic', vip: 'maybe' }, /"vip" must be true or false, found "maybe"/],
    [{ age: [1], plan: 'basic', vip: true }, /"age" must be a number, found an array/],
    [[1, 2], /must be a JSON object keyed by feature name \(age, plan, vip\)/],
    [null, /must be a JSON object/],
  ])('rejects %j', (row, message) => {
    expect(validateInputRow(state, row)).toMatch(message);
  });

  it('accepts numbers, numeric strings and nulls', () => {
    expect(validateInputRow(state, { age: '42', plan: 'basic', vip: 'false' })).toBeNull();
    expect(validateInputRow(state, { age: null, plan: null, vip: null })).toBeNull();
  });
});

describe('assertPreprocessingState', () => {
  it('rejects documents of another format', () => {
    expect(() => assertPreprocessingState({ format_version: 9 }, 'x.json')).toThrow(/x.json is not a preprocessing state/);
  });
});
