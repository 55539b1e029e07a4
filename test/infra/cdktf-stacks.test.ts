/** What GcpMlStack and AzureMlStack share (their steps read infra/cdktf/stack-inputs.ts), checked on both. */
import * as path from 'node:path';
import { Testing } from 'cdktf';
import type { IConstruct } from 'constructs';
import { ConfigError } from '../../config/load';
import type { EnvironmentConfig } from '../../config/schema';
import { AzureMlStack } from '../../infra/azure/stack';
import { buildCdktfApp } from '../../infra/cdktf/app';
import { GcpMlStack } from '../../infra/gcp/stack';
import { copyConfig, editJson } from '../helpers/tmp';
import { repoConfig } from './cdktf-configs';

const config = repoConfig();

const warningsOf = (construct: IConstruct): string[] =>
  construct.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === '@cdktf/warn').map((m) => String(m.data)));

const CLOUDS = [
  { cloud: 'gcp', Stack: GcpMlStack, servingType: 'google_cloud_run_v2_service' },
  { cloud: 'azure', Stack: AzureMlStack, servingType: 'azurerm_container_app' },
] as const;

describe.each(CLOUDS)('$cloud', ({ cloud, Stack, servingType }) => {
  const stackFor = (env: EnvironmentConfig) => new Stack(Testing.app(), `${cloud}-dev`, { pipeline: config.pipeline, parser: config.parser, env, backendEnv: {} });

  test('"latest" is not a pin: config refuses it, and a stack given it anyway declares no serving', () => {
    // GIVEN model_version "latest" in environments/dev.json
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'dev.json'), (doc) => (doc.model_version = 'latest'));
    // WHEN the app is built
    const when = () => buildCdktfApp({ configDir: dir, clouds: [cloud], environments: ['dev'], backendEnv: {} });
    // THEN loading the config fails, naming the file and the key
    expect(when).toThrow(ConfigError);
    expect(when).toThrow(/environments\/dev\.json: model_version: .*found "latest"/);

    // GIVEN an environment that skipped validation, WHEN its stack is built
    const stack = stackFor({ ...config.environments.dev, model_version: 'latest' });
    // THEN no serving is declared, and the warning says why
    expect(stack.serving).toBeUndefined();
    expect(JSON.parse(Testing.synth(stack)).resource[servingType]).toBeUndefined();
    expect(warningsOf(stack)).toContainEqual(expect.stringContaining('"latest" is not a pin'));
  });
});
