/**
 * The one typed description of the project. Every JSON file under config/ is
 * validated here; runtime/ and infra/ only ever see the parsed, typed values.
 */
import { z } from 'zod';

export const ENVIRONMENTS = ['dev', 'qa', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export const CLOUDS = ['aws', 'gcp', 'azure'] as const;
export type CloudName = (typeof CLOUDS)[number];

/** "expected a number <= 65536", "expected at least 1 item": zod's bound in words (undefined when it has another shape). */
export function boundText(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall): string | undefined {
  const big = issue.code === 'too_big';
  const limit = Number(big ? (issue as z.core.$ZodIssueTooBig).maximum : (issue as z.core.$ZodIssueTooSmall).minimum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'number' || issue.origin === 'int') {
    return `expected a number ${big ? (inclusive ? '<=' : '<') : inclusive ? '>=' : '>'} ${limit}`;
  }
  const unit = issue.origin === 'array' || issue.origin === 'set' ? 'item' : issue.origin === 'string' ? 'character' : undefined;
  if (unit === undefined) return undefined;
  return `expected ${big ? 'at most' : 'at least'} ${limit} ${unit}${limit === 1 ? '' : 's'}`;
}

const positiveInt = z.number().int().positive();
/** A whole number in [min, max]: every count, size and duration has a ceiling a consumer can meet. */
const intIn = (min: number, max: number) => z.number().int().min(min).max(max);
const fraction = z.number().gt(0).lt(1);

/**
 * Ceilings of the numeric keys (README "Configuration" documents them). Training checks batch_size against
 * the rows it actually has once it has read them.
 */
export const LIMITS = {
  batchSize: 65_536,
  epochs: 10_000,
  hiddenLayers: 32,
  layerUnits: 8_192,
  l2: 1,
  trials: 1_000,
  eta: 100,
  seed: 4_294_967_295,
  servingBatchRows: 1_000_000,
  servingBodyBytes: 104_857_600,
  pageSize: 100_000,
  requestsPerSecond: 10_000,
  timeoutMs: 3_600_000,
  attempts: 100,
  retryAfterMs: 86_400_000,
  partRows: 10_000_000,
  databaseBatch: 1_000_000,
  trees: 100_000,
  leaves: 131_072,
  treeDepth: 64,
  maxBins: 255,
  minDataInLeaf: 1_000_000,
  lambdaL2: 1_000_000,
} as const;
/** A key prefix inside a bucket: no leading slash, ends with a slash. */
const prefix = z
  .string()
  .regex(/^(?!\/)([A-Za-z0-9._-]+\/)+$/, 'a relative prefix such as "data/raw/" (no leading slash, trailing slash)');

const numberRange = z
  .object({
    min: z.number(),
    max: z.number(),
    /** Sample on a log scale (learning rates). */
    log: z.boolean().default(false),
    /** Round samples to integers (layer sizes, batch sizes). */
    integer: z.boolean().default(false),
  })
  .strict()
  .refine((r) => r.min <= r.max, { message: 'min must be <= max' })
  .refine((r) => !r.log || r.min > 0, { message: 'a log-scale range needs min > 0' });

/** Candidate values; each is checked against its parameter's own rule (checkSearchSpace). */
const choice = z.object({ values: z.array(z.union([z.number(), z.string(), z.array(z.number())])).min(1) }).strict();

const layerUnits = intIn(1, LIMITS.layerUnits);

/** model_type "gradient_boosting": histogram gradient-boosted trees (runtime/training/gbdt.ts). */
export const gradientBoostingParamsSchema = z
  .object({
    /** Boosting rounds at most (one tree per output each); early stopping usually ends sooner. */
    num_trees: intIn(1, LIMITS.trees).default(500),
    learning_rate: z.number().positive().max(1).default(0.1),
    num_leaves: intIn(2, LIMITS.leaves).default(31),
    /** 0: no limit (growth is leaf-wise, bounded by num_leaves). */
    max_depth: intIn(0, LIMITS.treeDepth).default(0),
    /** Bins per numeric column, the missing-value bin included. */
    max_bins: intIn(4, LIMITS.maxBins).default(255),
    min_data_in_leaf: intIn(1, LIMITS.minDataInLeaf).default(20),
    lambda_l2: z.number().min(0).max(LIMITS.lambdaL2).default(0),
    /** Share of the fit rows each round samples (seeded). */
    bagging_fraction: z.number().gt(0).max(1).default(1),
    /** Share of the columns each round samples (seeded). */
    feature_fraction: z.number().gt(0).max(1).default(1),
    /** Rounds without a better validation loss before boosting stops. */
    early_stopping_rounds: intIn(1, LIMITS.trees).default(20),
  })
  .strict();

/** model_type "logistic_regression" / "linear": an L2-regularised linear model fitted by Adam on mini-batches. */
export const linearParamsSchema = z
  .object({
    l2: z.number().min(0).max(LIMITS.l2).default(0.0001),
    learning_rate: z.number().positive().max(1).default(0.01),
    epochs: intIn(1, LIMITS.epochs).default(60),
    batch_size: intIn(1, LIMITS.batchSize).default(256),
    /** Epochs without a better validation loss before training stops. */
    early_stopping_patience: intIn(1, LIMITS.epochs).default(5),
  })
  .strict();

/** The types a run trains; "auto" trains several of them and keeps the best. */
export const TRAINED_MODEL_TYPES = ['neural_network', 'gradient_boosting', 'logistic_regression', 'linear'] as const;
export type TrainedModelType = (typeof TRAINED_MODEL_TYPES)[number];
export const MODEL_TYPES = [...TRAINED_MODEL_TYPES, 'auto'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** model_type "auto": the candidates trained on the same split; the best on the validation metric is packaged. */
export const autoParamsSchema = z
  .object({ candidates: z.array(z.enum(TRAINED_MODEL_TYPES)).min(1).default(['gradient_boosting', 'logistic_regression', 'neural_network']) })
  .strict();

export const trainingParamsSchema = z
  .object({
    /** Parameters of model_type "gradient_boosting" (defaults apply when omitted). */
    gradient_boosting: gradientBoostingParamsSchema.prefault({}),
    /** Parameters of model_type "logistic_regression" and "linear" (defaults apply when omitted). */
    linear: linearParamsSchema.prefault({}),
    /** Candidates of model_type "auto". */
    auto: autoParamsSchema.prefault({}),
    batch_size: intIn(1, LIMITS.batchSize),
    epochs: intIn(1, LIMITS.epochs),
    /** Units per hidden layer, e.g. [64, 64]. Takes precedence over hidden_size. */
    hidden_layers: z.array(layerUnits).min(1).max(LIMITS.hiddenLayers).optional(),
    /** Seed-compatible shorthand: one hidden layer of this size. */
    hidden_size: layerUnits.optional(),
    learning_rate: z.number().positive().max(1),
    dropout: z.number().min(0).lt(1).default(0),
    /** Share of the training split held out for early stopping and validation metrics. */
    validation_split: fraction.default(0.1),
    /** Epochs without improvement of the validation metric before training stops. */
    early_stopping_patience: intIn(1, LIMITS.epochs).default(5),
    /** L2 weight decay on dense kernels. */
    l2: z.number().min(0).max(LIMITS.l2).default(0),
  })
  .strict()
  .refine((p) => p.hidden_layers !== undefined || p.hidden_size !== undefined, {
    message: 'give hidden_layers (e.g. [64, 64]) or hidden_size (e.g. 128)',
    path: ['hidden_layers'],
  });

/** The nested blocks of training_params that hold one model type's parameters. */
const MODEL_PARAM_BLOCKS = ['gradient_boosting', 'linear', 'auto'] as const;

/** The training parameters of model_type "neural_network" a search space may name: the flat keys of training_params. */
export const TRAINING_PARAMETERS = Object.keys(trainingParamsSchema.shape).filter((k) => !(MODEL_PARAM_BLOCKS as readonly string[]).includes(k)) as (keyof TrainingParams)[];

/**
 * The parameters a search space (and a trial's overrides) may name for a model type, with the schema of each.
 * Trees and linear models name their block's keys (learning_rate is then the block's), and validation_split.
 */
export function searchParameters(modelType: ModelType): Record<string, z.ZodType> {
  const flat = trainingParamsSchema.shape as Record<string, z.ZodType>;
  // auto compares model types; tuning one type's parameters is done with that model_type.
  if (modelType === 'auto') return {};
  if (modelType === 'neural_network') return Object.fromEntries(TRAINING_PARAMETERS.map((k) => [k, flat[k]]));
  const block = modelType === 'gradient_boosting' ? gradientBoostingParamsSchema : linearParamsSchema;
  return { ...(block.shape as Record<string, z.ZodType>), validation_split: flat.validation_split };
}

type SearchDimensionConfig = z.infer<typeof numberRange> | z.infer<typeof choice>;

/** Why the first value a parameter refuses is refused, or undefined when it takes them all. */
function refusal(schema: z.ZodType, values: readonly unknown[]): string | undefined {
  for (const value of values) {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue.path.length ? ` (item ${issue.path.join('.')})` : '';
      const why = issue.code === 'too_big' || issue.code === 'too_small' ? (boundText(issue) ?? issue.message) : issue.message;
      return `${JSON.stringify(value)}${where}: ${why}`;
    }
  }
  return undefined;
}

/** True for a parameter that refuses fractions (batch_size, epochs, ...): a range over it must round its samples. */
function wholeNumbersOnly(schema: z.ZodType): boolean {
  const parsed = schema.safeParse(1.5);
  return !parsed.success && parsed.error.issues.some((i) => i.code === 'invalid_type' && i.expected === 'int');
}

/** Each search-space key is a training parameter of the model type, and every value the dimension can sample is one it accepts. */
function checkSearchSpace(modelType: ModelType, space: Record<string, SearchDimensionConfig>, ctx: z.RefinementCtx): void {
  const params = searchParameters(modelType);
  for (const [key, dim] of Object.entries(space)) {
    const path = ['tuning', 'search_space', key];
    const schema = params[key];
    if (!schema) {
      const where = modelType === 'neural_network' ? 'training_params keys' : `training_params keys of its block, or validation_split`;
      ctx.addIssue({ code: 'custom', path, message: `"${key}" is not a training parameter of model_type "${modelType}": search_space keys must be ${where} (${Object.keys(params).join(', ')})` });
      continue;
    }
    if ('values' in dim) {
      const why = refusal(schema, dim.values);
      if (why) ctx.addIssue({ code: 'custom', path: [...path, 'values'], message: `not a valid ${key}: ${why}` });
      continue;
    }
    if (!dim.integer && wholeNumbersOnly(schema)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'integer'], message: `${key} takes whole numbers: add "integer": true to the range` });
      continue;
    }
    const ends = dim.integer ? [Math.round(dim.min), Math.round(dim.max)] : [dim.min, dim.max];
    const why = refusal(schema, ends);
    if (why) ctx.addIssue({ code: 'custom', path, message: `the range {min: ${dim.min}, max: ${dim.max}} samples values ${key} refuses: ${why}` });
  }
}

