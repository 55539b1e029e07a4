/**
 * The model package: everything serving needs, under one store prefix.
 *
 *   <prefix>model/model.json      TF.js LayersModel artifacts (modelTopology + weightsManifest)   } neural_network,
 *   <prefix>model/weights.bin     the weights, float32, in manifest order                        } logistic_regression, linear
 *   <prefix>model/trees.json      the tree ensemble (runtime/model/trees.ts)                        gradient_boosting
 *   <prefix>preprocessing.json    PreprocessingState (runtime/model/preprocessing.ts)
 *   <prefix>metadata.json         ModelMetadata
 *   <prefix>metrics.json          test-split metrics
 *   <prefix>report.html           evaluation report
 *   <prefix>manifest.json         SHA-256 and size of every other file (runtime/model/manifest.ts), written last
 *
 * Training may leave more files under the prefix (epochs.jsonl, checkpoints): the manifest covers them too.
 * readModelPackage verifies every file against the manifest and validates metadata, preprocessing and
 * model.json against their schemas and each other (package-schema.ts) before anything is served.
 * The topology is always a Sequential of Dense (+ Dropout) layers with named activations,
 * so a lean forward pass (readDenseLayers) can serve it without tf.
 * Regression models predict the target in its original units (the target scaling is folded
 * into the last layer when the package is written). metadata.json's model_type says which model files
 * the package holds (absent in packages written before it existed: neural_network); a linear model is a
 * one-layer Dense model, so only trees need their own file.
 */
import type * as tfTypes from './tf';
import type { ObjectStore } from '../storage/object-store';
import { checkFile, checkListing, digestOf, MANIFEST_FILE, packageLabel, PackageInvalidError, readManifest, verifyFileStream, writeManifest, type PackageTrust } from './manifest';
import { validatePackageDocs } from './package-schema';
import type { PreprocessingState } from './preprocessing';
import type { TreeEnsemble } from './trees';

export type { PackageTrust } from './manifest';
import { InvalidInputError, NotFoundError } from '../common/errors';

export const MODEL_PACKAGE_FORMAT_VERSION = 1;

export type TaskKind = 'binary' | 'multiclass' | 'regression';
export type Activation = 'relu' | 'sigmoid' | 'softmax' | 'linear' | 'tanh';
export type PackageModelType = 'neural_network' | 'gradient_boosting' | 'logistic_regression' | 'linear';

/** A feature's importance: split gain (trees) and the test metric's drop when the feature is permuted (every type). */
export interface FeatureImportance {
  feature: string;
  permutation: number;
  permutation_std: number;
  split_gain?: number;
}

export interface ModelMetadata {
  format_version: typeof MODEL_PACKAGE_FORMAT_VERSION;
  /** Absent in packages written before model types: neural_network. */
  model_type?: PackageModelType;
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
  /** Dense layers in order (dropout omitted); a tree model lists its output (units and link) as one layer. */
  layers: { units: number; activation: Activation }[];
  created_at: string;
  run_id: string;
  data_hash: string;
  config_hash: string;
  code_version: string;
  /** The processed data trained on (a CSV object's URI or the folder of them); absent in packages from before it was recorded. */
  data_uri?: string;
  /** The tf backend that trained the model (tensorflow-gpu, tensorflow, wasm, cpu). */
  backend: string;
}

export const PACKAGE_FILES = {
  modelJson: 'model/model.json',
  weights: 'model/weights.bin',
  trees: 'model/trees.json',
  preprocessing: 'preprocessing.json',
  metadata: 'metadata.json',
  metrics: 'metrics.json',
  report: 'report.html',
  manifest: MANIFEST_FILE,
} as const;

/** model.json as TF.js writes it. */
export interface ModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: any;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

/** Which model files a package holds, from its metadata. */
export function holdsTrees(metadata: Pick<ModelMetadata, 'model_type'>): boolean {
  return metadata.model_type === 'gradient_boosting';
}

export interface ModelPackage {
  metadata: ModelMetadata;
  preprocessing: PreprocessingState;
  /** Dense packages (every model type but gradient_boosting). */
  modelJson?: ModelJson;
  weights?: ArrayBuffer;
  /** gradient_boosting packages. */
  trees?: TreeEnsemble;
  /** Present when the package has one. */
  metrics?: Record<string, unknown>;
}

