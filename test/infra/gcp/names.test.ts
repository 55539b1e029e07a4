import * as path from 'node:path';
import { Testing, type TerraformStack } from 'cdktf';
import { ConfigError, loadProjectConfig, requireCloud } from '../../../config/load';
import { ENVIRONMENTS } from '../../../config/schema';
import { PlatformLimitError } from '../../../infra/cdktf/limits';
import { gcpLimitProblems } from '../../../infra/gcp/limits';
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

test('a bucket name that breaks GCS rules fails when the config loads, before synth, naming file, key, rule and value', () => {
  const build = synthGcpWith((doc) => {
    doc.gcp.storage.bucket = 'Google_Data';
  });
  expect(build).toThrow(ConfigError);
  expect(build).toThrow(/environments\/staging\.json: gcp\.storage\.bucket: "Google_Data" is not a valid Cloud Storage bucket name: 3-63 characters /);
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
    // Synth's own check (for a config that did not come through loadProjectConfig) names env, key, rule and value.
    expect((err as Error).message).toMatch(/env prod: gcp\.storage\.bucket: "goog-x" breaks the rule: 3-63 characters .*config\/environments\/prod\.json/);
    expect(keys.filter((k) => k.startsWith('service account'))).toHaveLength(4);
    expect((err as InvalidNameError).problems.every((p) => p.env === 'prod')).toBe(true);
  }
});

test('require_gpu without any gpu_type fails before synth with the config key', () => {
  const build = synthGcpWith((doc) => {
    doc.gcp.training.gpu_type = null;
  }, 'qa');
  expect(build).toThrow(/qa\.json: gcp\.training\.gpu_count: require_gpu is true/);
});

describe('Cloud Run limits fail synth with the environment, key, value and the platform limit', () => {
  const limitOf = (edit: (doc: any) => void, env = 'staging') => {
    try {
      synthGcpWith(edit, env)();
    } catch (err) {
      expect(err).toBeInstanceOf(PlatformLimitError);
      return err as PlatformLimitError;
    }
    throw new Error('expected PlatformLimitError');
  };

  test('a GPU training timeout above Cloud Run\'s 1 h task limit', () => {
    const build = synthGcpWith((doc) => {
      doc.gcp.training.max_runtime_seconds = 14400;
    });
    expect(build).toThrow(PlatformLimitError);
    expect(build).toThrow(
      /env staging: gcp\.training\.max_runtime_seconds = 14400: a Cloud Run job task with a GPU runs at most 3600 s \(1 h\).*config\/environments\/staging\.json/,
    );
  });

  test('a CPU training timeout is held to 168 h, not 1 h', () => {
    const noGpu = { gpu_type: null, gpu_count: 0, require_gpu: false, instance_type: 'n2-standard-8' };
    expect(synthGcpWith((doc) => Object.assign(doc.gcp.training, noGpu, { max_runtime_seconds: 14400 }))).not.toThrow();
    expect(limitOf((doc) => Object.assign(doc.gcp.training, noGpu, { max_runtime_seconds: 700_000 })).message).toMatch(/at most 604800 s \(168 h\)/);
  });

  test('more than one GPU per instance', () => {
    expect(limitOf((doc) => (doc.gcp.training.gpu_count = 2)).problems).toEqual([
      expect.objectContaining({ env: 'staging', key: 'gcp.training.gpu_count', value: '2', limit: expect.stringMatching(/one GPU per instance/) }),
    ]);
  });

  test('a GPU Cloud Run does not offer, for training or serving', () => {
    const problems = limitOf((doc) => {
      doc.gcp.training.gpu_type = 'nvidia-tesla-t4';
      doc.gcp.serving.gpu_type = 'nvidia-h100';
    }, 'dev').problems;
    expect(problems.map((p) => `${p.key} ${p.value}`)).toEqual(['gcp.training.gpu_type "nvidia-tesla-t4"', 'gcp.serving.gpu_type "nvidia-h100"']);
    expect(problems[0]!.limit).toMatch(/nvidia-l4 \(at least 4 CPU \/ 16 GiB.*nvidia-rtx-pro-6000 \(at least 20 CPU \/ 80 GiB/);
  });

  test('spot capacity and more than one task, which Cloud Run jobs do not have', () => {
    const problems = limitOf((doc) => Object.assign(doc.gcp.training, { spot: true, instance_count: 3 })).problems;
    expect(problems.map((p) => p.key)).toEqual(['gcp.training.spot', 'gcp.training.instance_count']);
    expect(problems[0]!.limit).toBe('Cloud Run jobs have no spot capacity: set spot to false');
    expect(problems[1]!.limit).toMatch(/one training task: set instance_count to 1/);
  });

  test('CPU serving sizes outside Cloud Run\'s CPU and memory table', () => {
    expect(limitOf((doc) => Object.assign(doc.gcp.serving, { cpu: '3' })).problems[0]).toMatchObject({ key: 'gcp.serving.cpu', value: '"3"' });
    expect(limitOf((doc) => Object.assign(doc.gcp.serving, { cpu: '2', memory: '16Gi' })).problems[0]!.limit).toMatch(/2 CPU between 0\.125 and 8 GiB/);
    expect(synthGcpWith((doc) => Object.assign(doc.gcp.serving, { cpu: '0.5', memory: '512Mi' }))).not.toThrow();
  });

  test('every problem of every environment is reported at once', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'dev.json'), (doc) => Object.assign(doc.gcp.training, { spot: true, gpu_count: 2 }));
    editJson(path.join(dir, 'environments', 'prod.json'), (doc) => (doc.gcp.training.max_runtime_seconds = 7200));
    try {
      buildCdktfApp({ configDir: dir, clouds: ['gcp'], backendEnv: {} });
      throw new Error('expected PlatformLimitError');
    } catch (err) {
      expect(err).toBeInstanceOf(PlatformLimitError);
      expect((err as PlatformLimitError).problems.map((p) => `${p.env} ${p.key}`)).toEqual([
        'dev gcp.training.gpu_count',
        'dev gcp.training.spot',
        'prod gcp.training.max_runtime_seconds',
      ]);
    }
  });

  test('the repository config is within every limit', () => {
    for (const env of ENVIRONMENTS) expect(gcpLimitProblems(requireCloud(config.environments[env], 'gcp'))).toEqual([]);
  });
});

