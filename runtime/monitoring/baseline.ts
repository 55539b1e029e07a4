/**
 * baseline.json in a model package: the profile of the training (fit) split per feature and of the model's
 * predictions on the test split, written by training before manifest.json, so the manifest covers it.
 * A package written before baselines has none: readBaseline answers null and the monitor says so.
 *
 *   { "format_version": 1, "rows": 26048, "features": { "age": {NumericProfile}, "workclass": {CategoricalProfile} },
 *     "prediction": { "kind": "numeric", ... } | { "kind": "categorical", ... } | null }
 */
import { z } from 'zod';
import { checkFile, digestOf, packageLabel, PackageInvalidError, readManifest, type PackageTrust } from '../model/manifest';
import type { TaskKind } from '../model/package';
import type { PreprocessingState } from '../model/preprocessing';
import type { ObjectStore } from '../storage/object-store';
import { profileCategorical, profileNumeric, profileOf, type FeatureProfile } from './profile';

export const BASELINE_FILE = 'baseline.json';
export const BASELINE_FORMAT_VERSION = 1;

const count = z.number().int().nonnegative();
const numericSchema = z.strictObject({
  kind: z.literal('numeric'),
  count,
  missing: count,
  edges: z.array(z.number()),
  counts: z.array(count),
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  std: z.number().nonnegative(),
});
const categoricalSchema = z.strictObject({ kind: z.literal('categorical'), count, missing: count, frequencies: z.record(z.string(), count), other: count });
const profileSchema = z.discriminatedUnion('kind', [numericSchema, categoricalSchema]).refine((p) => p.kind !== 'numeric' || p.counts.length === p.edges.length + 1, {
  message: 'counts must have one more entry than edges',
});

const baselineSchema = z.strictObject({
  format_version: z.literal(BASELINE_FORMAT_VERSION),
  rows: count,
  features: z.record(z.string().min(1), profileSchema),
  prediction: profileSchema.nullable(),
  /** Binary: the class whose probability the prediction profile holds (the positive class); null otherwise. */
  score_class: z.string().nullable().default(null),
});

export type Baseline = z.output<typeof baselineSchema>;

export interface TrainingBaselineInput {
  /** The raw rows and the indices of the split the model was fitted on. */
  rows: readonly Record<string, unknown>[];
  indices: readonly number[];
  preprocessing: PreprocessingState;
  task: TaskKind;
  /** Test-split outputs as the model gives them: one probability (binary) or value (regression) per row, k per row (multiclass). */
  predictions: ArrayLike<number>;
  classes: readonly string[];
}

function* column(rows: readonly Record<string, unknown>[], indices: readonly number[], name: string): Generator<unknown> {
  for (const i of indices) yield rows[i][name];
}

function* argmaxLabels(outputs: ArrayLike<number>, classes: readonly string[]): Generator<string> {
  const k = classes.length;
  for (let row = 0; row + k <= outputs.length; row += k) {
    let best = 0;
    for (let c = 1; c < k; c++) if (outputs[row + c] > outputs[row + best]) best = c;
    yield classes[best];
  }
}

/** The prediction profile: scores (binary, regression) as numeric, predicted classes (multiclass) as categorical. */
export function predictionProfile(task: TaskKind, outputs: ArrayLike<number>, classes: readonly string[]): FeatureProfile | null {
  if (outputs.length === 0) return null;
  return task === 'multiclass' ? profileCategorical(argmaxLabels(outputs, classes)) : profileNumeric(Array.from(outputs));
}

/** The baseline of a training run: every feature of the preprocessing state (booleans as categories) over the fit split. */
export function trainingBaseline(input: TrainingBaselineInput): Baseline {
  const features: Record<string, FeatureProfile> = {};
  for (const f of input.preprocessing.features) {
    features[f.name] = profileOf(f.kind === 'numeric' ? 'numeric' : 'categorical', column(input.rows, input.indices, f.name));
  }
  const prediction = predictionProfile(input.task, input.predictions, input.classes);
  const score_class = input.task === 'binary' ? (input.classes[1] ?? null) : null;
  return { format_version: BASELINE_FORMAT_VERSION, rows: input.indices.length, features, prediction, score_class };
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Writes `<prefix>baseline.json`; call it before the package's manifest is written, so the manifest lists it. */
export async function writeBaseline(store: ObjectStore, prefix: string, baseline: Baseline): Promise<void> {
  await store.put(withSlash(prefix) + BASELINE_FILE, JSON.stringify(baseline) + '\n', { contentType: 'application/json' });
}

export function parseBaseline(bytes: Buffer, where: string): Baseline {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PackageInvalidError(`model package ${where}: ${BASELINE_FILE} is not valid JSON (${(err as Error).message})`);
  }
  const parsed = baselineSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PackageInvalidError(`model package ${where}: ${BASELINE_FILE}: ${issue.path.join('.') || '(root)'}: ${issue.message}; retrain to write a new baseline`);
  }
  return parsed.data;
}

/**
 * The package's baseline, checked against its manifest (and the manifest against the registry record in
 * `trust`); null when the package predates baselines (no baseline.json).
 */
export async function readBaseline(store: ObjectStore, prefix: string, trust: PackageTrust = {}): Promise<Baseline | null> {
  const base = withSlash(prefix);
  if (!(await store.exists(base + BASELINE_FILE))) return null;
  const where = packageLabel(store, base);
  const verified = await readManifest(store, base, trust);
  const bytes = await store.get(base + BASELINE_FILE);
  if (verified) checkFile(verified.manifest, where, BASELINE_FILE, digestOf(bytes));
  return parseBaseline(bytes, where);
}
