import * as path from 'node:path';
import { loadProjectConfig, requireCloud } from '../../../config/load';
import { azureNames, isGpuVmSize, STORAGE_ACCOUNT_RULE } from '../../../runtime/contract/azure-names';
import { prefixCondition } from '../../../infra/azure/storage';
import { buildCdktfApp } from '../../../infra/cdktf/app';
import { InvalidNameError } from '../../../runtime/contract/naming';
import { copyConfig, editJson } from '../../helpers/tmp';

const config = loadProjectConfig('config');

function synthAzureWith(env: string, edit: (doc: any) => void): () => void {
  const dir = copyConfig();
  editJson(path.join(dir, 'environments', `${env}.json`), edit);
  return () => buildCdktfApp({ configDir: dir, clouds: ['azure'], backendEnv: {} });
}

test('a storage account name with dashes or capitals fails synth naming env, key, rule and value', () => {
  const build = synthAzureWith('prod', (doc) => {
    doc.azure.storage.bucket = 'mlstack-Prod-data';
  });
  expect(build).toThrow(InvalidNameError);
  expect(build).toThrow(/env prod: azure\.storage\.bucket: "mlstack-Prod-data" breaks the rule: 3-24 lowercase letters and digits/);
});

test('a storage account name longer than 24 characters fails synth', () => {
  const build = synthAzureWith('dev', (doc) => {
    doc.azure.storage.bucket = 'mlstackdevdata0123456789x';
  });
  expect(build).toThrow(/azure\.storage\.bucket: "mlstackdevdata0123456789x"/);
});

test('require_gpu with a vm size that is not N-series fails synth', () => {
  const build = synthAzureWith('staging', (doc) => {
    doc.azure.training.instance_type = 'Standard_D8s_v5';
  });
  expect(build).toThrow(/env staging: azure\.training\.instance_type: "Standard_D8s_v5" breaks the rule: training\.require_gpu is true.*N-series/);
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
    throw new Error('expected InvalidNameError');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidNameError);
    expect((err as InvalidNameError).problems.map((p) => `${p.env} ${p.key}`).sort()).toEqual([
      'dev azure.storage.bucket',
      'prod gcp.storage.bucket',
    ]);
  }
});
