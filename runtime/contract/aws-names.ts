import type { EnvironmentName, PipelineConfig } from '../../config/schema';

/**
 * The deployed endpoint's name in an environment: `${endpoint_name}-${env}`. The AWS stack names
 * the SageMaker endpoint with this, and `mlstack invoke` calls it, so both must use this helper.
 */
export function endpointName(pipeline: Pick<PipelineConfig, 'endpoint_name'>, env: EnvironmentName): string {
  return `${pipeline.endpoint_name}-${env}`;
}