export const tuningSchema = z
  .object({
    strategy: z.enum(['random', 'successive_halving']).default('random'),
    trials: intIn(1, LIMITS.trials).default(8),
    /** Validation metric to maximise (auc, accuracy) or minimise (loss, rmse). */
    metric: z.enum(['auc', 'accuracy', 'loss', 'rmse']).default('auc'),
    /** Successive halving: keep the best 1/eta of trials at each rung. */
    eta: intIn(2, LIMITS.eta).default(3),
    min_epochs: intIn(1, LIMITS.epochs).default(2),
    /** Checked against model_type's parameters by pipelineSchema. */
    search_space: z.record(z.string(), z.union([numberRange, choice])),
  })
  .strict();

const gateBounds = z
  .object({ min: z.number().optional(), max: z.number().optional() })
  .strict()
  .refine((b) => b.min !== undefined || b.max !== undefined, { message: 'give min, max or both' })
  .refine((b) => b.min === undefined || b.max === undefined || b.min <= b.max, { message: 'min must be <= max' });

export const pipelineSchema = z
  .object({
    /** Names resources and the registry's model group. */
    project: z
      .string()
      .regex(/^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,30}$/, 'lowercase letters, digits and single dashes, 2-31 chars, starting with a letter, not ending with a dash'),
    model_type: z.enum(MODEL_TYPES),
    /** binary, multiclass or regression; inferred from the target column when omitted. */
    task: z.enum(['binary', 'multiclass', 'regression']).optional(),
    features: z.array(z.string().min(1)).min(1),
    target: z.string().min(1),
    /** Columns to one-hot encode; other columns' types are inferred from the data. */
    categorical_features: z.array(z.string().min(1)).optional(),
    /** For binary targets: the label that counts as positive (e.g. ">50K"). */
    positive_class: z.union([z.string(), z.number()]).optional(),
    train_split: fraction,
    /** Seed for splits, initialisation and tuning. */
    seed: intIn(0, LIMITS.seed).default(42),
    training_params: trainingParamsSchema,
    tuning: tuningSchema.optional(),
    /** Optional copies of each tracked run in the team's own tracker (runtime/tracking/mlflow.ts, docs/tracking.md). */
    tracking: z
      .object({
        mlflow: z
          .object({
            /** The MLflow tracking server's base URL (its REST API 2.0 is under /api/2.0/mlflow/). */
            tracking_uri: z.string().url().regex(/^https?:\/\//, 'an http(s) URL of the MLflow tracking server'),
            /** The MLflow experiment the runs go to (created when missing); default: the project. */
            experiment: z.string().min(1).max(500).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** Logical endpoint name; each cloud derives its resource name from it and the environment. */
    endpoint_name: z.string().regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,40}$/, 'letters, digits and dashes, at most 41 chars'),
    serving: z
      .object({
        max_batch_size: intIn(1, LIMITS.servingBatchRows).default(1000),
        max_body_bytes: intIn(1, LIMITS.servingBodyBytes).default(1_500_000),
      })
      .strict()
      .default({ max_batch_size: 1000, max_body_bytes: 1_500_000 }),
    /**
     * Metrics a model needs before it may be promoted: a number is a floor for higher-is-better metrics (auc) and a
     * ceiling for lower-is-better ones (log_loss, *_ms, *_bytes; runtime/contract/metrics.ts); {min, max} is explicit.
     */
    promotion_gates: z.record(z.string(), z.union([z.number(), gateBounds])).default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.features.includes(p.target)) {
      ctx.addIssue({ code: 'custom', path: ['features'], message: `the target "${p.target}" must not be a feature` });
    }
    if (p.tuning) checkSearchSpace(p.model_type, p.tuning.search_space, ctx);
    const dup = p.features.find((f, i) => p.features.indexOf(f) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['features'], message: `feature "${dup}" is listed twice` });
    for (const c of p.categorical_features ?? []) {
      if (!p.features.includes(c)) {
        ctx.addIssue({ code: 'custom', path: ['categorical_features'], message: `"${c}" is not in features` });
      }
    }
  });

