import * as path from 'node:path';
import { ConfigError, loadProjectConfig, requireCloud } from '../../../config/load';
import { azureNames, isGpuVmSize, STORAGE_ACCOUNT_RULE } from '../../../runtime/contract/azure-names';
import { ENVIRONMENTS } from '../../../config/schema';
import { azureLimitProblems, retiredVmSize } from '../../../infra/azure/limits';
import { prefixCondition } from '../../../infra/azure/storage';
import { PlatformLimitError } from '../../../infra/cdktf/limits';
import { buildCdktfApp } from '../../../infra/cdktf/app';
import { InvalidNameError } from '../../../runtime/contract/naming';
import { copyConfig, editJson } from '../../helpers/tmp';

const config = loadProjectConfig('config');

function synthAzureWith(env: string, edit: (doc: any) => void): () => void {
  const dir = copyConfig();
  editJson(path.join(dir, 'environments', `${env}.json`), edit);
  return () => buildCdktfApp({ configDir: dir, clouds: ['azure'], backendEnv: {} });
}

test('a storage account name with dashes or capitals fails when the config loads, before synth, naming file, key, rule and value', () => {
  const build = synthAzureWith('prod', (doc) => {
    doc.azure.storage.bucket = 'mlstack-Prod-data';
  });
  expect(build).toThrow(ConfigError);
  expect(build).toThrow(/environments\/prod\.json: azure\.storage\.bucket: "mlstack-Prod-data" is not a valid Azure storage account name: 3-24 lowercase letters and digits/);
});

test('a storage account name longer than 24 characters fails too; synth checks the same rule', () => {
  const build = synthAzureWith('dev', (doc) => {
    doc.azure.storage.bucket = 'mlstackdevdata0123456789x';
  });
  expect(build).toThrow(/azure\.storage\.bucket: "mlstackdevdata0123456789x"/);
  const dev = requireCloud(config.environments.dev, 'azure');
  expect(() => azureNames(config.pipeline, { ...dev, azure: { ...dev.azure, storage: { ...dev.azure.storage, bucket: 'mlstackdevdata0123456789x' } } })).toThrow(
    /env dev: azure\.storage\.bucket: "mlstackdevdata0123456789x" breaks the rule: 3-24 lowercase letters and digits/,
  );
});

test('require_gpu with a vm size that is not N-series fails synth', () => {
  const build = synthAzureWith('staging', (doc) => {
    doc.azure.training.instance_type = 'Standard_D8s_v5';
  });
  expect(build).toThrow(PlatformLimitError);
  expect(build).toThrow(/env staging: azure\.training\.instance_type = "Standard_D8s_v5": training\.require_gpu is true.*N-series/);
});

describe('retired GPU vm sizes fail synth with the size, its retirement date and a replacement', () => {
  test.each([
    ['Standard_NC6s_v3', 'NCv3 (V100)', '2025-09-30', 'Standard_NC4as_T4_v3'],
    ['Standard_NC24rs_v3', 'NCv3 (V100)', '2025-09-30', 'Standard_NC96ads_A100_v4'],
    ['Standard_NC12s_v3', 'NCv3 (V100)', '2025-09-30', 'Standard_NC48ads_A100_v4'],
    ['Standard_NC6', 'NC (K80)', '2023-09-06', 'Standard_NC4as_T4_v3'],
    ['standard_nc24r', 'NC (K80)', '2023-09-06', 'Standard_NC64as_T4_v3'],
    ['Standard_NC6s_v2', 'NCv2 (P100)', '2023-09-06', 'Standard_NC4as_T4_v3'],
    ['Standard_ND6s', 'ND (P40)', '2023-09-06', 'Standard_NC4as_T4_v3'],
    ['Standard_NV12', 'NV (M60)', '2023-09-06', 'Standard_NC48ads_A100_v4'],
  ])('%s', (size, series, date, replacement) => {
    const build = synthAzureWith('prod', (doc) => {
      doc.azure.training.instance_type = size;
    });
    expect(build).toThrow(PlatformLimitError);
    expect(build).toThrow(`env prod: azure.training.instance_type = "${size}": Azure retired the ${series} sizes on ${date}: use`);
    expect(build).toThrow(replacement);
  });

  test('current GPU sizes pass, the repository config included', () => {
    for (const size of ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3', 'Standard_NC24ads_A100_v4', 'Standard_NV36ads_A10_v5']) {
      expect(retiredVmSize(size)).toBeUndefined();
    }
    for (const env of ENVIRONMENTS) expect(azureLimitProblems(requireCloud(config.environments[env], 'azure'))).toEqual([]);
  });

  test('retired sizes in several environments are reported together', () => {
    const dir = copyConfig();
    for (const env of ['staging', 'prod']) {
      editJson(path.join(dir, 'environments', `${env}.json`), (doc) => {
        doc.azure.training.instance_type = 'Standard_NC6s_v3';
      });
    }
    try {
      buildCdktfApp({ configDir: dir, clouds: ['azure'], backendEnv: {} });
      throw new Error('expected PlatformLimitError');
    } catch (err) {
      expect(err).toBeInstanceOf(PlatformLimitError);
      expect((err as PlatformLimitError).problems.map((p) => p.env)).toEqual(['staging', 'prod']);
    }
  });
});

