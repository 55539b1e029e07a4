import type { EnvironmentName, PipelineConfig } from '../../config/schema';
import { IMAGE_NAMES, type ImageName } from './images';

type ProjectName = Pick<PipelineConfig, 'project'>;

/**
 * The deployed endpoint's name in an environment: `${endpoint_name}-${env}`. The AWS stack names
 * the SageMaker endpoint with this, and `mlstack invoke` calls it, so both must use this helper.
 */
export function endpointName(pipeline: Pick<PipelineConfig, 'endpoint_name'>, env: EnvironmentName): string {
  return `${pipeline.endpoint_name}-${env}`;
}

/** `<project>-<env>`: the prefix of every name MlStack-<env> gives a resource (dashboard, group, repositories, jobs). */
export function awsResourcePrefix(pipeline: ProjectName, env: EnvironmentName): string {
  return `${pipeline.project}-${env}`;
}

/** The SageMaker model package group that holds the environment's model versions. */
export function modelPackageGroupName(pipeline: ProjectName, env: EnvironmentName): string {
  return awsResourcePrefix(pipeline, env);
}

/** The ECR repository of one image: `<project>-<env>/<image>`. */
export function ecrRepositoryName(pipeline: ProjectName, env: EnvironmentName, image: ImageName): string {
  return `${awsResourcePrefix(pipeline, env)}/${image}`;
}

/** Training jobs are named `<project>-<env>-train-<12 hex>`; the evaluation and registration jobs add a suffix. */
export function trainingJobNamePrefix(pipeline: ProjectName, env: EnvironmentName): string {
  return `${awsResourcePrefix(pipeline, env)}-train`;
}

/** Suffixes of the processing jobs that follow a training job (`<training job>-eval`, `<training job>-reg`). */
export const PROCESSING_JOB_SUFFIXES = { evaluate: '-eval', register: '-reg' } as const;

/** Tuning jobs are named `<project>-<env>-hpo-<8 hex>`. */
export function tuningJobNamePrefix(pipeline: ProjectName, env: EnvironmentName): string {
  return `${awsResourcePrefix(pipeline, env)}-hpo`;
}

/** The Secrets Manager secret holding the ingestion source's API token (the token itself, not JSON). */
export function ingestionSecretName(pipeline: ProjectName, env: EnvironmentName): string {
  return `${awsResourcePrefix(pipeline, env)}/ingestion-api-token`;
}

/** Every AWS name one environment's stack uses. */
export interface AwsNames {
  resourcePrefix: string;
  endpoint: string;
  modelPackageGroup: string;
  repositories: Record<ImageName, string>;
  trainingJobPrefix: string;
  tuningJobPrefix: string;
  ingestionSecret: string;
  dashboard: string;
}

export function awsNames(pipeline: Pick<PipelineConfig, 'project' | 'endpoint_name'>, env: EnvironmentName): AwsNames {
  return {
    resourcePrefix: awsResourcePrefix(pipeline, env),
    endpoint: endpointName(pipeline, env),
    modelPackageGroup: modelPackageGroupName(pipeline, env),
    repositories: Object.fromEntries(IMAGE_NAMES.map((image) => [image, ecrRepositoryName(pipeline, env, image)])) as Record<ImageName, string>,
    trainingJobPrefix: trainingJobNamePrefix(pipeline, env),
    tuningJobPrefix: tuningJobNamePrefix(pipeline, env),
    ingestionSecret: ingestionSecretName(pipeline, env),
    dashboard: awsResourcePrefix(pipeline, env),
  };
}

/** The private ECR registry of an account in a region (what `docker login` takes): `<account>.dkr.ecr.<region>.amazonaws.com`. */
export function ecrRegistryHost(target: { account: string; region: string }): string {
  return `${target.account}.dkr.ecr.${target.region}.amazonaws.com`;
}

/** An image in the environment's ECR repository: `<account>.dkr.ecr.<region>.amazonaws.com/<project>-<env>/<image>:<tag>`. */
export function ecrImageUri(pipeline: ProjectName, env: EnvironmentName, image: ImageName, target: { account: string; region: string; tag: string }): string {
  return `${ecrRegistryHost(target)}/${ecrRepositoryName(pipeline, env, image)}:${target.tag}`;
}
