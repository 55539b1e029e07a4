import * as tf from '../../runtime/model/tf';
import fc from 'fast-check';
import { seededRandom } from '../../runtime/common/random';
import { chooseImplementation, createDenseForward, denseSimdModule, FORWARD_ENV } from '../../runtime/model/dense-forward';
import { denseForward, readDenseLayers, serializeModel, type Activation, type DenseLayerWeights } from '../../runtime/model/package';

const TOLERANCE = 1e-5;
const WASM_ENV = {};
const JS_ENV = { [FORWARD_ENV]: 'js' };

/** The largest |actual - expected| / max(1, |expected|); 0 for two empty arrays. */
function worstDeviation(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const deviation = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    worst = Number.isNaN(deviation) ? Infinity : Math.max(worst, deviation);
  }
  return worst;
}

type Shape = { inputDim: number; layers: [number, Activation][] };

const SHAPES: Record<string, Shape> = {
  'adult-shaped 112 -> 64 relu -> 64 relu -> 1 sigmoid': { inputDim: 112, layers: [[64, 'relu'], [64, 'relu'], [1, 'sigmoid']] },
  'tanh and sigmoid hidden, 3-unit softmax out': { inputDim: 10, layers: [[7, 'tanh'], [5, 'sigmoid'], [3, 'softmax']] },
  '33 relu units (one block of 32 and a padded one)': { inputDim: 37, layers: [[33, 'relu'], [1, 'linear']] },
  '50 and 18 units (blocks of 32, 16 and padded 4s), 2-unit softmax': { inputDim: 5, layers: [[50, 'relu'], [18, 'linear'], [2, 'softmax']] },
  'a 1-unit hidden layer': { inputDim: 3, layers: [[1, 'relu'], [4, 'tanh']] },
};

async function tfModel(shape: Shape, seed: number): Promise<tf.Sequential> {
  const model = tf.sequential();
  shape.layers.forEach(([units, activation], i) => {
    model.add(
      tf.layers.dense({
        ...(i === 0 ? { inputShape: [shape.inputDim] } : {}),
        units,
        activation,
        kernelInitializer: tf.initializers.randomUniform({ minval: -0.6, maxval: 0.6, seed: seed + i }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 100 + i }),
      }),
    );
  });
  return model;
}

/** Rows where about `density` of the values are non-zero (1 for one-hot-like columns, else in [-2, 2)). */
function randomRows(n: number, inputDim: number, density: number, random: () => number): Float32Array {
  const rows = new Float32Array(n * inputDim);
  for (let i = 0; i < rows.length; i++) {
    if (random() >= density) continue;
    rows[i] = i % 3 === 0 ? 1 : random() * 4 - 2;
  }
  return rows;
}

function randomLayers(inputDim: number, spec: { units: number; activation: Activation }[], random: () => number): DenseLayerWeights[] {
  let width = inputDim;
  return spec.map(({ units, activation }) => {
    const layer = {
      inputDim: width,
      units,
      activation,
      kernel: Float32Array.from({ length: width * units }, () => random() - 0.5),
      bias: Float32Array.from({ length: units }, () => random() - 0.5),
    };
    width = units;
    return layer;
  });
}

