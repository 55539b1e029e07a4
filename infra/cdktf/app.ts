import { App } from 'cdktf';
import { loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, hasCloud, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { cdktfStackName } from '../../runtime/contract/stack-names';
import { azureNames } from '../../runtime/contract/azure-names';
import { AzureMlStack } from '../azure/stack';
import { gcpNames } from '../../runtime/contract/gcp-names';
import { GcpMlStack } from '../gcp/stack';
import { InvalidNameError, type NameProblem } from '../../runtime/contract/naming';

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
}

/** Builds the cdktf App with one stack per cloud and environment; throws on invalid config or names. */
export function buildCdktfApp(options: CdktfAppOptions = {}): App {
  const config = options.config ?? loadProjectConfig(options.configDir ?? process.env.MLSTACK_CONFIG_DIR ?? 'config');
  const clouds = options.clouds ?? CDKTF_CLOUDS;
  const environments = options.environments ?? ENVIRONMENTS;
  assertValidNames(config, clouds, environments);
  // Stack traces in construct metadata cost a third of the build time and only help debugging cdktf itself.
  const app = new App({ outdir: options.outdir, stackTraces: false });
  for (const cloud of clouds) {
    for (const name of environments) {
      const env = config.environments[name];
      if (!hasCloud(env, cloud)) continue;
      const props = { pipeline: config.pipeline, env, backendEnv: options.backendEnv };
      if (cloud === 'gcp') new GcpMlStack(app, cdktfStackName(cloud, name), props);
      else new AzureMlStack(app, cdktfStackName(cloud, name), props);
    }
  }
  return app;
}

/**
 * Checks every stack's names before any stack is created (a stack writes its output
 * folder when constructed), reporting the problems of all environments together.
 */
function assertValidNames(config: ProjectConfig, clouds: readonly CdktfCloud[], environments: readonly EnvironmentName[]): void {
  const problems: NameProblem[] = [];
  for (const cloud of clouds) {
    for (const name of environments) {
      const env = config.environments[name];
      try {
        if (cloud === 'gcp' && hasCloud(env, 'gcp')) gcpNames(config.pipeline, env);
        if (cloud === 'azure' && hasCloud(env, 'azure')) azureNames(config.pipeline, env);
      } catch (err) {
        if (!(err instanceof InvalidNameError)) throw err;
        problems.push(...err.problems);
      }
    }
  }
  if (problems.length > 0) throw new InvalidNameError(problems);
}
