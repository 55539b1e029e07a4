/**
 * Forward-pass benchmark: the JS reference (denseForward) beside the WebAssembly SIMD kernel
 * (createDenseForward) on an adult-shaped MLP with random weights: 112 inputs (6 numeric, 8
 * one-hot groups: 14 non-zeros a row), Dense 64 relu, Dense 64 relu, Dense 1 sigmoid.
 *
 *   node bin/run-ts.js bench/forward.ts [--samples 15]
 *
 * Prints the median microseconds per call for 1 row and 100 rows, and the ratio js/wasm.
 */
import { seededRandom } from '../runtime/common/random';
import { createDenseForward } from '../runtime/model/dense-forward';
import { denseForward, type Activation, type DenseLayerWeights } from '../runtime/model/package';
import { microsPerCall } from './lib/stats';

const samplesAt = process.argv.indexOf('--samples');
const SAMPLES = samplesAt === -1 ? 15 : Number(process.argv[samplesAt + 1]);
const NUMERIC = 6;
const GROUPS = [9, 16, 7, 15, 6, 5, 2, 46];
const INPUT_DIM = NUMERIC + GROUPS.reduce((a, b) => a + b, 0);

function adultLayers(random: () => number): DenseLayerWeights[] {
  const shape: [number, number, Activation][] = [
    [INPUT_DIM, 64, 'relu'],
    [64, 64, 'relu'],
    [64, 1, 'sigmoid'],
  ];
  return shape.map(([inputDim, units, activation]) => {
    const limit = Math.sqrt(6 / (inputDim + units));
    return {
      inputDim,
      units,
      activation,
      kernel: Float32Array.from({ length: inputDim * units }, () => (random() * 2 - 1) * limit),
      bias: Float32Array.from({ length: units }, () => (random() - 0.5) * 0.1),
    };
  });
}

function adultRows(n: number, random: () => number): Float32Array {
  const rows = new Float32Array(n * INPUT_DIM);
  for (let r = 0; r < n; r++) {
    const base = r * INPUT_DIM;
    for (let i = 0; i < NUMERIC; i++) rows[base + i] = random() * 4 - 2;
    let at = base + NUMERIC;
    for (const size of GROUPS) {
      rows[at + Math.floor(random() * size)] = 1;
      at += size;
    }
  }
  return rows;
}

function main(): void {
  const random = seededRandom(42);
  const layers = adultLayers(random);
  const wasm = createDenseForward(layers);
  if (wasm.implementation !== 'wasm') throw new Error(`the WebAssembly path is not in use (implementation ${wasm.implementation}): is MLSTACK_FORWARD set?`);
  console.log(`adult-shaped MLP ${INPUT_DIM} -> 64 relu -> 64 relu -> 1 sigmoid, random weights, ${NUMERIC + GROUPS.length} non-zero inputs a row`);
  for (const n of [1, 100]) {
    const rows = adultRows(n, random);
    const expected = denseForward(layers, rows, n);
    const actual = wasm(rows, n);
    const worst = Math.max(...expected.map((v, i) => Math.abs(v - actual[i])));
    if (!(worst < 1e-5)) throw new Error(`wasm and js disagree by ${worst} at ${n} rows`);
    const js = microsPerCall(() => denseForward(layers, rows, n), SAMPLES);
    const simd = microsPerCall(() => wasm(rows, n), SAMPLES);
    const label = `${n} row${n === 1 ? '' : 's'}`.padEnd(8);
    console.log(`${label} js ${js.toFixed(2).padStart(8)} us   wasm ${simd.toFixed(2).padStart(8)} us   js/wasm ${(js / simd).toFixed(1)}x`);
  }
}

main();
