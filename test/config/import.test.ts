/**
 * `mlstack config import` on seed 001's own files: the two JSON documents are read from the seed text in
 * ../shared/seeds (written to a temp folder as config.json and project_parser_config.json), imported, and the result
 * must load with loadProjectConfig and synthesize nothing the seed did not say except the stated defaults.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapSeedProject, projectNameFrom, seedConfigSchema, seedParserSchema } from '../../config/import';
import { loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS } from '../../config/schema';
import { runCli } from '../helpers/cli';
import { makeTempDir } from '../helpers/tmp';

const SEEDS = path.resolve(__dirname, '..', '..', '..', 'shared', 'seeds');

/** The ```json block that follows `### <heading>` in the seed text. */
function jsonBlockAfter(text: string, heading: string): unknown {
  const start = text.indexOf(`### ${heading}`);
  if (start < 0) throw new Error(`seed has no "### ${heading}" section`);
  const open = text.indexOf('```json', start);
  const close = text.indexOf('```', open + 7);
  return JSON.parse(text.slice(open + 7, close));
}

function seedProjectDir(): string {
  const seedFile = fs.readdirSync(SEEDS).map((f) => path.join(SEEDS, f)).find((f) => fs.readFileSync(f, 'utf8').includes('### config/project_parser_config.json'));
  if (!seedFile) throw new Error(`no seed in ${SEEDS} shows config/project_parser_config.json`);
  const text = fs.readFileSync(seedFile, 'utf8');
  const dir = makeTempDir('mlstack-seed-');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(jsonBlockAfter(text, 'config/config.json')));
  fs.writeFileSync(path.join(dir, 'project_parser_config.json'), JSON.stringify(jsonBlockAfter(text, 'config/project_parser_config.json')));
  return dir;
}

describe('mlstack config import (seed 001 layout)', () => {
  test('writes a valid config that keeps every seed value it has a place for', async () => {
    const from = seedProjectDir();
    const out = makeTempDir('mlstack-imported-');
    const run = await runCli(['config', 'import', '--from', from, '--out', out]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/imported .* \(project ml-model-endpoint\)/);
    expect(run.stdout).toContain('ml.t2.medium is burstable');

    const seed = seedConfigSchema.parse(JSON.parse(fs.readFileSync(path.join(from, 'config.json'), 'utf8')));
    const parser = seedParserSchema.parse(JSON.parse(fs.readFileSync(path.join(from, 'project_parser_config.json'), 'utf8')));
    const project = loadProjectConfig(out);
    expect(project.pipeline).toMatchObject({ features: seed.features, target: seed.target, train_split: seed.train_split, endpoint_name: seed.endpoint_name });
    expect(project.pipeline.training_params).toMatchObject(seed.training_params);
    expect(project.parser.selected_fields).toEqual(parser.selected_fields);
    expect(project.parser.field_mappings).toEqual(parser.field_mappings);
    for (const env of ENVIRONMENTS) {
      const block = seed.promotion[env];
      const aws = project.environments[env].aws!;
      expect([aws.region, aws.storage.bucket, aws.storage.raw_path, aws.storage.processed_path]).toEqual([
        block.sagemaker.region,
        block.s3_bucket,
        block.s3_raw_path,
        block.s3_processed_path,
      ]);
      expect(aws.image_tag).toBe(block.sagemaker.container_image!.split(':')[1]);
      expect(project.environments[env].gcp).toBeUndefined();
      expect(project.environments[env].azure).toBeUndefined();
    }
    expect(project.environments.dev.aws!.serving.instance_type).toBe('ml.c6i.large');
    expect(project.environments.prod.aws!.serving.instance_type).toBe(seed.promotion.prod.sagemaker.instance_type);
    expect(project.environments.prod.retain_on_delete).toBe(true);
  });

  test('refuses to overwrite an existing config without --force, naming the file', async () => {
    const from = seedProjectDir();
    const out = makeTempDir('mlstack-imported-');
    expect((await runCli(['config', 'import', '--from', from, '--out', out])).code).toBe(0);
    const again = await runCli(['config', 'import', '--from', from, '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/pipeline\.json: \(root\): exists already: pass --force/);
    expect((await runCli(['config', 'import', '--from', from, '--out', out, '--force', '--project', 'churn'])).code).toBe(0);
    expect(loadProjectConfig(out).pipeline.project).toBe('churn');
  });

  test('a vendor other than aws, or a missing environment, is refused with what to do', () => {
    const seed = seedConfigSchema.parse({
      cloud_vendor: 'gcp',
      model_type: 'neural_network',
      features: ['a'],
      target: 't',
      train_split: 0.8,
      training_params: {},
      endpoint_name: 'x-endpoint',
      promotion: { dev: { s3_bucket: 'bucket-dev', sagemaker: { instance_type: 'ml.m5.large', region: 'us-east-1' } } },
    });
    expect(() => mapSeedProject(seed, { selected_fields: ['a', 't'], field_mappings: {} })).toThrow(
      /cloud_vendor: "gcp": only the seed's SageMaker blocks[\s\S]*promotion: no block for qa, staging, prod/,
    );
  });

  test('project names follow the pipeline.json rule', () => {
    expect(projectNameFrom('ml-model-endpoint')).toBe('ml-model-endpoint');
    expect(projectNameFrom('My_Endpoint 2')).toBe('my-endpoint-2');
    expect(projectNameFrom('9')).toMatch(/^[a-z][a-z0-9-]{1,30}$/);
  });
});
