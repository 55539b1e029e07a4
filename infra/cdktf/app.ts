import { App } from 'cdktf';
import { loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { AzureMlStack } from '../azure/stack';
import { GcpMlStack } from '../gcp/stack';

export const CDKTF_CLOUDS = ['gcp', 'azure'] as const;
export type CdktfCloud = (typeof CDKTF_CLOUDS)[number];

/** gcp-dev, gcp-qa, gcp-staging, gcp-prod, azure-dev, ... */
export function cdktfStackNames(): string[] {
  return CDKTF_CLOUDS.flatMap((cloud) => ENVIRONMENTS.map((env) => `${cloud}-${env}`));
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
  // Stack traces in construct metadata cost a third of the build time and only help debugging cdktf itself.
  const app = new App({ outdir: options.outdir, stackTraces: false });
  for (const cloud of options.clouds ?? CDKTF_CLOUDS) {
    for (const name of options.environments ?? ENVIRONMENTS) {
      const env = config.environments[name];
      const props = { pipeline: config.pipeline, env, backendEnv: options.backendEnv };
      if (cloud === 'gcp') new GcpMlStack(app, `gcp-${name}`, props);
      else new AzureMlStack(app, `azure-${name}`, props);
    }
  }
  return app;
}
