import * as path from 'node:path';
import { Testing, type TerraformStack } from 'cdktf';
import { loadProjectConfig } from '../../../config/load';
import { buildCdktfApp } from '../../../infra/cdktf/app';
import { InvalidNameError } from '../../../runtime/contract/naming';
import { GCS_BUCKET_RULE, gcpNames } from '../../../runtime/contract/gcp-names';
import { cloudRunSize } from '../../../infra/gcp/sizing';
import { trafficSplit } from '../../../infra/gcp/serving';
import { copyConfig, editJson } from '../../helpers/tmp';

const config = loadProjectConfig('config');

function synthGcpWith(edit: (doc: any) => void, env = 'staging'): () => void {
  const dir = copyConfig();
  editJson(path.join(dir, 'environments', `${env}.json`), edit);
  return () => buildCdktfApp({ configDir: dir, clouds: ['gcp'], backendEnv: {} });
}

test('a bucket name that breaks GCS rules fails synth naming env, key, rule and value', () => {
  const build = synthGcpWith((doc) => {
    doc.gcp.storage.bucket = 'Google_Data';
  });
  expect(build).toThrow(InvalidNameError);
  expect(build).toThrow(/env staging: gcp\.storage\.bucket: "Google_Data" breaks the rule: 3-63 characters .*config\/environments\/staging\.json/);
});

test('every bad name is reported at once', () => {
  const pipeline = { ...config.pipeline, project: 'a-very-long-project-name-x' };
  try {
    gcpNames(pipeline, { ...config.environments.prod, gcp: { ...config.environments.prod.gcp!, storage: { ...config.environments.prod.gcp!.storage, bucket: 'goog-x' } } });
    throw new Error('expected InvalidNameError');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidNameError);
    const keys = (err as InvalidNameError).problems.map((p) => p.key);
    expect(keys).toContain('gcp.storage.bucket');
    expect(keys.filter((k) => k.startsWith('service account'))).toHaveLength(4);
    expect((err as InvalidNameError).problems.every((p) => p.env === 'prod')).toBe(true);
  }
});

test('require_gpu with a GPU Cloud Run cannot attach fails synth', () => {
  const build = synthGcpWith((doc) => {
    doc.gcp.training.gpu_type = 'nvidia-tesla-t4';
  }, 'dev');
  expect(build).toThrow(/env dev: gcp\.training\.gpu_type: "nvidia-tesla-t4" breaks the rule: training\.require_gpu is true/);
});

test('require_gpu without any gpu_type fails before synth with the config key', () => {
  const build = synthGcpWith((doc) => {
    doc.gcp.training.gpu_type = null;
  }, 'qa');
  expect(build).toThrow(/qa\.json: gcp\.training\.gpu_count: require_gpu is true/);
});

test('a serving GPU Cloud Run does not offer fails synth', () => {
  const build = synthGcpWith((doc) => {
    doc.gcp.serving.gpu_type = 'nvidia-h100';
  });
  expect(build).toThrow(/gcp\.serving\.gpu_type: "nvidia-h100"/);
});

test('serving on a Cloud Run GPU gets the GPU, a node selector and CPU kept allocated', () => {
  const dir = copyConfig();
  editJson(path.join(dir, 'environments', 'dev.json'), (doc) => {
    doc.gcp.serving.gpu_type = 'nvidia-l4';
  });
  const app = buildCdktfApp({ configDir: dir, clouds: ['gcp'], environments: ['dev'], backendEnv: {} });
  const tf = JSON.parse(Testing.synth(app.node.findChild('gcp-dev') as TerraformStack));
  const template = (Object.values(tf.resource.google_cloud_run_v2_service)[0] as any).template;
  expect(template.node_selector).toEqual({ accelerator: 'nvidia-l4' });
  expect(template.containers[0].resources).toMatchObject({ cpu_idle: false, limits: { 'nvidia.com/gpu': '1', cpu: '4', memory: '16Gi' } });
});

test('GCS bucket rule', () => {
  for (const ok of ['abc', 'mlstack-dev-data', 'a.b.c', 'x_y-1']) expect(GCS_BUCKET_RULE.test(ok)).toBe(true);
  for (const bad of ['ab', 'Abc', '-abc', 'abc-', 'googx', 'my-google-data', '192.168.1.1', 'a'.repeat(64), 'a..b'])
    expect(GCS_BUCKET_RULE.test(bad)).toBe(false);
});

test('Cloud Run sizes follow the machine type and meet GPU minimums', () => {
  expect(cloudRunSize('g2-standard-8', true)).toEqual({ cpu: '8', memory: '32Gi' });
  expect(cloudRunSize('g2-standard-12', true)).toEqual({ cpu: '8', memory: '32Gi' });
  expect(cloudRunSize('n1-standard-2', true)).toEqual({ cpu: '4', memory: '16Gi' });
  expect(cloudRunSize('n1-standard-2', false)).toEqual({ cpu: '2', memory: '8Gi' });
  expect(cloudRunSize('custom', false)).toEqual({ cpu: '1', memory: '4Gi' });
});

test('a canary percent outside 1-99 is refused', () => {
  expect(() => trafficSplit({ stableRevision: 'r1', percent: 100 })).toThrow(/between 1 and 99, found 100/);
  expect(() => trafficSplit({ stableRevision: 'r1', percent: 0.5 })).toThrow(/found 0.5/);
});
