import { App } from 'aws-cdk-lib';
import { DEFAULT_CONFIG_DIR, loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, hasCloud, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { ENV } from '../../runtime/contract/env';
import { awsRegistryStackName, awsStackNames } from '../../runtime/contract/stack-names';
import { MlStack, stackName } from './ml-stack';
import { addNagChecks } from './nag';
import { RegistryStack } from './registry-stack';

/**
 * Feature flags this app relies on (CDK keeps pre-flag behaviour unless a flag is set).
 * Set here rather than in cdk.json so tests and benchmarks synthesize exactly what `cdk synth` does.
 */
export const FEATURE_FLAGS: Record<string, boolean> = {
  // Server access logs are granted by a bucket policy instead of the legacy LogDeliveryWrite ACL.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  '@aws-cdk/aws-s3:createDefaultLoggingPolicy': true,
};

export interface BuildAppOptions {
  /** Config folder. @default the ENV.configDir variable, else 'config' */
  readonly configDir?: string;
  /** Cloud assembly folder. @default - the CDK CLI's choice (cdk.out), or a temp folder */
  readonly outdir?: string;
  /** Environments to declare. @default all four */
  readonly environments?: readonly EnvironmentName[];
  /** Docker build context of the images. @default - the current working directory */
  readonly buildContext?: string;
  /** Also run CDK's built-in CloudFormation rule engine (slow; warnings only). @default false */
  readonly builtinCloudFormationValidation?: boolean;
  /** Run cdk-nag's AwsSolutions checks at synth. @default true */
  readonly nag?: boolean;
}

export interface MlApp {
  readonly app: App;
  /** MlStack-<env> of each environment that configures aws. */
  readonly stacks: Partial<Record<EnvironmentName, MlStack>>;
  /** MlStack-<env>-registry (the ECR repositories) of each environment that configures aws. */
  readonly registryStacks: Partial<Record<EnvironmentName, RegistryStack>>;
}

/** The environments the app declares stacks for: those (of `environments`) that configure aws. */
function awsEnvironments(project: ProjectConfig, environments: readonly EnvironmentName[] = ENVIRONMENTS): EnvironmentName[] {
  return environments.filter((environment) => hasCloud(project.environments[environment], 'aws'));
}

function loadConfig(options: Pick<BuildAppOptions, 'configDir'>): ProjectConfig {
  return loadProjectConfig(options.configDir ?? process.env[ENV.configDir] ?? DEFAULT_CONFIG_DIR);
}

/**
 * The stacks buildMlApp declares, in deploy order, without building them:
 * `MlStack-<env>-registry MlStack-<env>` per environment that configures aws.
 */
export function mlAppStackNames(options: Pick<BuildAppOptions, 'configDir' | 'environments'> = {}): string[] {
  return awsEnvironments(loadConfig(options), options.environments).flatMap(awsStackNames);
}

/**
 * Declares, for each environment in config/environments that configures aws,
 * MlStack-<env>-registry (the ECR repositories) and MlStack-<env>, which depends
 * on it: `cdk deploy MlStack-<env>` deploys both, the registry first.
 * The CDK app behind cdk.json.
 */
export function buildMlApp(options: BuildAppOptions = {}): MlApp {
  const project = loadConfig(options);
  const app = new App({
    outdir: options.outdir,
    // CDK's built-in CloudFormation rule engine (WebAssembly) costs several seconds per stack
    // and only warns by default; cdk-nag (every synth) and cfn-lint (test/infra/aws) check these templates.
    builtinCloudFormationValidation: options.builtinCloudFormationValidation ?? false,
    context: FEATURE_FLAGS,
  });
  const stacks: Partial<Record<EnvironmentName, MlStack>> = {};
  const registryStacks: Partial<Record<EnvironmentName, RegistryStack>> = {};
  for (const environment of awsEnvironments(project, options.environments)) {
    const registry = new RegistryStack(app, awsRegistryStackName(environment), { project, environment });
    const stack = new MlStack(app, stackName(environment), { project, environment, buildContext: options.buildContext });
    // By name, not by export (see RegistryStack): the dependency only orders the deploys.
    stack.addStackDependency(registry, 'its jobs and endpoint run the images in the registry stack\'s repositories');
    registryStacks[environment] = registry;
    stacks[environment] = stack;
  }
  if (options.nag ?? true) addNagChecks(app);
  return { app, stacks, registryStacks };
}
