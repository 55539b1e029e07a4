/**
 * `mlstack config import`: turns a seed-style project (config/config.json + config/project_parser_config.json, one
 * `promotion.<env>` block per environment with S3 paths and a SageMaker block) into this layout: pipeline.json,
 * parser.json and environments/<env>.json. The mapping is documented in docs/config-import.md; every value the seed
 * has no equivalent for gets a stated default, listed in the notes the command prints.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError, loadProjectConfig, type ConfigProblem } from './load';
import { ENVIRONMENTS, type ProjectConfig } from './schema';

const sageMakerBlock = z.object({
  instance_type: z.string().min(1),
  region: z.string().min(1),
  container_image: z.string().min(1).optional(),
});

const promotionBlock = z.object({
  s3_bucket: z.string().min(3),
  s3_raw_path: z.string().optional(),
  s3_processed_path: z.string().optional(),
  sagemaker: sageMakerBlock,
});

export const seedConfigSchema = z.object({
  cloud_vendor: z.string(),
  model_type: z.string(),
  features: z.array(z.string().min(1)).min(1),
  target: z.string().min(1),
  train_split: z.number(),
  training_params: z.record(z.string(), z.unknown()),
  model_artifact_path: z.string().optional(),
  endpoint_name: z.string().min(1),
  promotion: z.record(z.string(), promotionBlock),
});

export const seedParserSchema = z.object({
  selected_fields: z.array(z.string().min(1)).min(1),
  field_mappings: z.record(z.string(), z.string()).default({}),
});

export type SeedConfig = z.infer<typeof seedConfigSchema>;
export type SeedParser = z.infer<typeof seedParserSchema>;

/** The files an import writes, relative to the output folder, and what the user should review. */
export interface ImportResult {
  files: Record<string, unknown>;
  notes: string[];
}

/** Defaults for what the seed does not describe (training hardware, autoscaling). */
export const IMPORT_DEFAULTS = {
  trainingInstanceType: 'ml.g4dn.xlarge',
  servingInstanceType: 'ml.c6i.large',
  autoscaling: { min_capacity: 1, max_capacity: 2, target_value: 1000 },
} as const;

const SEED_CONFIG = 'config.json';
const SEED_PARSER = 'project_parser_config.json';

function problem(file: string, keyPath: string, message: string): ConfigProblem {
  return { file, keyPath, message };
}

/** "ml-model-endpoint" -> "ml-model-endpoint"; anything else is lowercased to the project name rule. */
export function projectNameFrom(endpointName: string): string {
  const cleaned = endpointName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '');
  return (cleaned.length >= 2 ? cleaned : `ml-${cleaned}`).slice(0, 31).replace(/-+$/, '');
}

