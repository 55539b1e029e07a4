import { Testing } from 'cdktf';
import { loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../../config/schema';
import { AzureMlStack, type AzureMlStackProps } from '../../../infra/azure/stack';

export interface SynthesizedAzureStack {
  env: EnvironmentName;
  stack: AzureMlStack;
  /** Testing.synth output: what the cdktf matchers read. */
  synth: string;
  json: any;
}

/** Synthesizes azure-<env> for every environment of `config` (local backend). */
export function synthAzureStacks(
  config: ProjectConfig = loadProjectConfig('config'),
  extra: Partial<AzureMlStackProps> = {},
): Record<EnvironmentName, SynthesizedAzureStack> {
  const out = {} as Record<EnvironmentName, SynthesizedAzureStack>;
  for (const env of ENVIRONMENTS) {
    const stack = new AzureMlStack(Testing.app(), `azure-${env}`, {
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

export function all(json: any, type: string): any[] {
  return Object.values(json.resource?.[type] ?? {});
}

export function only(json: any, type: string): any {
  const found = all(json, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}
