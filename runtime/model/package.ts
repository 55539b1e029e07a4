/**
 * The model package: everything serving needs, under one store prefix.
 *
 *   <prefix>model/model.json      TF.js LayersModel artifacts (modelTopology + weightsManifest)
 *   <prefix>model/weights.bin     the weights, float32, in manifest order
 *   <prefix>preprocessing.json    PreprocessingState (runtime/model/preprocessing.ts)
 *   <prefix>metadata.json         ModelMetadata
 *   <prefix>metrics.json          test-split metrics
 *   <prefix>report.html           evaluation report
 *
 * The topology is always a Sequential of Dense (+ Dropout) layers with named activations,
 * so a lean forward pass (readDenseLayers) can serve it without tf.
 * Regression models predict the target in its original units (the target scaling is folded
 * into the last layer when the package is written).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getJson, putJson, type ObjectStore } from '../storage/object-store';
import { assertPreprocessingState, type PreprocessingState } from './preprocessing';

export const MODEL_PACKAGE_FORMAT_VERSION = 1;

export type TaskKind = 'binary' | 'multiclass' | 'regression';
export type Activation = 'relu' | 'sigmoid' | 'softmax' | 'linear' | 'tanh';

export interface ModelMetadata {
  format_version: typeof MODEL_PACKAGE_FORMAT_VERSION;
  project: string;
  task: TaskKind;
  features: string[];
  target: string;
  /** Class labels in output order; binary: [negative, positive]; regression: []. */
  classes: string[];
  /** Binary: the label predicted when the probability is >= threshold. */
  positive_class: string | null;
  /** Binary decision threshold on the positive-class probability. */
  threshold: number;
  input_dim: number;
  /** Dense layers in order (dropout omitted). */
  layers: { units: number; activation: Activation }[];
  created_at: string;
  run_id: string;
  data_hash: string;
  config_hash: string;
  code_version: string;
  /** The tf backend that trained the model (tensorflow-gpu, tensorflow, wasm, cpu). */
  backend: string;
}

export const PACKAGE_FILES = {
  modelJson: 'model/model.json',
  weights: 'model/weights.bin',
  preprocessing: 'preprocessing.json',
  metadata: 'metadata.json',
  metrics: 'metrics.json',
  report: 'report.html',
} as const;

/** model.json as TF.js writes it. */
export interface ModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: any;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

export interface ModelPackage {
  metadata: ModelMetadata;
  preprocessing: PreprocessingState;
  modelJson: ModelJson;
  weights: ArrayBuffer;
  /** Present when the package has one. */
  metrics?: Record<string, unknown>;
}

export interface WriteModelPackageInput {
  model: tfTypes.LayersModel;
  preprocessing: PreprocessingState;
  metadata: ModelMetadata;
  metrics: Record<string, unknown>;
  reportHtml?: string;
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

async function loadTf(): Promise<typeof tfTypes> {
  return import('@tensorflow/tfjs');
}

/** Serialises a LayersModel into model.json + one weights buffer through a custom save handler. */
export async function serializeModel(model: tfTypes.LayersModel): Promise<{ modelJson: ModelJson; weights: ArrayBuffer }> {
  const tf = await loadTf();
  let captured: { modelJson: ModelJson; weights: ArrayBuffer } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const weights = data === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(data);
      captured = {
        modelJson: {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: (artifacts.weightSpecs ?? []).map((s) => ({ name: s.name, shape: s.shape, dtype: s.dtype })) }],
        },
        weights,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
  if (!captured) throw new Error('the model save handler was not called');
  return captured;
}

/** Writes a complete package under `prefix`; metadata.json goes last so a reader never sees half a package. */
export async function writeModelPackage(store: ObjectStore, prefix: string, input: WriteModelPackageInput): Promise<{ sizeBytes: number }> {
  const base = withSlash(prefix);
  const { modelJson, weights } = await serializeModel(input.model);
  const modelText = JSON.stringify(modelJson);
  await store.put(base + PACKAGE_FILES.weights, Buffer.from(weights), { contentType: 'application/octet-stream' });
  await store.put(base + PACKAGE_FILES.modelJson, modelText, { contentType: 'application/json' });
  await putJson(store, base + PACKAGE_FILES.preprocessing, input.preprocessing);
  await putJson(store, base + PACKAGE_FILES.metrics, input.metrics);
  if (input.reportHtml !== undefined) {
    await store.put(base + PACKAGE_FILES.report, input.reportHtml, { contentType: 'text/html; charset=utf-8' });
  }
  await putJson(store, base + PACKAGE_FILES.metadata, input.metadata);
  return { sizeBytes: weights.byteLength + Buffer.byteLength(modelText) };
}

