import { Testing } from 'cdktf';
import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../../config/schema';
import { GcpMlStack, type GcpMlStackProps } from '../../../infra/gcp/stack';

export interface SynthesizedGcpStack {
  env: EnvironmentName;
  stack: GcpMlStack;
  /** Testing.synth output: what the cdktf matchers read. */
  synth: string;
  json: any;
}

/** Synthesizes gcp-<env> for every environment of the repository's config (local backend). */
export function synthGcpStacks(
  config: ProjectConfig = loadProjectConfig('config'),
  extra: Partial<GcpMlStackProps> = {},
): Record<EnvironmentName, SynthesizedGcpStack> {
  const out = {} as Record<EnvironmentName, SynthesizedGcpStack>;
  for (const env of ENVIRONMENTS) {
    const stack = new GcpMlStack(Testing.app(), `gcp-${env}`, {
      pipeline: config.pipeline,
      parser: config.parser,
      env: config.environments[env],
      backendEnv: {},
      ...extra,
    });
    const synth = Testing.synth(stack);
    out[env] = { env, stack, synth, json: JSON.parse(synth) };
  }
  return out;
}

/** The single resource of `type` in a synthesized stack (fails the test when there is not exactly one). */
export function only(json: any, type: string): any {
  const all = Object.values(json.resource?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

export function all(json: any, type: string): any[] {
  return Object.values(json.resource?.[type] ?? {});
}
