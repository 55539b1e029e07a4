import type { EnvironmentName } from '../../config/schema';

/** The CDK stack of an environment: `cdk deploy MlStack-<env>` (it deploys its registry stack first). */
export function awsStackName(env: EnvironmentName): string {
  return `MlStack-${env}`;
}

/**
 * The CDK stack that holds only an environment's ECR repositories: `MlStack-<env>-registry`.
 * Deployed on its own before CI pushes pinned images, and before MlStack-<env>, which depends on it.
 */
export function awsRegistryStackName(env: EnvironmentName): string {
  return `${awsStackName(env)}-registry`;
}

/** Both CDK stacks of an environment, in deploy order: the registry first, then the stack that runs its images. */
export function awsStackNames(env: EnvironmentName): string[] {
  return [awsRegistryStackName(env), awsStackName(env)];
}

/** A cdktf stack: `cdktf deploy gcp-<env>` / `azure-<env>`. */
export function cdktfStackName(cloud: 'gcp' | 'azure', env: EnvironmentName): string {
  return `${cloud}-${env}`;
}
