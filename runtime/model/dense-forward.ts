/**
 * The serving forward pass: the Dense layers of a package run by a WebAssembly SIMD kernel
 * (dense-simd.wat), with the JS reference (denseForward) as the fallback.
 */
import { DENSE_SIMD_WASM_BASE64 } from './dense-simd.wasm';
import { applyActivation, denseForward, type Activation, type DenseLayerWeights } from './package';
import { ENV } from '../contract/env';
import { UsageError } from '../common/errors';

// tsconfig's lib (ES2022, no DOM) has no WebAssembly types; this is the part used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface DenseSimdExports {
  memory: WasmMemory;
  dense(input: number, inStride: number, inDim: number, kernel: number, bias: number, units: number, output: number, n: number, relu: number, scratch: number): void;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { exports: unknown };
};

export type ForwardImplementation = 'wasm' | 'js';

/** rows: row-major n x inputDim of the first layer; returns a fresh n x units array of the last layer. */
export interface DenseForward {
  (rows: Float32Array, n: number): Float32Array;
  readonly implementation: ForwardImplementation;
}

export const FORWARD_ENV = ENV.forward;
const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'softmax', 'linear', 'tanh'];
const PAGE_BYTES = 65536;
const MAX_PAGES = 65536;
const INITIAL_ROWS = 128;

let compiled: object | null | undefined;

/** The compiled kernel, or null where this engine lacks WebAssembly SIMD (compiled once per process). */
export function denseSimdModule(): object | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(DENSE_SIMD_WASM_BASE64, 'base64');
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** MLSTACK_FORWARD: unset, '' or 'auto' picks wasm where SIMD is supported; 'js' or 'wasm' force one. */
export function chooseImplementation(setting: string | undefined, simdSupported: boolean): ForwardImplementation {
  switch (setting ?? '') {
    case '':
    case 'auto':
      return simdSupported ? 'wasm' : 'js';
    case 'js':
      return 'js';
    case 'wasm':
      if (!simdSupported) throw new UsageError(`${FORWARD_ENV}=wasm, but this engine does not support WebAssembly SIMD`);
      return 'wasm';
    default:
      throw new UsageError(`${FORWARD_ENV}="${setting}" is not one of auto, wasm, js`);
  }
}

/**
 * A forward pass over readDenseLayers' output, equal to denseForward within float rounding.
 *
 * The WebAssembly SIMD kernel is used where the engine supports it; the weights are copied into
 * its memory once, here, and the memory grows when a call has more rows than any before it.
 * The env var MLSTACK_FORWARD (read here, once) chooses: unset or `auto` (wasm when supported,
 * else js), `js` (the JS reference, for debugging) or `wasm` (throws when unsupported).
 *
 * Each call returns a fresh Float32Array that the caller owns. Calls are synchronous and must not
 * interleave (they share the module's scratch memory), which holds on one JS thread.
 */
export function createDenseForward(layers: DenseLayerWeights[], env: NodeJS.ProcessEnv = process.env): DenseForward {
  checkLayers(layers);
  const module = denseSimdModule();
  const implementation = chooseImplementation(env[FORWARD_ENV], module !== null);
  const inputDim = layers[0].inputDim;
  const run =
    implementation === 'wasm'
      ? wasmForward(layers, module!)
      : (rows: Float32Array, n: number) => denseForward(layers, rows, n);
  const forward = (rows: Float32Array, n: number): Float32Array => {
    if (!Number.isInteger(n) || n < 0) throw new Error(`the row count must be a non-negative integer, got ${n}`);
    if (rows.length < n * inputDim) throw new Error(`${n} rows of ${inputDim} inputs need ${n * inputDim} values, got ${rows.length}`);
    return run(rows, n);
  };
  return Object.assign(forward, { implementation });
}

function checkLayers(layers: DenseLayerWeights[]): void {
  if (layers.length === 0) throw new Error('a forward pass needs at least one Dense layer');
  layers.forEach((layer, i) => {
    const name = `Dense layer ${i}`;
    if (!Number.isInteger(layer.units) || layer.units < 1) throw new Error(`${name}: units must be a positive integer, got ${layer.units}`);
    if (!Number.isInteger(layer.inputDim) || layer.inputDim < 1) throw new Error(`${name}: inputDim must be a positive integer, got ${layer.inputDim}`);
    if (i > 0 && layer.inputDim !== layers[i - 1].units) throw new Error(`${name} takes ${layer.inputDim} inputs but the layer before has ${layers[i - 1].units} units`);
    if (layer.kernel.length !== layer.inputDim * layer.units) throw new Error(`${name}: the kernel has ${layer.kernel.length} values, expected ${layer.inputDim} x ${layer.units}`);
    if (layer.bias.length !== layer.units) throw new Error(`${name}: the bias has ${layer.bias.length} values, expected ${layer.units}`);
    if (!ACTIVATIONS.includes(layer.activation)) throw new Error(`${name}: activation "${String(layer.activation)}" is not supported`);
  });
}

