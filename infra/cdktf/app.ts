import { App, type TerraformStack } from 'cdktf';
import { StackSynthesizer } from 'cdktf/lib/synthesize/synthesizer';
import { loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, hasCloud, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { azureNames } from '../../runtime/contract/azure-names';
import { ENV } from '../../runtime/contract/env';
import { gcpNames } from '../../runtime/contract/gcp-names';
import { InvalidNameError, type NameProblem } from '../../runtime/contract/naming';
import { cdktfStackName } from '../../runtime/contract/stack-names';
import { azureLimitProblems } from '../azure/limits';
import { AzureMlStack } from '../azure/stack';
import { gcpLimitProblems } from '../gcp/limits';
import { GcpMlStack } from '../gcp/stack';
import { formatHclOutput } from './hcl';
import { deployedTokenEnv } from './ingestion';
import { PlatformLimitError, type LimitProblem } from './limits';

export const CDKTF_CLOUDS = ['gcp', 'azure'] as const;
export type CdktfCloud = (typeof CDKTF_CLOUDS)[number];

/** gcp-dev, gcp-qa, ..., azure-prod: one per configured cloud and environment (all eight without a config). */
export function cdktfStackNames(config?: ProjectConfig): string[] {
  return CDKTF_CLOUDS.flatMap((cloud) =>
    ENVIRONMENTS.filter((env) => !config || hasCloud(config.environments[env], cloud)).map((env) => cdktfStackName(cloud, env)),
  );
}

export interface CdktfAppOptions {
  /** config/ folder. @default MLSTACK_CONFIG_DIR, else ./config */
  configDir?: string;
  /** Already-loaded config (tests load once and build several apps). */
  config?: ProjectConfig;
  /** Where synth writes. @default CDKTF_OUTDIR set by the cdktf CLI, else cdktf.out */
  outdir?: string;
  /** Only these clouds. @default both */
  clouds?: readonly CdktfCloud[];
  /** Only these environments. @default all four */
  environments?: readonly EnvironmentName[];
  /** Variables that choose the state backend. @default process.env */
  backendEnv?: NodeJS.ProcessEnv;
  /**
   * Write Terraform HCL (stacks/<stack>/cdk.tf) instead of JSON, as `cdktf synth --hcl` does; finish with
   * synthCdktfApp so the files are formatted. @default SYNTH_HCL_OUTPUT=true (set by `cdktf synth --hcl`), else false
   */
  hclOutput?: boolean;
}

/** Builds the cdktf App with one stack per cloud and environment; throws on invalid config, names or platform limits. */
export function buildCdktfApp(options: CdktfAppOptions = {}): App {
  const config = options.config ?? loadProjectConfig(options.configDir ?? process.env[ENV.configDir] ?? 'config');
  const clouds = options.clouds ?? CDKTF_CLOUDS;
  const environments = options.environments ?? ENVIRONMENTS;
  assertDeployable(config, clouds, environments);
  // Stack traces in construct metadata cost a third of the build time and only help debugging cdktf itself.
  const app = new App({ outdir: options.outdir, stackTraces: false, hclOutput: options.hclOutput });
  for (const cloud of clouds) {
    for (const name of environments) {
      const env = config.environments[name];
      if (!hasCloud(env, cloud)) continue;
      const props = { pipeline: config.pipeline, parser: config.parser, env, backendEnv: options.backendEnv };
      const stack: TerraformStack =
        cloud === 'gcp' ? new GcpMlStack(app, cdktfStackName(cloud, name), props) : new AzureMlStack(app, cdktfStackName(cloud, name), props);
      // cdktf 0.21 stacks read SYNTH_HCL_OUTPUT only; the App option alone writes JSON into cdk.tf.
      if (app.hclOutput) stack.synthesizer = new StackSynthesizer(stack, process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS !== undefined, true);
    }
  }
  return app;
}

/** Synthesizes the app; HCL output is then formatted the way `terraform fmt` wants it. */
export async function synthCdktfApp(app: App): Promise<void> {
  app.synth();
  if (app.hclOutput) await formatHclOutput(app.outdir);
}

/**
 * Checks every stack's config before any stack is created (a stack writes its output folder when
 * constructed), reporting the problems of all environments together: names first (InvalidNameError),
 * then what the platforms cannot run (PlatformLimitError), then parser.json's ingestion auth.
 */
function assertDeployable(config: ProjectConfig, clouds: readonly CdktfCloud[], environments: readonly EnvironmentName[]): void {
  const names: NameProblem[] = [];
  const limits: LimitProblem[] = [];
  for (const cloud of clouds) {
    for (const name of environments) {
      const env = config.environments[name];
      try {
        if (cloud === 'gcp' && hasCloud(env, 'gcp')) {
          gcpNames(config.pipeline, env);
          limits.push(...gcpLimitProblems(env));
        }
        if (cloud === 'azure' && hasCloud(env, 'azure')) {
          azureNames(config.pipeline, env);
          limits.push(...azureLimitProblems(env));
        }
      } catch (err) {
        if (!(err instanceof InvalidNameError)) throw err;
        names.push(...err.problems);
      }
    }
  }
  if (names.length > 0) throw new InvalidNameError(names);
  if (limits.length > 0) throw new PlatformLimitError(limits);
  deployedTokenEnv(config.parser);
}
