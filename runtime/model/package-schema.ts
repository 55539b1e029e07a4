/**
 * What a model package's files must say, checked at load before anything is served: metadata.json,
 * preprocessing.json and model/model.json against their schemas, then against each other and the weights
 * (the task and its classes, the features and the input width, the layers and the weight shapes).
 * A file that breaks them is refused with a message naming the file and the field (PackageInvalidError).
 */
import { z } from 'zod';
import { PackageInvalidError } from './manifest';
import { holdsTrees, type ModelJson, type ModelMetadata } from './package';
import { PREPROCESSING_FORMAT_VERSION, type FeatureState, type PreprocessingState } from './preprocessing';
import { TREES_FORMAT, type TreeEnsemble, type TreeNodes } from './trees';

const ACTIVATIONS = ['relu', 'sigmoid', 'softmax', 'linear', 'tanh'] as const;
const name = z.string().min(1);
const count = z.number().int().nonnegative();

const metadataSchema = z.object({
  format_version: z.literal(1),
  model_type: z.enum(['neural_network', 'gradient_boosting', 'logistic_regression', 'linear']).optional(),
  project: name,
  task: z.enum(['binary', 'multiclass', 'regression']),
  features: z.array(name).min(1),
  target: name,
  classes: z.array(z.string()),
  positive_class: z.string().nullable(),
  threshold: z.number().min(0).max(1),
  input_dim: z.number().int().positive(),
  layers: z.array(z.object({ units: z.number().int().positive(), activation: z.enum(ACTIVATIONS) })).min(1),
  created_at: z.string(),
  run_id: name,
  data_hash: z.string(),
  config_hash: z.string(),
  code_version: z.string(),
  data_uri: z.string().optional(),
  backend: z.string(),
});

const offset = count;
const preprocessingSchema = z.object({
  format_version: z.literal(PREPROCESSING_FORMAT_VERSION),
  features: z
    .array(
      z.discriminatedUnion('kind', [
        z.object({
          name,
          kind: z.literal('numeric'),
          transform: z.enum(['none', 'log1p']),
          fill: z.number(),
          imputation: z.enum(['median', 'mean']),
          missing_indicator: z.boolean(),
          mean: z.number(),
          std: z.number().positive(),
          clip_low: z.number(),
          clip_high: z.number(),
          offset,
        }),
        z.object({ name, kind: z.literal('boolean'), fill: z.number().min(0).max(1), missing_indicator: z.boolean(), offset }),
        z.object({ name, kind: z.literal('categorical'), categories: z.array(z.string()), offset }),
      ]),
    )
    .min(1),
  outputDim: z.number().int().positive(),
  output_names: z.array(z.string()),
  fitted_rows: count,
});

const modelJsonSchema = z.object({
  format: z.literal('layers-model'),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z
    .array(z.object({ paths: z.array(z.string()), weights: z.array(z.object({ name, shape: z.array(count), dtype: z.string() })) }))
    .min(1),
});

const layerSchema = z.object({
  class_name: z.string(),
  config: z.looseObject({ name, units: z.number().int().positive().optional(), activation: z.string().optional(), use_bias: z.boolean().optional() }),
});

/** The package's files by role, for messages. */
export interface PackageFileNames {
  metadata: string;
  preprocessing: string;
  modelJson: string;
  weights: string;
  trees: string;
}

/** Refuses with `model package <where>: <file>: <field>: <problem>`. */
type Refuse = (file: string, field: string, problem: string) => never;

function refuser(where: string): Refuse {
  return (file, field, problem) => {
    throw new PackageInvalidError(`model package ${where}: ${file}: ${field}: ${problem}`);
  };
}

function parse<T>(schema: z.ZodType<T>, doc: unknown, file: string, refuse: Refuse): T {
  const result = schema.safeParse(doc);
  if (!result.success) {
    const issue = result.error.issues[0];
    refuse(file, issue.path.join('.') || '(root)', issue.message);
  }
  return (result as { data: T }).data;
}

const list = (values: readonly unknown[]) => JSON.stringify(values);

function distinct(values: readonly string[]): boolean {
  return new Set(values).size === values.length;
}