const roundUp4 = (x: number) => Math.ceil(x / 4) * 4;

interface PlacedLayer {
  layer: DenseLayerWeights;
  /** units rounded up to a multiple of 4: the kernel's row length and the output's row stride in wasm memory. */
  padded: number;
  kernelAt: number;
  biasAt: number;
}

/**
 * Memory: the padded weights of every layer, the kernel's scratch (8 bytes per input of the widest
 * layer), then two buffers of `capacity` rows that the layers read from and write to in turn
 * (all addresses in bytes, 16-byte aligned).
 */
function wasmForward(layers: DenseLayerWeights[], module: object): (rows: Float32Array, n: number) => Float32Array {
  const { memory, dense } = new WebAssembly.Instance(module, {}).exports as DenseSimdExports;
  let at = 0;
  const placed: PlacedLayer[] = layers.map((layer) => {
    const padded = roundUp4(layer.units);
    const kernelAt = at;
    const biasAt = kernelAt + layer.inputDim * padded * 4;
    at = biasAt + padded * 4;
    return { layer, padded, kernelAt, biasAt };
  });
  const scratch = at;
  const buffersAt = scratch + 8 * roundUp4(Math.max(...layers.map((l) => l.inputDim)));
  const inputDim = layers[0].inputDim;
  const rowBytes = 4 * roundUp4(Math.max(inputDim, ...placed.map((p) => p.padded)));
  let capacity = 0;
  let heap = new Float32Array(memory.buffer);

  const reserve = (rows: number) => {
    if (rows <= capacity) return;
    const wanted = Math.max(rows, INITIAL_ROWS, capacity * 2);
    const pages = Math.ceil((buffersAt + 2 * wanted * rowBytes) / PAGE_BYTES);
    if (pages > MAX_PAGES) throw new Error(`a forward pass over ${rows} rows needs more than 4 GiB of WebAssembly memory: send fewer rows per call`);
    const have = memory.buffer.byteLength / PAGE_BYTES;
    try {
      if (pages > have) memory.grow(pages - have);
    } catch (err) {
      throw new Error(`a forward pass over ${rows} rows could not grow WebAssembly memory to ${pages} pages: ${(err as Error).message}`);
    }
    heap = new Float32Array(memory.buffer);
    capacity = wanted;
  };

  reserve(INITIAL_ROWS);
  for (const { layer, padded, kernelAt, biasAt } of placed) {
    if (padded === layer.units) heap.set(layer.kernel, kernelAt / 4);
    else for (let i = 0; i < layer.inputDim; i++) heap.set(layer.kernel.subarray(i * layer.units, (i + 1) * layer.units), kernelAt / 4 + i * padded);
    heap.set(layer.bias, biasAt / 4);
  }

  return (rows, n) => {
    const units = layers[layers.length - 1].units;
    const out = new Float32Array(n * units);
    if (n === 0) return out;
    reserve(n);
    const second = buffersAt + capacity * rowBytes;
    heap.set(rows.length === n * inputDim ? rows : rows.subarray(0, n * inputDim), buffersAt / 4);
    let from = buffersAt;
    let to = second;
    let stride = inputDim;
    for (let i = 0; i < placed.length; i++) {
      const { layer, padded, kernelAt, biasAt } = placed[i];
      dense(from, stride, layer.inputDim, kernelAt, biasAt, padded, to, n, layer.activation === 'relu' ? 1 : 0, scratch);
      if (i < placed.length - 1 && layer.activation !== 'relu' && layer.activation !== 'linear') {
        for (let r = 0; r < n; r++) applyActivation(layer.activation, heap, to / 4 + r * padded, layer.units);
      }
      const written = to;
      to = from;
      from = written;
      stride = padded;
    }
    const last = placed[placed.length - 1];
    const result = from / 4;
    if (last.padded === units) out.set(heap.subarray(result, result + n * units));
    else for (let r = 0; r < n; r++) for (let u = 0; u < units; u++) out[r * units + u] = heap[result + r * last.padded + u];
    if (last.layer.activation !== 'relu' && last.layer.activation !== 'linear') {
      for (let r = 0; r < n; r++) applyActivation(last.layer.activation, out, r * units, units);
    }
    return out;
  };
}