const fieldRule = z
  .object({
    type: z.enum(['number', 'integer', 'string', 'boolean', 'timestamp']),
    required: z.boolean().default(false),
    min: z.number().optional(),
    max: z.number().optional(),
    allowed: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
    /** Largest share of null values tolerated in a run (0..1); above it the run fails. */
    max_null_share: z.number().min(0).max(1).optional(),
  })
  .strict()
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, { message: 'min must be <= max' });

/**
 * Where and how ingestion reads its source (parser.json "ingestion"). Every key is optional;
 * the defaults match the built-in sample API (`runtime/ingestion/sample-api.ts`).
 */
export const ingestionSchema = z
  .object({
    /** Source field names the source promises; lets a bad selected_fields fail before any fetch. */
    source_fields: z.array(z.string().min(1)).optional(),
    pagination: z
      .object({
        /** page: ?page=N&page_size=S; offset: ?offset=N&limit=S; cursor: ?cursor=C from the body; link: the Link header's rel="next"; none: one request. */
        style: z.enum(['page', 'offset', 'cursor', 'link', 'none']).default('page'),
        page_size: intIn(1, LIMITS.pageSize).default(1000),
        /** Query parameter carrying the page number (style page); the first page is start_page. */
        page_param: z.string().min(1).default('page'),
        start_page: z.number().int().min(0).default(1),
        /** Query parameter carrying the page size (styles page, offset, cursor, link). */
        size_param: z.string().min(1).default('page_size'),
        /** Query parameter carrying the row offset (style offset). */
        offset_param: z.string().min(1).default('offset'),
        /** Query parameter carrying the cursor (style cursor). */
        cursor_param: z.string().min(1).default('cursor'),
        /** Dotted path of the next cursor in the response body (style cursor); null/absent ends the listing. */
        cursor_path: z.string().min(1).default('next_cursor'),
        /** Stop after this many pages (a safety net for endless APIs). */
        max_pages: positiveInt.optional(),
      })
      .strict()
      .prefault({}),
    /** Dotted path of the records array in each response body; "" when the body itself is the array. */
    results_path: z.string().default('data'),
    /** Extra query parameters sent with every request. */
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** Query parameter carrying the last watermark (records with a larger watermark_field are returned). */
    watermark_param: z.string().min(1).default('since'),
    /** Authentication header; the secret comes from an environment variable or a mounted secret file, never from config. */
    auth: z
      .object({
        header: z.string().min(1).default('Authorization'),
        /** Prefix before the token, e.g. "Bearer"; "" sends the token alone. */
        scheme: z.string().default('Bearer'),
        token_env: z.string().min(1).optional(),
        token_file: z.string().min(1).optional(),
      })
      .strict()
      .refine((a) => a.token_env !== undefined || a.token_file !== undefined, { message: 'give token_env or token_file' })
      .optional(),
    /** Requests per second (token bucket) and the burst it allows. */
    rate_limit: z
      .object({ per_second: z.number().positive().max(LIMITS.requestsPerSecond).default(50), burst: intIn(1, LIMITS.requestsPerSecond).default(5) })
      .strict()
      .prefault({}),
    /** Per-request timeout, including reading the body. */
    timeout_ms: intIn(1, LIMITS.timeoutMs).default(30_000),
    /** Retries on 5xx, 429, timeouts and connection resets: exponential backoff with jitter, capped. */
    retries: z
      .object({
        max_attempts: intIn(1, LIMITS.attempts).default(6),
        base_delay_ms: intIn(0, LIMITS.timeoutMs).default(250),
        max_delay_ms: intIn(0, LIMITS.timeoutMs).default(20_000),
        /** Longest Retry-After honoured on a 429; longer asks fail the run. */
        max_retry_after_ms: intIn(0, LIMITS.retryAfterMs).default(120_000),
      })
      .strict()
      .refine((r) => r.base_delay_ms <= r.max_delay_ms, { message: 'base_delay_ms must be <= max_delay_ms', path: ['base_delay_ms'] })
      .prefault({}),
    /** Raw JSONL is written in parts of at most this many rows; each part is a resume checkpoint. */
    raw_part_rows: intIn(1, LIMITS.partRows).default(50_000),
    /** PostgreSQL / MySQL sources: the query (or table) read with a cursor, batch_size rows at a time. */
    database: z
      .object({
        query: z.string().min(1).optional(),
        table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'a table name (letters, digits, _ and .)').optional(),
        batch_size: intIn(1, LIMITS.databaseBatch).default(1000),
      })
      .strict()
      .optional(),
    /** File sources: CSV delimiter (.csv) — JSONL needs no options. */
    csv_delimiter: z.string().length(1).default(','),
    /**
     * Processed field name(s) (after field_mappings) that identify a record: a valid row whose key was already
     * written in this run is dropped as a duplicate (counted in the quality report). Without it, whole-row
     * duplicates are only counted.
     */
    unique_key: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Which of a key's duplicates is kept: the first valid row of the run, or the last. */
    keep: z.enum(['first', 'last']).default('first'),
    /** A REST read that would fetch more pages than this fails (a runaway or looping API); see also pagination.max_pages. */
    max_pages: intIn(1, 100_000_000).default(100_000),
    /** Missing, new or retyped source fields: warn (report and stderr) or fail the run (DATA_QUALITY). */
    on_schema_change: z.enum(['warn', 'fail']).default('warn'),
  })
  .strict();

