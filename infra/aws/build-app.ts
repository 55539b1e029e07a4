import { App } from 'aws-cdk-lib';
import { DEFAULT_CONFIG_DIR, loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, hasCloud, type EnvironmentName } from '../../config/schema';
import { ENV } from '../../runtime/contract/env';
import { MlStack, stackName } from './ml-stack';
import { addNagChecks } from './nag';

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
  readonly stacks: Partial<Record<EnvironmentName, MlStack>>;
}

/** Declares MlStack-<env> for each environment in config/environments (the CDK app behind cdk.json). */
export function buildMlApp(options: BuildAppOptions = {}): MlApp {
  const project = loadProjectConfig(options.configDir ?? process.env[ENV.configDir] ?? DEFAULT_CONFIG_DIR);
  const app = new App({
    outdir: options.outdir,
    // CDK's built-in CloudFormation rule engine (WebAssembly) costs several seconds per stack
    // and only warns by default; cdk-nag (every synth) and cfn-lint (test/infra/aws) check these templates.
    builtinCloudFormationValidation: options.builtinCloudFormationValidation ?? false,
    context: FEATURE_FLAGS,
  });
  const stacks: Partial<Record<EnvironmentName, MlStack>> = {};
  for (const environment of options.environments ?? ENVIRONMENTS) {
    if (!hasCloud(project.environments[environment], 'aws')) continue;
    stacks[environment] = new MlStack(app, stackName(environment), { project, environment, buildContext: options.buildContext });
  }
  if (options.nag ?? true) addNagChecks(app);
  return { app, stacks };
}