test('GCS bucket rule', () => {
  for (const ok of ['abc', 'mlstack-dev-data', 'a.b.c', 'x_y-1']) expect(GCS_BUCKET_RULE.test(ok)).toBe(true);
  for (const bad of ['ab', 'Abc', '-abc', 'abc-', 'googx', 'my-google-data', '192.168.1.1', 'a'.repeat(64), 'a..b'])
    expect(GCS_BUCKET_RULE.test(bad)).toBe(false);
});

test('Cloud Run sizes follow the machine type and stay inside each GPU\'s bounds', () => {
  expect(cloudRunSize('g2-standard-8', 'nvidia-l4')).toEqual({ cpu: '8', memory: '32Gi' });
  expect(cloudRunSize('g2-standard-12', 'nvidia-l4')).toEqual({ cpu: '8', memory: '32Gi' });
  expect(cloudRunSize('n1-standard-2', 'nvidia-l4')).toEqual({ cpu: '4', memory: '16Gi' });
  expect(cloudRunSize('g4-standard-48', 'nvidia-rtx-pro-6000')).toEqual({ cpu: '20', memory: '80Gi' });
  expect(cloudRunSize('n1-standard-2', 'nvidia-rtx-pro-6000')).toEqual({ cpu: '20', memory: '80Gi' });
  expect(cloudRunSize('n1-standard-2', null)).toEqual({ cpu: '2', memory: '8Gi' });
  expect(cloudRunSize('custom', null)).toEqual({ cpu: '1', memory: '4Gi' });
});

test('a canary percent outside 1-99 is refused', () => {
  expect(() => trafficSplit({ stableRevision: 'r1', percent: 100 })).toThrow(/between 1 and 99, found 100/);
  expect(() => trafficSplit({ stableRevision: 'r1', percent: 0.5 })).toThrow(/found 0.5/);
});
