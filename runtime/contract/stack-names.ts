import type { EnvironmentName } from '../../config/schema';

/** The CDK stack of an environment: `cdk deploy MlStack-<env>`. */
export function awsStackName(env: EnvironmentName): string {
  return `MlStack-${env}`;
}

/** A cdktf stack: `cdktf deploy gcp-<env>` / `azure-<env>`. */
export function cdktfStackName(cloud: 'gcp' | 'azure', env: EnvironmentName): string {
  return `${cloud}-${env}`;
}