/** The task, its classes and its output layer agree (an edited `task` is refused here, never served). */
function checkTask(m: ModelMetadata, file: string, refuse: Refuse): void {
  const last = m.layers[m.layers.length - 1];
  if (!distinct(m.classes)) refuse(file, 'classes', `lists a class twice: ${list(m.classes)}`);
  switch (m.task) {
    case 'regression':
      if (m.classes.length !== 0) refuse(file, 'classes', `a regression model has no classes, found ${list(m.classes)}`);
      if (m.positive_class !== null) refuse(file, 'positive_class', `a regression model has none, found ${list([m.positive_class])}`);
      if (last.units !== 1 || last.activation !== 'linear') refuse(file, 'layers', `a regression model ends in 1 linear unit, found ${last.units} ${last.activation}`);
      return;
    case 'binary':
      if (m.classes.length !== 2) refuse(file, 'classes', `a binary model has 2 classes [negative, positive], found ${list(m.classes)}`);
      if (m.positive_class !== m.classes[1]) refuse(file, 'positive_class', `must be the second class ${list([m.classes[1]])}, found ${list([m.positive_class])}`);
      if (!((last.units === 1 && last.activation === 'sigmoid') || (last.units === 2 && last.activation === 'softmax'))) {
        refuse(file, 'layers', `a binary model ends in 1 sigmoid unit (or 2 softmax units), found ${last.units} ${last.activation}`);
      }
      return;
    case 'multiclass':
      if (m.classes.length < 2) refuse(file, 'classes', `a multiclass model has at least 2 classes, found ${list(m.classes)}`);
      if (m.positive_class !== null) refuse(file, 'positive_class', `a multiclass model has none, found ${list([m.positive_class])}`);
      if (last.units !== m.classes.length || last.activation !== 'softmax') {
        refuse(file, 'layers', `a multiclass model of ${m.classes.length} classes ends in ${m.classes.length} softmax units, found ${last.units} ${last.activation}`);
      }
  }
}

function widthOf(f: FeatureState): number {
  return f.kind === 'categorical' ? f.categories.length + 1 : f.missing_indicator ? 2 : 1;
}

/** Offsets follow each other, the widths add up to outputDim, and the features are metadata's, in order. */
function checkPreprocessing(p: PreprocessingState, m: ModelMetadata, files: PackageFileNames, refuse: Refuse): void {
  let at = 0;
  p.features.forEach((f, i) => {
    if (f.offset !== at) refuse(files.preprocessing, `features.${i}.offset`, `feature "${f.name}" starts at column ${f.offset}, but the features before it end at ${at}`);
    if (f.kind === 'numeric' && f.clip_low > f.clip_high) refuse(files.preprocessing, `features.${i}.clip_low`, `${f.clip_low} is above clip_high ${f.clip_high}`);
    if (f.kind === 'categorical' && !distinct(f.categories)) refuse(files.preprocessing, `features.${i}.categories`, `feature "${f.name}" lists a category twice`);
    at += widthOf(f);
  });
  if (at !== p.outputDim) refuse(files.preprocessing, 'outputDim', `is ${p.outputDim}, but the features' columns add up to ${at}`);
  if (p.output_names.length !== p.outputDim) refuse(files.preprocessing, 'output_names', `names ${p.output_names.length} columns, but outputDim is ${p.outputDim}`);
  const names = p.features.map((f) => f.name);
  if (list(names) !== list(m.features)) refuse(files.metadata, 'features', `${list(m.features)} are not the features ${files.preprocessing} transforms, ${list(names)}`);
  if (m.input_dim !== p.outputDim) refuse(files.metadata, 'input_dim', `is ${m.input_dim}, but ${files.preprocessing} produces ${p.outputDim} columns`);
}

function topologyLayers(modelJson: ModelJson, file: string, refuse: Refuse): z.infer<typeof layerSchema>[] {
  const topology = modelJson.modelTopology as { model_config?: { config?: { layers?: unknown } }; config?: { layers?: unknown } };
  const layers = (topology.model_config ?? topology).config?.layers;
  return parse(z.array(layerSchema).min(1), layers, file, (f, field, problem) => refuse(f, `modelTopology layers${field === '(root)' ? '' : `.${field}`}`, problem));
}

