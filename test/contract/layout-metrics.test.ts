import * as path from 'node:path';
import { ConfigError, loadProjectConfig, requireCloud } from '../../config/load';
import { configuredClouds } from '../../config/schema';
import { bucketUri, runPackagePrefix, storagePaths, versionArchiveKey, versionPrefix } from '../../runtime/contract/layout';
import { metricDirection } from '../../runtime/contract/metrics';
import { copyConfig, editJson } from '../helpers/tmp';

describe('storage layout', () => {
  const config = loadProjectConfig('config');

  test('each cloud reads its own prefixes, each project has its own part of them; registry and data capture are fixed', () => {
    const env = config.environments.staging;
    for (const cloud of ['aws', 'gcp', 'azure'] as const) {
      const paths = storagePaths(env, cloud, 'churn');
      expect(paths.processed).toBe(`${env[cloud]!.storage.processed_path}churn/`);
      expect(paths.raw).toBe(`${env[cloud]!.storage.raw_path}churn/`);
      expect(paths.checkpoints).toBe(`${env[cloud]!.storage.checkpoints_path}churn/`);
      expect([paths.registry, paths.state, paths.dataCapture]).toEqual(['registry/', 'state/churn/', 'data-capture/']);
    }
  });

  test('two projects in one bucket share no prefix of runs, packages, checkpoints or state', () => {
    const env = config.environments.dev;
    const a = storagePaths(env, 'aws', 'churn');
    const b = storagePaths(env, 'aws', 'churn-v2');
    for (const key of ['raw', 'processed', 'models', 'checkpoints', 'state'] as const) {
      expect(a[key].startsWith(b[key]) || b[key].startsWith(a[key])).toBe(false);
    }
  });

  test('a version lives under its project: <models><project>/<version>/model.tar.gz, runs under <models><project>/runs/', () => {
    const paths = storagePaths(config.environments.dev, 'aws', 'churn');
    expect(versionPrefix(paths, 'v3')).toBe('models/churn/v3/');
    expect(versionArchiveKey(paths, 'v3')).toBe('models/churn/v3/model.tar.gz');
    expect(runPackagePrefix(paths, '20261204T100000Z-ab12cd')).toBe('models/churn/runs/20261204T100000Z-ab12cd/');
  });

  test('bucket URIs per cloud', () => {
    const env = config.environments.dev;
    expect(bucketUri(env, 'aws')).toBe(`s3://${env.aws!.storage.bucket}`);
    expect(bucketUri(env, 'gcp')).toBe(`gs://${env.gcp!.storage.bucket}`);
    expect(bucketUri(env, 'azure')).toBe(`az://${env.azure!.storage.bucket}/${env.azure!.storage.container ?? 'mlstack'}`);
  });
});

describe('metric direction', () => {
  test.each([
    ['auc', 'higher'],
    ['accuracy', 'higher'],
    ['f1', 'higher'],
    ['log_loss', 'lower'],
    ['val_loss', 'lower'],
    ['rmse', 'lower'],
    ['predict_latency_p99_ms', 'lower'],
    ['model_size_bytes', 'lower'],
  ])('%s is %s-is-better', (metric, direction) => {
    expect(metricDirection(metric)).toBe(direction);
  });
});

describe('single-cloud environments', () => {
  test('an environment may configure only AWS; local runs mirror its layout', () => {
    const dir = copyConfig();
    for (const env of ['dev', 'qa', 'staging', 'prod']) {
      editJson(path.join(dir, 'environments', `${env}.json`), (doc) => {
        delete doc.gcp;
        delete doc.azure;
      });
    }
    const project = loadProjectConfig(dir);
    expect(configuredClouds(project.environments.dev)).toEqual(['aws']);
    expect(storagePaths(project.environments.dev, 'local', 'churn').processed).toBe(`${project.environments.dev.aws!.storage.processed_path}churn/`);
    expect(() => requireCloud(project.environments.dev, 'gcp')).toThrow(/configures no gcp section: add one/);
  });

  test('an environment with no cloud at all is refused, naming the file', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'qa.json'), (doc) => {
      delete doc.aws;
      delete doc.gcp;
      delete doc.azure;
    });
    expect(() => loadProjectConfig(dir)).toThrow(ConfigError);
    expect(() => loadProjectConfig(dir)).toThrow(/qa\.json: \(root\): configure at least one cloud/);
  });

  test('model_version is a registered version or null: "latest" would point an endpoint at nothing', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'qa.json'), (doc) => {
      doc.model_version = 'latest';
    });
    expect(() => loadProjectConfig(dir)).toThrow(/qa\.json: model_version: a registered version such as "v3"/);
  });

  test('ingestion_source never carries a password', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'dev.json'), (doc) => {
      doc.ingestion_source = 'postgres://etl:hunter2@db.internal/sales';
    });
    expect(() => loadProjectConfig(dir)).toThrow(/dev\.json: ingestion_source: must not carry a password/);
  });
});