describe('createDenseForward', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('runs on WebAssembly SIMD in this engine unless told otherwise', () => {
    expect(denseSimdModule()).not.toBeNull();
    const layers = randomLayers(4, [{ units: 2, activation: 'relu' }], seededRandom(1));
    expect(createDenseForward(layers, WASM_ENV).implementation).toBe('wasm');
    expect(createDenseForward(layers, JS_ENV).implementation).toBe('js');
  });

  describe.each(Object.entries(SHAPES))('%s', (_name, shape) => {
    let layers: DenseLayerWeights[];
    let model: tf.Sequential;

    beforeAll(async () => {
      model = await tfModel(shape, 11);
      layers = readDenseLayers(await serializeModel(model));
    });

    afterAll(() => model.dispose());

    it.each([
      [0, 'sparse', 0.12],
      [1, 'sparse', 0.12],
      [1, 'dense', 1],
      [7, 'dense', 1],
      [1200, 'sparse', 0.12],
      [1200, 'dense', 0.9],
    ])('wasm, js and tf predict agree within 1e-5 on %i %s rows', (n, _kind, density) => {
      const rows = randomRows(n, shape.inputDim, density, seededRandom(n + Math.round(density * 100)));
      const viaTf = n === 0 ? new Float32Array(0) : tf.tidy(() => (model.predict(tf.tensor2d(rows, [n, shape.inputDim])) as tf.Tensor).dataSync());
      const wasm = createDenseForward(layers, WASM_ENV);
      const js = createDenseForward(layers, JS_ENV);
      const units = shape.layers[shape.layers.length - 1][0];
      const viaWasm = wasm(rows, n);
      expect(viaWasm).toHaveLength(n * units);
      expect(worstDeviation(viaWasm, viaTf)).toBeLessThanOrEqual(TOLERANCE);
      expect(worstDeviation(viaWasm, denseForward(layers, rows, n))).toBeLessThanOrEqual(TOLERANCE);
      expect(Array.from(js(rows, n))).toEqual(Array.from(denseForward(layers, rows, n)));
    });
  });

  it('grows its memory for a large batch and still serves small ones after it', () => {
    const random = seededRandom(5);
    const layers = randomLayers(40, [{ units: 30, activation: 'relu' }, { units: 3, activation: 'softmax' }], random);
    const forward = createDenseForward(layers, WASM_ENV);
    for (const n of [1, 129, 5000, 3, 5000]) {
      const rows = randomRows(n, 40, 0.3, random);
      expect(worstDeviation(forward(rows, n), denseForward(layers, rows, n))).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('reads only the first n rows, copies the weights once and returns a fresh array per call', () => {
    const random = seededRandom(9);
    const layers = randomLayers(6, [{ units: 5, activation: 'relu' }, { units: 2, activation: 'linear' }], random);
    const forward = createDenseForward(layers, WASM_ENV);
    const rows = randomRows(4, 6, 1, random);
    const first = forward(rows, 3);
    expect(worstDeviation(first, denseForward(layers, rows.subarray(0, 18), 3))).toBeLessThanOrEqual(TOLERANCE);
    const kept = Array.from(first);
    layers[0].kernel.fill(0);
    const second = forward(rows, 3);
    expect(second).not.toBe(first);
    expect(Array.from(first)).toEqual(kept);
    expect(Array.from(second)).toEqual(kept);
  });

  it('agrees with the JS reference on random shapes, activations, sparsity and row counts', () => {
    const activation = fc.constantFrom<Activation>('relu', 'sigmoid', 'softmax', 'linear', 'tanh');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.record({ units: fc.integer({ min: 1, max: 70 }), activation }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 12 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (inputDim, spec, n, density, seed) => {
          const random = seededRandom(seed);
          const layers = randomLayers(inputDim, spec, random);
          const rows = randomRows(n, inputDim, density, random);
          const expected = denseForward(layers, rows, n);
          expect(worstDeviation(createDenseForward(layers, WASM_ENV)(rows, n), expected)).toBeLessThanOrEqual(TOLERANCE);
          expect(Array.from(createDenseForward(layers, JS_ENV)(rows, n))).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads MLSTACK_FORWARD from the process environment by default', () => {
    const layers = randomLayers(3, [{ units: 2, activation: 'tanh' }], seededRandom(3));
    const before = process.env[FORWARD_ENV];
    try {
      process.env[FORWARD_ENV] = 'js';
      expect(createDenseForward(layers).implementation).toBe('js');
      process.env[FORWARD_ENV] = 'wasm';
      expect(createDenseForward(layers).implementation).toBe('wasm');
      process.env[FORWARD_ENV] = 'fast';
      expect(() => createDenseForward(layers)).toThrow(/MLSTACK_FORWARD="fast" is not one of auto, wasm, js/);
    } finally {
      if (before === undefined) delete process.env[FORWARD_ENV];
      else process.env[FORWARD_ENV] = before;
    }
  });

  it('falls back to js only where SIMD is unsupported, and refuses a forced wasm there', () => {
    expect(chooseImplementation(undefined, true)).toBe('wasm');
    expect(chooseImplementation('auto', true)).toBe('wasm');
    expect(chooseImplementation('', false)).toBe('js');
    expect(chooseImplementation(undefined, false)).toBe('js');
    expect(chooseImplementation('js', true)).toBe('js');
    expect(() => chooseImplementation('wasm', false)).toThrow(/MLSTACK_FORWARD=wasm, but this engine does not support WebAssembly SIMD/);
  });

  it('rejects inconsistent layers and short inputs with a clear message', () => {
    const random = seededRandom(4);
    const [a, b] = randomLayers(4, [{ units: 3, activation: 'relu' }, { units: 2, activation: 'linear' }], random);
    expect(() => createDenseForward([])).toThrow(/at least one Dense layer/);
    expect(() => createDenseForward([a, { ...b, inputDim: 5, kernel: new Float32Array(10) }])).toThrow(/Dense layer 1 takes 5 inputs but the layer before has 3 units/);
    expect(() => createDenseForward([{ ...a, kernel: new Float32Array(5) }])).toThrow(/kernel has 5 values, expected 4 x 3/);
    expect(() => createDenseForward([{ ...a, bias: new Float32Array(2) }])).toThrow(/bias has 2 values, expected 3/);
    expect(() => createDenseForward([{ ...a, activation: 'gelu' as Activation }])).toThrow(/activation "gelu" is not supported/);
    const forward = createDenseForward([a, b], WASM_ENV);
    expect(() => forward(new Float32Array(7), 2)).toThrow(/2 rows of 4 inputs need 8 values, got 7/);
    expect(() => forward(new Float32Array(8), -1)).toThrow(/non-negative integer, got -1/);
  });
});
