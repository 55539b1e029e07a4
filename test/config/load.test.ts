import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertEnvironmentName, ConfigError, loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS } from '../../config/schema';
import { copyConfig, editJson } from '../helpers/tmp';

function problemsOf(dir: string): string {
  try {
    loadProjectConfig(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected loadProjectConfig to throw');
}

describe('loadProjectConfig', () => {
  it('loads the repository config with every environment and cloud', () => {
    const project = loadProjectConfig(path.resolve(__dirname, '../../config'));
    expect(Object.keys(project.environments).sort()).toEqual([...ENVIRONMENTS].sort());
    expect(project.pipeline.features).toContain('age');
    for (const env of ENVIRONMENTS) {
      const e = project.environments[env];
      expect(e.aws!.serving.autoscaling.min_capacity).toBeLessThanOrEqual(e.aws!.serving.autoscaling.max_capacity);
      expect(e.gcp!.storage.raw_path).toBe('data/raw/');
    }
    expect(project.environments.prod.retain_on_delete).toBe(true);
  });

  it('names the file, key path, expected type and found value for a wrong type', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'pipeline.json'), (d) => (d.training_params.batch_size = '64'));
    const message = problemsOf(dir);
    expect(message).toMatch(/pipeline\.json: training_params\.batch_size: expected number, found "64"/);
  });

  it('reports a missing key as missing', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'qa.json'), (d) => delete d.aws.region);
    expect(problemsOf(dir)).toMatch(/qa\.json: aws\.region: expected string, found nothing \(the key is missing\)/);
  });

  it('rejects an unknown environment file and an unknown key', () => {
    const dir = copyConfig();
    fs.copyFileSync(path.join(dir, 'environments', 'dev.json'), path.join(dir, 'environments', 'preprod.json'));
    editJson(path.join(dir, 'parser.json'), (d) => (d.selected_feilds = []));
    const message = problemsOf(dir);
    expect(message).toMatch(/preprod\.json: \(root\): unknown environment "preprod": expected one of dev, qa, staging, prod/);
    expect(message).toMatch(/parser\.json: \(root\): unknown key "selected_feilds"/);
  });

  it('collects problems across files in one error', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'prod.json'), (d) => {
      d.aws.serving.autoscaling.min_capacity = 10;
      d.aws.serving.autoscaling.max_capacity = 2;
    });
    editJson(path.join(dir, 'pipeline.json'), (d) => d.features.push('not_ingested'));
    const message = problemsOf(dir);
    expect(message).toMatch(/prod\.json: aws\.serving\.autoscaling\.min_capacity: min_capacity must be <= max_capacity/);
    expect(message).toMatch(/pipeline\.json: features\.6: "not_ingested" is not produced by ingestion/);
    expect(message).toMatch(/2 problems/);
  });

  it('rejects a GPU requirement without a GPU, an env file with the wrong name, broken JSON and missing files', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'staging.json'), (d) => (d.gcp.training.gpu_count = 0));
    editJson(path.join(dir, 'environments', 'dev.json'), (d) => (d.name = 'qa'));
    fs.writeFileSync(path.join(dir, 'parser.json'), '{ "selected_fields": [');
    fs.rmSync(path.join(dir, 'environments', 'qa.json'));
    const message = problemsOf(dir);
    expect(message).toMatch(/staging\.json: gcp\.training\.gpu_count: require_gpu is true/);
    expect(message).toMatch(/dev\.json: name: expected "dev" \(the file name\), found "qa"/);
    expect(message).toMatch(/parser\.json: \(root\): not valid JSON/);
    expect(message).toMatch(/qa\.json: \(root\): file not found/);
  });

  it('rejects duplicate mapping targets and a target listed as a feature', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'parser.json'), (d) => (d.field_mappings.other_age = 'age'));
    editJson(path.join(dir, 'pipeline.json'), (d) => d.features.push('churned'));
    const message = problemsOf(dir);
    expect(message).toMatch(/parser\.json: field_mappings\.other_age: two source fields are mapped to the same name "age": "customer_age" and "other_age"/);
    expect(message).toMatch(/features: the target "churned" must not be a feature/);
  });

  it('accepts only the four environments by name', () => {
    expect(assertEnvironmentName('prod')).toBe('prod');
    expect(() => assertEnvironmentName('production')).toThrow(/unknown environment "production": expected one of dev, qa, staging, prod/);
  });
});
