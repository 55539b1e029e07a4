/** Registers a trained package as a registry version; on AWS also as a SageMaker model package. */
import { requireCloud } from '../../config/load';
import { readModelPackage } from '../model/package';
import { ModelRegistry, type ModelVersion } from '../registry';
import { createSageMakerModelPackage } from '../registry/sagemaker';
import { resolvePackage, type EnvironmentContext } from './locate';

/** `model`: a run id, a package folder / URI inside the environment's store, or a registry version. */
export async function registerTrainedModel(ctx: EnvironmentContext, model: string, parentRun: string | null = null): Promise<ModelVersion> {
  const where = await resolvePackage(ctx, model);
  if (where.store !== ctx.store) {
    throw new Error(`the package ${where.store.uri(where.prefix || 'metadata.json')} is not in the ${ctx.envName} store (${ctx.store.root}); train it with --env ${ctx.envName} or copy it there first`);
  }
  return registerPackage(ctx, where.prefix, parentRun);
}

/** Registers the package at `prefix` in the environment's store. */
export async function registerPackage(ctx: EnvironmentContext, prefix: string, parentRun: string | null = null): Promise<ModelVersion> {
  const where = { store: ctx.store, prefix };
  const pkg = await readModelPackage(where.store, where.prefix);
  const numeric = Object.fromEntries(Object.entries(pkg.metrics ?? {}).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  const registry = new ModelRegistry(ctx.store, ctx.paths.registry, pkg.metadata.project);
  const version = await registry.register({
    project: pkg.metadata.project,
    packagePrefix: where.prefix,
    metrics: numeric,
    lineage: {
      data_hash: pkg.metadata.data_hash,
      config_hash: pkg.metadata.config_hash,
      code_version: pkg.metadata.code_version,
      run_id: pkg.metadata.run_id,
      parent_run: parentRun,
    },
  });
  if (ctx.cloud !== 'aws') return version;
  const { aws } = requireCloud(ctx.project.environments[ctx.envName], 'aws');
  // Same names as infra/aws (ml-stack.ts): group and ECR repositories are prefixed `<project>-<env>`.
  const awsPrefix = `${pkg.metadata.project}-${ctx.envName}`;
  const image = `${aws.account ?? '000000000000'}.dkr.ecr.${aws.region}.amazonaws.com/${awsPrefix}/serving:${aws.image_tag}`;
  const arn = await createSageMakerModelPackage({ version, groupName: awsPrefix, image, region: aws.region });
  return registry.annotate(version.version, { sagemaker_model_package_arn: arn });
}