test('a CPU vm size is fine when the config does not require a GPU', () => {
  const build = synthAzureWith('dev', (doc) => {
    Object.assign(doc.azure.training, { instance_type: 'Standard_D8s_v5', require_gpu: false, gpu_type: null, gpu_count: 0 });
  });
  expect(build).not.toThrow();
});

test('derived names that grow too long are all reported, with the key they derive from', () => {
  const pipeline = { ...config.pipeline, project: 'a-rather-long-project-name', endpoint_name: 'an-endpoint-name-that-is-too-long' };
  try {
    azureNames(pipeline, requireCloud(config.environments.staging, 'azure'));
    throw new Error('expected InvalidNameError');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidNameError);
    const keys = (err as InvalidNameError).problems.map((p) => p.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        'key vault (pipeline.project + env + "-kv")',
        'ml workspace (pipeline.project + env + "-mlw")',
        'serving app (pipeline.endpoint_name + env, lowercased)',
        'ingestion job (pipeline.project + env + "-ingest")',
      ]),
    );
  }
});

test('naming and GPU helpers', () => {
  expect(STORAGE_ACCOUNT_RULE.test('abc')).toBe(true);
  expect(STORAGE_ACCOUNT_RULE.test('ab')).toBe(false);
  expect(isGpuVmSize('Standard_NC4as_T4_v3')).toBe(true);
  expect(isGpuVmSize('Standard_ND96asr_v4')).toBe(true);
  expect(isGpuVmSize('Standard_D4s_v5')).toBe(false);
});

test('blob prefix conditions: readers only read, contributors also write and delete, listing stays allowed', () => {
  const reader = prefixCondition('Storage Blob Data Reader', ['models/']);
  expect(reader).toContain("SubOperationMatches{'Blob.List'}");
  expect(reader).not.toContain('/write');
  expect(reader).toContain("StringStartsWith 'models/'");
  const contributor = prefixCondition('Storage Blob Data Contributor', ['a/', 'b/']);
  expect(contributor).toContain('/blobs/delete');
  expect(contributor).toContain("StringStartsWith 'a/' OR @Resource");
});

test('bad names in several environments and clouds are reported together', () => {
  const dir = copyConfig();
  editJson(path.join(dir, 'environments', 'dev.json'), (doc) => {
    doc.azure.storage.bucket = 'Dev-Data';
  });
  editJson(path.join(dir, 'environments', 'prod.json'), (doc) => {
    doc.gcp.storage.bucket = 'googprod';
  });
  try {
    buildCdktfApp({ configDir: dir, backendEnv: {} });
    throw new Error('expected ConfigError');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => `${path.basename(p.file)} ${p.keyPath}`).sort()).toEqual([
      'dev.json azure.storage.bucket',
      'prod.json gcp.storage.bucket',
    ]);
  }
});