/** A key prefix in this layout's form: relative, ending with "/". */
function asPrefix(value: string | undefined, fallback: string): string {
  if (!value) return fallback;
  const trimmed = value.replace(/^\/+/, '');
  return trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function tagOf(image: string | undefined): string {
  if (!image) return 'latest';
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? image.slice(at + 1) : 'latest';
}

/** Maps a parsed seed project to this layout; pure (no I/O), so the mapping is testable on its own. */
export function mapSeedProject(seed: SeedConfig, parser: SeedParser, options: { project?: string; files?: { config: string; parser: string } } = {}): ImportResult {
  const files = options.files ?? { config: SEED_CONFIG, parser: SEED_PARSER };
  const problems: ConfigProblem[] = [];
  if (seed.cloud_vendor !== 'aws') {
    problems.push(
      problem(files.config, 'cloud_vendor', `"${seed.cloud_vendor}": only the seed's SageMaker blocks (cloud_vendor "aws") map automatically; write the gcp or azure section of each environment by hand (README "Configuration")`),
    );
  }
  const missing = ENVIRONMENTS.filter((env) => !seed.promotion[env]);
  if (missing.length) problems.push(problem(files.config, 'promotion', `no block for ${missing.join(', ')}: every environment (${ENVIRONMENTS.join(', ')}) needs one`));
  const unknownEnvs = Object.keys(seed.promotion).filter((env) => !(ENVIRONMENTS as readonly string[]).includes(env));
  if (unknownEnvs.length) problems.push(problem(files.config, 'promotion', `unknown environment${unknownEnvs.length > 1 ? 's' : ''} ${unknownEnvs.join(', ')}: expected ${ENVIRONMENTS.join(', ')}`));
  if (problems.length) throw new ConfigError(problems);

  const notes: string[] = [];
  const project = options.project ?? projectNameFrom(seed.endpoint_name);
  if (!options.project) notes.push(`pipeline.json project: "${project}", derived from endpoint_name (pass --project to choose)`);
  const pipeline = {
    project,
    model_type: seed.model_type,
    features: seed.features,
    target: seed.target,
    train_split: seed.train_split,
    training_params: seed.training_params,
    endpoint_name: seed.endpoint_name,
  };
  const modelsPath = asPrefix(seed.model_artifact_path, 'models/');
  const environments: Record<string, unknown> = {};
  for (const env of ENVIRONMENTS) {
    const block = seed.promotion[env];
    let servingType = block.sagemaker.instance_type;
    if (/^ml\.t\d/.test(servingType)) {
      notes.push(`environments/${env}.json aws.serving.instance_type: ${servingType} is burstable, which SageMaker cannot autoscale; set to ${IMPORT_DEFAULTS.servingInstanceType}`);
      servingType = IMPORT_DEFAULTS.servingInstanceType;
    }
    environments[env] = {
      name: env,
      model_version: null,
      retain_on_delete: env === 'prod',
      aws: {
        region: block.sagemaker.region,
        storage: {
          bucket: block.s3_bucket,
          raw_path: asPrefix(block.s3_raw_path, 'data/raw/'),
          processed_path: asPrefix(block.s3_processed_path, 'data/processed/'),
          models_path: modelsPath,
          checkpoints_path: 'checkpoints/',
        },
        training: { instance_type: IMPORT_DEFAULTS.trainingInstanceType, gpu_type: 'nvidia-t4', gpu_count: 1 },
        serving: { instance_type: servingType, autoscaling: { ...IMPORT_DEFAULTS.autoscaling } },
        image_tag: tagOf(block.sagemaker.container_image),
      },
    };
  }
  notes.push(
    `aws.training: the seed names no training hardware; every environment trains on ${IMPORT_DEFAULTS.trainingInstanceType} (one NVIDIA T4)`,
    `aws.serving.autoscaling: ${IMPORT_DEFAULTS.autoscaling.min_capacity}-${IMPORT_DEFAULTS.autoscaling.max_capacity} instances at ${IMPORT_DEFAULTS.autoscaling.target_value} invocations per instance per minute`,
    'aws.image_tag: the tag of each sagemaker.container_image; the images themselves are ours (containers/), pushed with `mlstack images push --cloud aws`',
    'ingestion_source: not in the seed; set it in each environment to declare scheduled ingestion',
  );
  return {
    files: {
      'pipeline.json': pipeline,
      'parser.json': { selected_fields: parser.selected_fields, field_mappings: parser.field_mappings },
      ...Object.fromEntries(Object.entries(environments).map(([env, doc]) => [`environments/${env}.json`, doc])),
    },
    notes,
  };
}

function readSeedFile<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([problem(file, '(root)', code === 'ENOENT' ? 'file not found' : `not readable JSON: ${(err as Error).message}`)]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => problem(file, i.path.length ? i.path.join('.') : '(root)', i.message)));
  }
  return parsed.data;
}

export interface ImportOptions {
  /** Folder holding config.json and project_parser_config.json. */
  from: string;
  /** Folder to write pipeline.json, parser.json and environments/. */
  out: string;
  project?: string;
  /** Replace files that already exist in `out`. */
  force?: boolean;
}

/** Reads the seed files, writes this layout into `out`, validates it with loadProjectConfig and returns it. */
export function importSeedProject(options: ImportOptions): { project: ProjectConfig; written: string[]; notes: string[] } {
  const configFile = path.join(options.from, SEED_CONFIG);
  const parserFile = path.join(options.from, SEED_PARSER);
  const seed = readSeedFile(seedConfigSchema, configFile);
  const parser = readSeedFile(seedParserSchema, parserFile);
  const { files, notes } = mapSeedProject(seed, parser, { project: options.project, files: { config: configFile, parser: parserFile } });
  const targets = Object.keys(files).map((rel) => path.join(options.out, rel));
  const existing = targets.filter((file) => fs.existsSync(file));
  if (existing.length && !options.force) {
    throw new ConfigError(existing.map((file) => problem(file, '(root)', 'exists already: pass --force to replace it, or --out <empty folder>')));
  }
  for (const [rel, doc] of Object.entries(files)) {
    const file = path.join(options.out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return { project: loadProjectConfig(options.out), written: targets, notes };
}