/** Reads a package written by writeModelPackage; names the missing file when it is incomplete. */
export async function readModelPackage(store: ObjectStore, prefix: string): Promise<ModelPackage> {
  const base = withSlash(prefix);
  if (!(await store.exists(base + PACKAGE_FILES.metadata))) {
    throw new Error(`no model package at ${store.uri(base || PACKAGE_FILES.metadata)}: ${PACKAGE_FILES.metadata} is missing (was training completed?)`);
  }
  const metadata = await getJson<ModelMetadata>(store, base + PACKAGE_FILES.metadata);
  if (metadata.format_version !== MODEL_PACKAGE_FORMAT_VERSION) {
    throw new Error(`${store.uri(base + PACKAGE_FILES.metadata)}: unsupported format_version ${String(metadata.format_version)} (this code reads ${MODEL_PACKAGE_FORMAT_VERSION})`);
  }
  const preprocessing = assertPreprocessingState(await getJson(store, base + PACKAGE_FILES.preprocessing), store.uri(base + PACKAGE_FILES.preprocessing));
  const modelJson = await getJson<ModelJson>(store, base + PACKAGE_FILES.modelJson);
  const buf = await store.get(base + PACKAGE_FILES.weights);
  const weights = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const metrics = (await store.exists(base + PACKAGE_FILES.metrics)) ? await getJson<Record<string, unknown>>(store, base + PACKAGE_FILES.metrics) : undefined;
  return { metadata, preprocessing, modelJson, weights, metrics };
}

/** A tf.LayersModel from a package (needs a tf backend; serving can use readDenseLayers instead). */
export async function loadTfModel(pkg: Pick<ModelPackage, 'modelJson' | 'weights'>): Promise<tfTypes.LayersModel> {
  const tf = await loadTf();
  const weightSpecs = pkg.modelJson.weightsManifest.flatMap((g) => g.weights) as tfTypes.io.WeightsManifestEntry[];
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: pkg.modelJson.modelTopology, weightSpecs, weightData: pkg.weights }));
}

export interface DenseLayerWeights {
  inputDim: number;
  units: number;
  activation: Activation;
  /** Row-major inputDim x units. */
  kernel: Float32Array;
  bias: Float32Array;
}

/**
 * The Dense layers of a package with their weights, in order (Dropout is identity at inference).
 * Enough for a forward pass without tf: out = activation(in · kernel + bias).
 */
export function readDenseLayers(pkg: Pick<ModelPackage, 'modelJson' | 'weights'>): DenseLayerWeights[] {
  const layers: { class_name: string; config: { name: string; units?: number; activation?: string; use_bias?: boolean } }[] =
    (pkg.modelJson.modelTopology?.model_config ?? pkg.modelJson.modelTopology)?.config?.layers ?? [];
  const specs = pkg.modelJson.weightsManifest.flatMap((g) => g.weights);
  const byName = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32') throw new Error(`weight ${spec.name}: dtype ${spec.dtype} is not supported (float32 only)`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    byName.set(spec.name, new Float32Array(pkg.weights.slice(offset, offset + size * 4)));
    offset += size * 4;
  }
  const out: DenseLayerWeights[] = [];
  for (const layer of layers) {
    if (layer.class_name === 'Dropout' || layer.class_name === 'InputLayer') continue;
    if (layer.class_name !== 'Dense') throw new Error(`layer ${layer.config.name}: ${layer.class_name} is not supported in a model package (Dense and Dropout only)`);
    const kernel = byName.get(`${layer.config.name}/kernel`);
    if (!kernel) throw new Error(`weights for layer ${layer.config.name} are missing from weights.bin`);
    const units = layer.config.units ?? 0;
    const bias = byName.get(`${layer.config.name}/bias`) ?? new Float32Array(units);
    out.push({ inputDim: kernel.length / units, units, activation: (layer.config.activation ?? 'linear') as Activation, kernel, bias });
  }
  return out;
}

/** A forward pass over readDenseLayers' output: rows is row-major n x inputDim; returns n x units of the last layer. */
export function denseForward(layers: DenseLayerWeights[], rows: Float32Array, n: number): Float32Array {
  let input = rows;
  for (const layer of layers) {
    const output = new Float32Array(n * layer.units);
    for (let r = 0; r < n; r++) {
      const inBase = r * layer.inputDim;
      const outBase = r * layer.units;
      for (let u = 0; u < layer.units; u++) output[outBase + u] = layer.bias[u];
      for (let i = 0; i < layer.inputDim; i++) {
        const x = input[inBase + i];
        if (x === 0) continue;
        const kBase = i * layer.units;
        for (let u = 0; u < layer.units; u++) output[outBase + u] += x * layer.kernel[kBase + u];
      }
      applyActivation(layer.activation, output, outBase, layer.units);
    }
    input = output;
  }
  return input;
}

/** Applies `activation` in place to v[base, base + len) (one row). */
export function applyActivation(activation: Activation, v: Float32Array, base: number, len: number): void {
  switch (activation) {
    case 'relu':
      for (let i = base; i < base + len; i++) if (v[i] < 0) v[i] = 0;
      return;
    case 'sigmoid':
      for (let i = base; i < base + len; i++) v[i] = 1 / (1 + Math.exp(-v[i]));
      return;
    case 'tanh':
      for (let i = base; i < base + len; i++) v[i] = Math.tanh(v[i]);
      return;
    case 'softmax': {
      let max = -Infinity;
      for (let i = base; i < base + len; i++) max = Math.max(max, v[i]);
      let sum = 0;
      for (let i = base; i < base + len; i++) {
        v[i] = Math.exp(v[i] - max);
        sum += v[i];
      }
      for (let i = base; i < base + len; i++) v[i] /= sum;
      return;
    }
    case 'linear':
      return;
    default:
      throw new Error(`activation "${String(activation)}" is not supported`);
  }
}
