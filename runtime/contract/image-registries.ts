/**
 * Where each environment's images live on GCP and Azure. The names come from the
 * same functions the cdktf stacks use (infra/gcp/names.ts, infra/azure/names.ts),
 * so `mlstack images push` pushes to exactly the registry the stack declares.
 */
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig, PipelineConfig } from '../../config/schema';
import { azureNames } from './azure-names';
import { IMAGE_NAMES, imageRef, type ImageName } from './images';
import { gcpNames } from './gcp-names';

export { IMAGE_NAMES, type ImageName };

export type PushCloud = 'gcp' | 'azure';

/** `<region>-docker.pkg.dev/<project_id>/<repository>` (GCP) or `<registry>.azurecr.io` (Azure). */
export function imageRegistryHost(cloud: PushCloud, pipeline: PipelineConfig, env: EnvironmentConfig): string {
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

/** The full reference of one image in one environment's registry, at the environment's image_tag. */
export function environmentImageRef(cloud: PushCloud, pipeline: PipelineConfig, env: EnvironmentConfig, image: ImageName): string {
  return imageRef(imageRegistryHost(cloud, pipeline, env), image, requireCloud(env, cloud)[cloud].image_tag);
}