export const parserSchema = z
  .object({
    /** Fields kept in processed data, named after field_mappings is applied. */
    selected_fields: z.array(z.string().min(1)).min(1),
    /** Source field name -> processed field name. */
    field_mappings: z.record(z.string(), z.string().min(1)).default({}),
    /** Validation rules per processed field name. */
    validation: z
      .object({
        /**
         * Largest share of a run's rows that may be quarantined (0..1); above it the run fails naming the top
         * reasons. Not a field name: the one run-wide key beside the per-field rules. Default DEFAULT_MAX_QUARANTINE_SHARE.
         */
        max_quarantine_share: z.number().min(0).max(1).optional(),
      })
      .catchall(fieldRule)
      .default({}),
    /** Field used for incremental loading: only records with a larger value are fetched on a rerun. */
    watermark_field: z.string().min(1).optional(),
    /** Source options (pagination, auth, rate limit, retries, database query); see docs/ingestion.md. */
    ingestion: ingestionSchema.prefault({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    const dup = p.selected_fields.find((f, i) => p.selected_fields.indexOf(f) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['selected_fields'], message: `field "${dup}" is listed twice` });
    const sourceOf = new Map<string, string>();
    for (const [source, target] of Object.entries(p.field_mappings)) {
      const first = sourceOf.get(target);
      if (first === undefined) sourceOf.set(target, source);
      else {
        ctx.addIssue({
          code: 'custom',
          path: ['field_mappings', source],
          message: `two source fields are mapped to the same name "${target}": "${first}" and "${source}"; give each a distinct name`,
        });
      }
    }
    // Every key that names a processed field must name one ingestion keeps (runtime/ingestion/fields.ts planFields).
    const mustBeSelected = (path: (string | number)[], name: string, role: string) => {
      if (p.selected_fields.includes(name)) return;
      const renamed = p.field_mappings[name];
      const hint =
        renamed !== undefined
          ? `: it is a source field that field_mappings renames, so use the processed name "${renamed}"`
          : `; selected_fields has: ${p.selected_fields.join(', ')}`;
      ctx.addIssue({ code: 'custom', path, message: `${role} "${name}" is not in selected_fields${hint}` });
    };
    for (const name of Object.keys(p.validation)) if (name !== 'max_quarantine_share') mustBeSelected(['validation', name], name, 'validated field');
    if (p.watermark_field !== undefined) mustBeSelected(['watermark_field'], p.watermark_field, 'watermark field');
    for (const [path, key] of uniqueKeys(p)) mustBeSelected(path, key, 'unique key field');
  });

/** The fields of a unique key (`ingestion.unique_key` or `unique_key`: a name or a list of names), with their key paths. */
function uniqueKeys(parser: object): [(string | number)[], string][] {
  const found: [(string | number)[], string][] = [];
  const at = (base: string[], value: unknown) => {
    if (typeof value === 'string') found.push([base, value]);
    else if (Array.isArray(value)) value.forEach((v, i) => typeof v === 'string' && found.push([[...base, i], v]));
  };
  at(['unique_key'], (parser as { unique_key?: unknown }).unique_key);
  at(['ingestion', 'unique_key'], (parser as { ingestion?: { unique_key?: unknown } }).ingestion?.unique_key);
  return found;
}

const autoscaling = z
  .object({
    min_capacity: z.number().int().min(0),
    max_capacity: positiveInt,
    /** AWS: invocations per instance per minute; GCP/Azure: concurrent requests per instance. */
    target_value: z.number().positive(),
  })
  .strict()
  .refine((a) => a.min_capacity <= a.max_capacity, {
    message: 'min_capacity must be <= max_capacity',
    path: ['min_capacity'],
  });

const storage = z
  .object({
    /** S3 bucket, GCS bucket, or Azure storage account (3-24 lowercase letters and digits). */
    bucket: z.string().min(3).max(63),
    /** Azure only: blob container inside the storage account. */
    container: z.string().min(3).max(63).optional(),
    raw_path: prefix.default('data/raw/'),
    processed_path: prefix.default('data/processed/'),
    models_path: prefix.default('models/'),
    checkpoints_path: prefix.default('checkpoints/'),
  })
  .strict();

const training = z
  .object({
    /** ml.g5.xlarge (AWS), n1-standard-8 / g2-standard-8 (GCP), Standard_NC4as_T4_v3 (Azure). */
    instance_type: z.string().min(1),
    instance_count: positiveInt.default(1),
    /** Accelerator, e.g. nvidia-a10g, nvidia-l4, nvidia-tesla-t4; null for CPU training. */
    gpu_type: z.string().min(1).nullable().default(null),
    gpu_count: z.number().int().min(0).default(0),
    /** Fail (synth and training) when no GPU is available. */
    require_gpu: z.boolean().default(false),
    /** Spot (AWS), preemptible/spot (GCP) or low priority (Azure) capacity, resumed from checkpoints. */
    spot: z.boolean().default(false),
    max_runtime_seconds: positiveInt.default(86_400),
    /** AWS spot: how long to wait for capacity (including runtime); must be >= max_runtime_seconds. */
    max_wait_seconds: positiveInt.optional(),
    volume_size_gb: positiveInt.default(50),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.require_gpu && (t.gpu_type === null || t.gpu_count < 1)) {
      ctx.addIssue({ code: 'custom', path: ['gpu_count'], message: 'require_gpu is true: set gpu_type and gpu_count >= 1' });
    }
    if (t.max_wait_seconds !== undefined && t.max_wait_seconds < t.max_runtime_seconds) {
      ctx.addIssue({ code: 'custom', path: ['max_wait_seconds'], message: 'must be >= max_runtime_seconds' });
    }
  });