/** The weights' size matches model.json's manifest, and every Dense layer's kernel and bias fit the layers around it and metadata's layers. */
function checkModel(modelJson: ModelJson, weightBytes: number, m: ModelMetadata, files: PackageFileNames, refuse: Refuse): void {
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  let expectedBytes = 0;
  specs.forEach((s, i) => {
    if (s.dtype !== 'float32') refuse(files.modelJson, `weightsManifest weights.${i}.dtype`, `${s.name} is ${s.dtype}; packages hold float32 weights only`);
    expectedBytes += s.shape.reduce((a, b) => a * b, 1) * 4;
  });
  if (expectedBytes !== weightBytes) refuse(files.weights, '(size)', `holds ${weightBytes} bytes, but ${files.modelJson}'s weightsManifest describes ${expectedBytes}`);
  const dense = topologyLayers(modelJson, files.modelJson, refuse).flatMap((layer, i) => {
    if (layer.class_name === 'Dropout' || layer.class_name === 'InputLayer') return [];
    if (layer.class_name !== 'Dense') refuse(files.modelJson, `modelTopology layers.${i}.class_name`, `${layer.class_name} is not supported in a model package (Dense and Dropout only)`);
    return [{ index: i, ...layer.config }];
  });
  if (dense.length !== m.layers.length) refuse(files.metadata, 'layers', `lists ${m.layers.length} layers, but ${files.modelJson} has ${dense.length} Dense layers`);
  let inputs = m.input_dim;
  dense.forEach((layer, i) => {
    const field = `modelTopology layers.${layer.index}`;
    const units = layer.units ?? 0;
    const activation = layer.activation ?? 'linear';
    if (units !== m.layers[i].units || activation !== m.layers[i].activation) {
      refuse(files.metadata, `layers.${i}`, `says ${m.layers[i].units} ${m.layers[i].activation}, but ${files.modelJson} layer ${layer.name} is ${units} ${activation}`);
    }
    const kernel = shapes.get(`${layer.name}/kernel`);
    if (!kernel) refuse(files.modelJson, field, `the weights of layer ${layer.name} (${layer.name}/kernel) are not in the weightsManifest`);
    if (kernel.length !== 2 || kernel[0] !== inputs || kernel[1] !== units) {
      refuse(files.modelJson, `${field} kernel shape`, `layer ${layer.name} takes ${inputs} inputs to ${units} units, but its kernel is ${list(kernel)}`);
    }
    const bias = shapes.get(`${layer.name}/bias`);
    if (layer.use_bias !== false && (!bias || bias.length !== 1 || bias[0] !== units)) {
      refuse(files.modelJson, `${field} bias shape`, `layer ${layer.name} has ${units} units, but its bias is ${bias ? list(bias) : 'missing'}`);
    }
    inputs = units;
  });
}

const treeNodesSchema = z.object({
  feature: z.array(count),
  threshold: z.array(z.number()),
  default_left: z.array(z.boolean()),
  categories: z.array(z.array(z.number().int()).nullable()),
  left: z.array(z.number().int()),
  right: z.array(z.number().int()),
  gain: z.array(z.number()),
  leaf_values: z.array(z.number()).min(1),
});

const treesSchema = z.object({
  format: z.literal(TREES_FORMAT),
  columns: z
    .array(z.discriminatedUnion('kind', [z.object({ name, kind: z.literal('numeric'), at: count }), z.object({ name, kind: z.literal('categorical'), at: count, width: z.number().int().positive() })]))
    .min(1),
  outputs: z.number().int().positive(),
  link: z.enum(['sigmoid', 'softmax', 'identity']),
  base_score: z.array(z.number()),
  trees: z.array(treeNodesSchema),
});

const LINK_OF_ACTIVATION: Record<string, string> = { sigmoid: 'sigmoid', softmax: 'softmax', linear: 'identity' };

