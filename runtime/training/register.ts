/**
 * Registers a trained package as the next registry version, materialised in the version's own folder
 * (`<models><project>/<version>/` with model.tar.gz); on AWS also as a SageMaker model package whose
 * ModelDataUrl is that model.tar.gz and whose image is the serving image.
 */
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig } from '../../config/schema';
import { UsageError } from '../common/errors';
import { ecrImageUri, modelPackageGroupName } from '../contract/aws-names';
import { ENV } from '../contract/env';
import { UNPINNED_IMAGE_TAG } from '../contract/images';
import { PACKAGE_FILES, readModelPackage, type ModelMetadata } from '../model/package';
import { ModelRegistry, type Lineage, type ModelVersion, type PackageSource } from '../registry';
import { createSageMakerModelPackage } from '../registry/sagemaker';
import { resolvePackage, type EnvironmentContext } from './locate';

/** The account id no real image lives in (an old default); never recorded in a model package. */
const PLACEHOLDER_ACCOUNT = '000000000000';

export interface RegisterPackageOptions {
  /** The package: a prefix in the environment's store, or a package anywhere (e.g. an unpacked model.tar.gz). */
  source: string | PackageSource;
  parentRun?: string | null;
  /** The processed data the model was trained on (lineage). */
  dataUri?: string;
  /** Register a new version even when a version already holds this run, data and config. */
  force?: boolean;
  /** Serving image of the SageMaker model package (else derived from config; see servingImageFor). */
  servingImage?: string;
  /** Also create the SageMaker model package. @default ctx.cloud === 'aws' */
  modelPackage?: boolean;
  /** evaluation.json to keep in the version folder; the model package points its model-quality statistics at it. */
  evaluation?: Buffer | string;
}

export interface Registration {
  version: ModelVersion;
  /** False when a version already held this package (same run, data and config) and was returned as is. */
  created: boolean;
}

/**
 * The serving image a model package records: `explicit` (--image, or the register container's variable),
 * else `<account>.dkr.ecr.<region>.amazonaws.com/<project>-<env>/serving:<tag>` when config sets
 * aws.account and pins aws.image_tag. Anything else is a UsageError saying what to set.
 */
export function servingImageFor(ctx: Pick<EnvironmentContext, 'project' | 'envName'>, explicit?: string): string {
  const image = explicit?.trim();
  const env: EnvironmentConfig = ctx.project.environments[ctx.envName];
  const file = `config/environments/${ctx.envName}.json`;
  if (image) {
    if (image.startsWith(`${PLACEHOLDER_ACCOUNT}.`)) throw new UsageError(`serving image ${image} names the placeholder account ${PLACEHOLDER_ACCOUNT}: pass the image your CI pushed`);
    return image;
  }
  const { aws } = requireCloud(env, 'aws');
  if (aws.account && aws.account !== PLACEHOLDER_ACCOUNT && aws.image_tag !== UNPINNED_IMAGE_TAG) {
    return ecrImageUri(ctx.project.pipeline, ctx.envName, 'serving', { account: aws.account, region: aws.region, tag: aws.image_tag });
  }
  throw new UsageError(
    `a SageMaker model package needs the serving image: pass --image <uri> (the register container reads ${ENV.servingImage}), ` +
      `or set aws.account and pin aws.image_tag (not "${UNPINNED_IMAGE_TAG}") in ${file}`,
  );
}

/** `model`: a run id, a package folder / URI inside the environment's store, or a registry version. */
export async function registerTrainedModel(ctx: EnvironmentContext, model: string, options: Omit<RegisterPackageOptions, 'source'> = {}): Promise<Registration> {
  const where = await resolvePackage(ctx, model);
  if (where.store !== ctx.store) {
    throw new UsageError(`the package ${where.store.uri(where.prefix || PACKAGE_FILES.metadata)} is not in the ${ctx.envName} store (${ctx.store.root}); train it with --env ${ctx.envName} or copy it there first`);
  }
  return registerPackage(ctx, { ...options, source: where.prefix });
}

function sameTraining(record: ModelVersion, metadata: ModelMetadata): boolean {
  return record.lineage.run_id === metadata.run_id && record.lineage.data_hash === metadata.data_hash && record.lineage.config_hash === metadata.config_hash;
}

/** The lineage of a package; where it was copied from is recorded when that is a folder of the environment's store. */
function lineageOf(metadata: ModelMetadata, ctx: EnvironmentContext, options: RegisterPackageOptions): Lineage {
  return {
    data_hash: metadata.data_hash,
    config_hash: metadata.config_hash,
    code_version: metadata.code_version,
    run_id: metadata.run_id,
    parent_run: options.parentRun ?? null,
    // The caller's data URI, else the one training recorded in the package: every registration path records it.
    ...((options.dataUri ?? metadata.data_uri) ? { data_uri: options.dataUri ?? metadata.data_uri } : {}),
    ...(typeof options.source === 'string' && options.source ? { source_package_uri: ctx.store.uri(options.source) } : {}),
  };
}

/**
 * Registers the package as the next version of its project in the environment's registry: claims vN,
 * copies the package and its model.tar.gz into `<models><project>/vN/`, (AWS) creates the SageMaker
 * model package, then writes the record. Registering a package some version already holds (same run, data
 * and config) returns that version (created: false) unless `force`.
 */
export async function registerPackage(ctx: EnvironmentContext, options: RegisterPackageOptions): Promise<Registration> {
  const source: PackageSource = typeof options.source === 'string' ? { store: ctx.store, prefix: options.source } : options.source;
  const pkg = await readModelPackage(source.store, source.prefix);
  const project = pkg.metadata.project;
  if (project !== ctx.project.pipeline.project) {
    throw new UsageError(`the package at ${source.prefix ? source.store.uri(source.prefix) : source.store.root} belongs to project "${project}", but ${ctx.project.dir}/pipeline.json is project "${ctx.project.pipeline.project}"`);
  }
  const withModelPackage = options.modelPackage ?? ctx.cloud === 'aws';
  // Resolved before anything is written: a missing image fails the registration, not half of it.
  const image = withModelPackage ? servingImageFor(ctx, options.servingImage) : undefined;
  const createModelPackage = async (draft: ModelVersion): Promise<string> => {
    const { aws } = requireCloud(ctx.project.environments[ctx.envName], 'aws');
    return createSageMakerModelPackage({ version: draft, groupName: modelPackageGroupName({ project }, ctx.envName), image: image as string, region: aws.region });
  };
  const registry = new ModelRegistry(ctx.store, ctx.paths.registry, project);

  const existing = options.force ? undefined : (await registry.list()).reverse().find((v) => sameTraining(v, pkg.metadata));
  if (existing) {
    if (image && !existing.sagemaker_model_package_arn) {
      return { version: await registry.annotate(existing.version, { sagemaker_model_package_arn: await createModelPackage(existing) }), created: false };
    }
    return { version: existing, created: false };
  }

  const numeric = Object.fromEntries(Object.entries(pkg.metrics ?? {}).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  const version = await registry.register({
    project,
    metrics: numeric,
    lineage: lineageOf(pkg.metadata, ctx, options),
    materialise: { source, modelsPrefix: ctx.paths.models, ...(options.evaluation !== undefined ? { evaluation: options.evaluation } : {}) },
    ...(image ? { beforeRecord: async (draft: ModelVersion) => ({ sagemaker_model_package_arn: await createModelPackage(draft) }) } : {}),
  });
  return { version, created: true };
}