const serving = z
  .object({
    /** ml.c6i.large (AWS); for Cloud Run / Container Apps the cpu and memory below apply. */
    instance_type: z.string().min(1),
    cpu: z.string().default('1'),
    memory: z.string().default('2Gi'),
    gpu_type: z.string().min(1).nullable().default(null),
    autoscaling,
  })
  .strict();

const cloudBase = {
  region: z.string().min(1),
  storage,
  training,
  serving,
  /** Container image tag deployed in this environment; promotion rewrites it. */
  image_tag: z.string().min(1).default('latest'),
};

export const awsSchema = z
  .object({
    ...cloudBase,
    /** Account id; omit for an environment-agnostic stack (synth works offline either way). */
    account: z.string().regex(/^\d{12}$/).optional(),
    /** Data capture share of requests (0-100) sent to the bucket. */
    data_capture_percent: z.number().int().min(0).max(100).default(20),
  })
  .strict();

export const gcpSchema = z
  .object({
    ...cloudBase,
    project_id: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a GCP project id (6-30 lowercase letters, digits, dashes)'),
    /** Cloud Run serving URL (the gcp-<env> stack's serving_url output), used by `mlstack invoke --cloud gcp`. */
    endpoint_url: z.string().url().optional(),
  })
  .strict();

export const azureSchema = z
  .object({
    ...cloudBase,
    resource_group: z.string().min(1).max(90),
    /** Container App serving URL (the azure-<env> stack's serving_url output), used by `mlstack invoke --cloud azure`. */
    endpoint_url: z.string().url().optional(),
  })
  .strict();

