/**
 * Where each environment's images live. The names come from the same functions the
 * stacks use (aws-names.ts for MlStack-<env>-registry, gcp-names.ts and azure-names.ts
 * for the cdktf stacks), so `mlstack images push` pushes to exactly the registry the
 * stack declares.
 */
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig, PipelineConfig } from '../../config/schema';
import { ecrImageUri, ecrRegistryHost } from './aws-names';
import { azureNames } from './azure-names';
import { IMAGE_NAMES, imageRef, type ImageName } from './images';
import { gcpNames } from './gcp-names';

export { IMAGE_NAMES, type ImageName };

export type PushCloud = 'aws' | 'gcp' | 'azure';

/** What a push names beyond the environment's config: the tag (default `<cloud>.image_tag`) and, on AWS, the account. */
export interface PushTarget {
  readonly tag?: string;
  /** AWS account id; required for aws, where the config's aws.account is optional. */
  readonly account?: string;
}

function awsAccount(env: EnvironmentConfig, target: PushTarget): string {
  const account = target.account ?? env.aws?.account;
  if (account === undefined) throw new Error(`an ECR image reference needs an AWS account: environment ${env.name} sets no aws.account`);
  return account;
}

/**
 * The registry `docker login` takes: `<account>.dkr.ecr.<region>.amazonaws.com` (AWS),
 * `<region>-docker.pkg.dev/<project_id>/<repository>` (GCP) or `<registry>.azurecr.io` (Azure).
 */
export function imageRegistryHost(cloud: PushCloud, pipeline: PipelineConfig, env: EnvironmentConfig, target: PushTarget = {}): string {
  if (cloud === 'aws') return ecrRegistryHost({ account: awsAccount(env, target), region: requireCloud(env, 'aws').aws.region });
  if (cloud === 'gcp') {
    const withGcp = requireCloud(env, 'gcp');
    return `${withGcp.gcp.region}-docker.pkg.dev/${withGcp.gcp.project_id}/${gcpNames(pipeline, withGcp).artifactRepository}`;
  }
  return `${azureNames(pipeline, requireCloud(env, 'azure')).containerRegistry.toLowerCase()}.azurecr.io`;
}

/** The Azure registry's resource name (what `az acr login --name` takes). */
export function azureRegistryName(pipeline: PipelineConfig, env: EnvironmentConfig): string {
  return azureNames(pipeline, requireCloud(env, 'azure')).containerRegistry;
}

/**
 * The full reference of one image in one environment's registry, at the environment's image_tag
 * unless `target.tag` says otherwise. AWS: `<account>.dkr.ecr.<region>.amazonaws.com/<project>-<env>/<image>:<tag>`.
 */
export function environmentImageRef(cloud: PushCloud, pipeline: PipelineConfig, env: EnvironmentConfig, image: ImageName, target: PushTarget = {}): string {
  const tag = target.tag ?? requireCloud(env, cloud)[cloud].image_tag;
  if (cloud === 'aws') return ecrImageUri(pipeline, env.name, image, { account: awsAccount(env, target), region: requireCloud(env, 'aws').aws.region, tag });
  return imageRef(imageRegistryHost(cloud, pipeline, env), image, tag);
}
