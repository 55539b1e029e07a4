/**
 * Where each environment's images live on GCP and Azure. The names come from the
 * same functions the cdktf stacks use (infra/gcp/names.ts, infra/azure/names.ts),
 * so `mlstack images push` pushes to exactly the registry the stack declares.
 */
import type { EnvironmentConfig, PipelineConfig } from '../../config/schema';
import { azureNames } from '../../infra/azure/names';
import { IMAGE_NAMES, imageRef, type ImageName } from '../../infra/cdktf/images';
import { gcpNames } from '../../infra/gcp/names';

export { IMAGE_NAMES, type ImageName };

export type PushCloud = 'gcp' | 'azure';

/** `<region>-docker.pkg.dev/<project_id>/<repository>` (GCP) or `<registry>.azurecr.io` (Azure). */
export function imageRegistryHost(cloud: PushCloud, pipeline: PipelineConfig, env: EnvironmentConfig): string {
  if (cloud === 'gcp') {
    return `${env.gcp.region}-docker.pkg.dev/${env.gcp.project_id}/${gcpNames(pipeline, env).artifactRepository}`;
  }
  return `${azureNames(pipeline, env).containerRegistry.toLowerCase()}.azurecr.io`;
}

/** The Azure registry's resource name (what `az acr login --name` takes). */
export function azureRegistryName(pipeline: PipelineConfig, env: EnvironmentConfig): string {
  return azureNames(pipeline, env).containerRegistry;
}

/** The full reference of one image in one environment's registry, at the environment's image_tag. */
export function environmentImageRef(cloud: PushCloud, pipeline: PipelineConfig, env: EnvironmentConfig, image: ImageName): string {
  return imageRef(imageRegistryHost(cloud, pipeline, env), image, env[cloud].image_tag);
}