/** Every node's arrays agree in length, split on a known column, and point at nodes or leaves that exist. */
function checkTree(tree: TreeNodes, t: number, columns: number, file: string, refuse: Refuse): void {
  const nodes = tree.feature.length;
  const lengths = [tree.threshold, tree.default_left, tree.categories, tree.left, tree.right, tree.gain].map((a) => a.length);
  if (lengths.some((l) => l !== nodes)) refuse(file, `trees.${t}`, `node arrays differ in length (${nodes} features, ${list(lengths)})`);
  if (tree.leaf_values.length !== nodes + 1) refuse(file, `trees.${t}.leaf_values`, `${nodes} splits make ${nodes + 1} leaves, found ${tree.leaf_values.length}`);
  tree.feature.forEach((f, i) => {
    if (f >= columns) refuse(file, `trees.${t}.feature.${i}`, `column ${f} does not exist (${columns} columns)`);
    for (const child of [tree.left[i], tree.right[i]]) {
      if (child >= 0 ? child <= i || child >= nodes : ~child >= nodes + 1) refuse(file, `trees.${t}.left/right.${i}`, `child ${child} is not a later node or a leaf`);
    }
  });
}

/** trees.json fits metadata's output layer and the preprocessing's columns. */
function checkTrees(e: TreeEnsemble, m: ModelMetadata, file: string, refuse: Refuse): void {
  const last = m.layers[m.layers.length - 1];
  if (e.outputs !== last.units || LINK_OF_ACTIVATION[last.activation] !== e.link) refuse(file, 'outputs', `${e.outputs} ${e.link} outputs do not match metadata's ${last.units} ${last.activation}`);
  if (e.base_score.length !== e.outputs) refuse(file, 'base_score', `has ${e.base_score.length} values for ${e.outputs} outputs`);
  if (e.trees.length % e.outputs !== 0) refuse(file, 'trees', `${e.trees.length} trees do not divide among ${e.outputs} outputs`);
  e.columns.forEach((c, i) => {
    if (c.at + (c.kind === 'categorical' ? c.width : 1) > m.input_dim) refuse(file, `columns.${i}`, `reads past the ${m.input_dim} preprocessed columns`);
  });
  e.trees.forEach((tree, t) => checkTree(tree, t, e.columns.length, file, refuse));
}

export interface UncheckedPackageDocs {
  metadata: unknown;
  preprocessing: unknown;
  modelJson: unknown;
  weightBytes: number;
}

/**
 * Validates a package's parsed files (`where` is its URI, for messages): each against its schema, then
 * against each other. Returns them typed.
 */
export function validatePackageDocs(
  docs: UncheckedPackageDocs,
  where: string,
  files: PackageFileNames,
): { metadata: ModelMetadata; preprocessing: PreprocessingState; modelJson: ModelJson; trees?: TreeEnsemble } {
  const refuse = refuser(where);
  // Parsed to check; the documents themselves are returned, unchanged.
  parse(metadataSchema, docs.metadata, files.metadata, refuse);
  const metadata = docs.metadata as ModelMetadata;
  if (!distinct(metadata.features)) refuse(files.metadata, 'features', `lists a feature twice: ${list(metadata.features)}`);
  checkTask(metadata, files.metadata, refuse);
  parse(preprocessingSchema, docs.preprocessing, files.preprocessing, refuse);
  const preprocessing = docs.preprocessing as PreprocessingState;
  checkPreprocessing(preprocessing, metadata, files, refuse);
  if (holdsTrees(metadata)) {
    if (metadata.layers.length !== 1) refuse(files.metadata, 'layers', `a tree model lists its output as one layer, found ${metadata.layers.length}`);
    parse(treesSchema, docs.modelJson, files.trees, refuse);
    checkTrees(docs.modelJson as TreeEnsemble, metadata, files.trees, refuse);
    return { metadata, preprocessing, modelJson: docs.modelJson as ModelJson, trees: docs.modelJson as TreeEnsemble };
  }
  parse(modelJsonSchema, docs.modelJson, files.modelJson, refuse);
  const modelJson = docs.modelJson as ModelJson;
  checkModel(modelJson, docs.weightBytes, metadata, files, refuse);
  return { metadata, preprocessing, modelJson };
}