const driftThreshold = z.number().min(0).max(10);
/** Drift thresholds per metric (a metric drifts when its value is greater); see docs/monitoring.md. */
const metricThresholds = z
  .object({
    psi: driftThreshold.optional(),
    js: z.number().min(0).max(1).optional(),
    ks: z.number().min(0).max(1).optional(),
    missing_share: z.number().min(0).max(1).optional(),
    unseen_share: z.number().min(0).max(1).optional(),
  })
  .strict();

export const monitoringSchema = z
  .object({
    /** When the scheduled monitor job runs (cron, UTC, the ingestion_schedule syntax). */
    schedule: z.string().min(1).default('cron(0 4 * * ? *)'),
    /** Share of requests (0-100) the serving runtime writes to the store; 0 turns capture off. */
    capture_percent: z.number().min(0).max(100).default(0),
    /** Seconds between capture flushes to the store (1-3600). */
    capture_flush_seconds: z.number().int().min(1).max(3600).default(60),
    thresholds: metricThresholds
      .extend({
        /** Per feature: the metrics that differ from the ones above. */
        features: z.record(z.string().min(1), metricThresholds).optional(),
        /** For the prediction's distribution. */
        prediction: metricThresholds.optional(),
      })
      .strict()
      .default({}),
    /** What drift does: alert (the alarm fires) or retrain (ingestion then training; promotion still gates). */
    on_drift: z.enum(['alert', 'retrain']).default('alert'),
    /** Ground truth: a CSV or JSONL object in the environment's store with a request id and the true label. */
    labels: z
      .object({
        key: z.string().min(1),
        id_field: z.string().min(1).default('request_id'),
        /** @default pipeline.json's target */
        label_field: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const environmentSchema = z
  .object({
    name: z.enum(ENVIRONMENTS),
    /** The model version pinned for this environment (null until the first promotion); `mlstack promote` writes it. */
    model_version: z
      .string()
      .regex(/^v[1-9]\d*$/, 'a registered version such as "v3" (mlstack promote writes it), or null')
      .nullable(),
    /** prod keeps buckets and registries on stack deletion; others are destroyed. */
    retain_on_delete: z.boolean().default(false),
    /** Email (or other SNS/notification endpoint) receiving alarms. */
    alarm_email: z.string().email().optional(),
    /** Ingestion schedule (cron, UTC) for the scheduled ingestion task. */
    ingestion_schedule: z.string().default('cron(0 2 * * ? *)'),
    /**
     * What the scheduled ingestion job reads: an http(s) API URL, an s3:// gs:// az:// object URI, or a postgres:// /
     * mysql:// URL. Never credentials: the API token goes into the stack's secret.
     */
    ingestion_source: z
      .string()
      .regex(/^(https?|s3|gs|az|postgres|postgresql|mysql):\/\/\S+$/, 'an http(s), s3, gs, az, postgres or mysql URL')
      .refine((u) => !/^[a-z]+:\/\/[^/@]*:[^/@]*@/.test(u), { message: 'must not carry a password: put credentials in the secret' })
      .optional(),
    /** Drift and performance monitoring: capture, schedule, thresholds, what drift does (docs/monitoring.md). */
    monitoring: monitoringSchema.default({ schedule: 'cron(0 4 * * ? *)', capture_percent: 0, capture_flush_seconds: 60, thresholds: {}, on_drift: 'alert' }),
    aws: awsSchema.optional(),
    gcp: gcpSchema.optional(),
    azure: azureSchema.optional(),
  })
  .strict()
  .refine((e) => CLOUDS.some((c) => e[c] !== undefined), {
    message: `configure at least one cloud: an "aws", "gcp" or "azure" section`,
  });

export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type ParserConfig = z.infer<typeof parserSchema>;
export type FieldRule = z.infer<typeof fieldRule>;
/** validation.max_quarantine_share when parser.json leaves it out. */
export const DEFAULT_MAX_QUARANTINE_SHARE = 0.5;
export type IngestionConfig = z.infer<typeof ingestionSchema>;
export type TrainingParams = z.infer<typeof trainingParamsSchema>;
export type GradientBoostingParams = z.infer<typeof gradientBoostingParamsSchema>;
export type LinearParams = z.infer<typeof linearParamsSchema>;
export type TuningConfig = z.infer<typeof tuningSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type MonitoringConfig = z.infer<typeof monitoringSchema>;
export type AwsEnvironment = z.infer<typeof awsSchema>;
export type GcpEnvironment = z.infer<typeof gcpSchema>;
export type AzureEnvironment = z.infer<typeof azureSchema>;
export type PromotionGate = number | z.infer<typeof gateBounds>;

/** An environment known to configure `cloud` (see requireCloud in load.ts). */
export type WithCloud<C extends CloudName> = EnvironmentConfig & { [K in C]-?: NonNullable<EnvironmentConfig[K]> };

/** The clouds an environment configures, in CLOUDS order. */
export function configuredClouds(env: EnvironmentConfig): CloudName[] {
  return CLOUDS.filter((c) => env[c] !== undefined);
}

export function hasCloud<C extends CloudName>(env: EnvironmentConfig, cloud: C): env is WithCloud<C> {
  return env[cloud] !== undefined;
}

/** Everything config/ describes, validated and cross-checked. */
export interface ProjectConfig {
  dir: string;
  pipeline: PipelineConfig;
  parser: ParserConfig;
  environments: Record<EnvironmentName, EnvironmentConfig>;
}