export interface WriteModelPackageInput {
  /** The Dense model, or trees for gradient_boosting. */
  model?: tfTypes.LayersModel;
  trees?: TreeEnsemble;
  preprocessing: PreprocessingState;
  metadata: ModelMetadata;
  metrics: Record<string, unknown>;
  reportHtml?: string;
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** TF.js on first use only: reading a package's metadata or weights (serving) never needs it. */
async function loadTf(): Promise<typeof tfTypes> {
  return require('./tf') as typeof tfTypes;
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

/** A package's contents, serialised: what writePackageFiles writes. */
export interface PackageContents {
  modelJson?: ModelJson;
  weights?: ArrayBuffer;
  trees?: TreeEnsemble;
  preprocessing: PreprocessingState;
  metadata: ModelMetadata;
  metrics: Record<string, unknown>;
  reportHtml?: string;
}

export interface WrittenPackage {
  /** Weights plus model.json, in bytes. */
  sizeBytes: number;
  /** The sha256 of the manifest.json written (what a registry record keeps). */
  manifestSha256: string;
}

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Writes the package's files under `prefix`, metadata.json after the model, then manifest.json last over
 * every file under the prefix (others training left there included), so a reader never takes half a
 * package for a whole one.
 */
export async function writePackageFiles(store: ObjectStore, prefix: string, contents: PackageContents): Promise<WrittenPackage> {
  const base = withSlash(prefix);
  const written = new Map<string, Buffer>();
  const put = async (name: string, bytes: Buffer, contentType: string) => {
    await store.put(base + name, bytes, { contentType });
    written.set(name, bytes);
  };
  const weights = Buffer.from(contents.weights ?? new ArrayBuffer(0));
  const modelBytes = Buffer.from(JSON.stringify(contents.trees ?? contents.modelJson));
  if (contents.trees) await put(PACKAGE_FILES.trees, modelBytes, 'application/json');
  else {
    await put(PACKAGE_FILES.weights, weights, 'application/octet-stream');
    await put(PACKAGE_FILES.modelJson, modelBytes, 'application/json');
  }
  await put(PACKAGE_FILES.preprocessing, jsonBytes(contents.preprocessing), 'application/json');
  await put(PACKAGE_FILES.metrics, jsonBytes(contents.metrics), 'application/json');
  if (contents.reportHtml !== undefined) await put(PACKAGE_FILES.report, Buffer.from(contents.reportHtml), 'text/html; charset=utf-8');
  await put(PACKAGE_FILES.metadata, jsonBytes(contents.metadata), 'application/json');
  const manifestSha256 = await writeManifest(store, base, written);
  return { sizeBytes: weights.byteLength + modelBytes.byteLength, manifestSha256 };
}

/** Writes a complete package under `prefix` (see writePackageFiles), manifest.json last. */
export async function writeModelPackage(store: ObjectStore, prefix: string, input: WriteModelPackageInput): Promise<WrittenPackage> {
  const { modelJson, weights } = input.model ? await serializeModel(input.model) : { modelJson: undefined, weights: undefined };
  return writePackageFiles(store, prefix, { modelJson, weights, trees: input.trees, preprocessing: input.preprocessing, metadata: input.metadata, metrics: input.metrics, reportHtml: input.reportHtml });
}

function parseJson(bytes: Buffer, where: string, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PackageInvalidError(`model package ${where}: ${file} is not valid JSON (${(err as Error).message})`);
  }
}

/** A package of another format version (a newer mlstack wrote it) is named as such, before its files are checked. */
function checkFormatVersion(bytes: Buffer, store: ObjectStore, base: string): void {
  let version: unknown;
  try {
    version = (JSON.parse(bytes.toString('utf8')) as { format_version?: unknown }).format_version;
  } catch {
    return;
  }
  if (typeof version === 'number' && version !== MODEL_PACKAGE_FORMAT_VERSION) {
    throw new PackageInvalidError(`${store.uri(base + PACKAGE_FILES.metadata)}: unsupported format_version ${version} (this code reads ${MODEL_PACKAGE_FORMAT_VERSION})`);
  }
}

/**
 * Reads a package written by writeModelPackage and refuses it unless every file matches manifest.json
 * (and the manifest its registry record, for a version: `trust.registered`) and metadata, preprocessing
 * and model.json pass their schemas. The bytes checked are the bytes used: each file is read once.
 * Names the missing file when the package is incomplete.
 */
export async function readModelPackage(store: ObjectStore, prefix: string, trust: PackageTrust = {}): Promise<ModelPackage> {
  const base = withSlash(prefix);
  const where = packageLabel(store, base);
  if (!(await store.exists(base + PACKAGE_FILES.metadata))) {
    throw new NotFoundError(`no model package at ${store.uri(base || PACKAGE_FILES.metadata)}: ${PACKAGE_FILES.metadata} is missing (was training completed?)`);
  }
  const metadataBytes = await store.get(base + PACKAGE_FILES.metadata);
  checkFormatVersion(metadataBytes, store, base);
  const verified = await readManifest(store, base, trust);
  const listed = verified ? new Set((await checkListing(store, base, verified.manifest)).map((f) => f.key)) : null;
  const checked = (name: string, bytes: Buffer): Buffer => {
    if (verified) checkFile(verified.manifest, where, name, digestOf(bytes));
    return bytes;
  };
  const read = async (name: string): Promise<Buffer> => checked(name, await store.get(base + name));
  checked(PACKAGE_FILES.metadata, metadataBytes);
  const preprocessingBytes = await read(PACKAGE_FILES.preprocessing);
  const trees = holdsTrees(parseJson(metadataBytes, where, PACKAGE_FILES.metadata) as Pick<ModelMetadata, 'model_type'>);
  const modelJsonBytes = await read(trees ? PACKAGE_FILES.trees : PACKAGE_FILES.modelJson);
  const weightBytes = trees ? Buffer.alloc(0) : await read(PACKAGE_FILES.weights);
  const hasMetrics = listed ? listed.has(PACKAGE_FILES.metrics) : await store.exists(base + PACKAGE_FILES.metrics);
  const metricsBytes = hasMetrics ? await read(PACKAGE_FILES.metrics) : undefined;
  if (verified && listed) {
    const parsed = new Set<string>([PACKAGE_FILES.metadata, PACKAGE_FILES.preprocessing, PACKAGE_FILES.metrics, ...(trees ? [PACKAGE_FILES.trees] : [PACKAGE_FILES.modelJson, PACKAGE_FILES.weights])]);
    for (const name of listed) if (!parsed.has(name)) await verifyFileStream(store, base, verified.manifest, name);
  }
  const { metadata, preprocessing, modelJson, trees: ensemble } = validatePackageDocs(
    {
      metadata: parseJson(metadataBytes, where, PACKAGE_FILES.metadata),
      preprocessing: parseJson(preprocessingBytes, where, PACKAGE_FILES.preprocessing),
      modelJson: parseJson(modelJsonBytes, where, PACKAGE_FILES.modelJson),
      weightBytes: weightBytes.byteLength,
    },
    where,
    PACKAGE_FILES,
  );
  const weights = weightBytes.buffer.slice(weightBytes.byteOffset, weightBytes.byteOffset + weightBytes.byteLength) as ArrayBuffer;
  const metrics = metricsBytes ? (parseJson(metricsBytes, where, PACKAGE_FILES.metrics) as Record<string, unknown>) : undefined;
  if (ensemble) return { metadata, preprocessing, trees: ensemble, metrics };
  return { metadata, preprocessing, modelJson, weights, metrics };
}

/** A tf.LayersModel from a package (needs a tf backend; serving can use readDenseLayers instead). */
export async function loadTfModel(pkg: Pick<ModelPackage, 'modelJson' | 'weights'>): Promise<tfTypes.LayersModel> {
  const tf = await loadTf();
  const { modelJson, weights } = denseFiles(pkg);
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as tfTypes.io.WeightsManifestEntry[];
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData: weights }));
}

/** A Dense package's model.json and weights (a tree package has none). */
export function denseFiles(pkg: Pick<ModelPackage, 'modelJson' | 'weights'>): { modelJson: ModelJson; weights: ArrayBuffer } {
  if (!pkg.modelJson || !pkg.weights) throw new InvalidInputError('the model package holds trees, not Dense layers (model/model.json and weights.bin)');
  return { modelJson: pkg.modelJson, weights: pkg.weights };
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
export function readDenseLayers(files: Pick<ModelPackage, 'modelJson' | 'weights'>): DenseLayerWeights[] {
  const pkg = denseFiles(files);
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
