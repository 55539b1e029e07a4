/**
 * A config that cannot work fails when it loads (`mlstack config validate` and every command), one message per
 * problem naming the file and key: bounds, search-space keys, duplicate JSON keys, fields that must be selected,
 * and each cloud's naming rules (issue 21).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, duplicateKeys, loadProjectConfig } from '../../config/load';
import { resourceNameProblems, S3_BUCKET_RULE } from '../../config/naming';
import { LIMITS, TRAINING_PARAMETERS } from '../../config/schema';
import { runCli } from '../helpers/cli';
import { copyConfig, editJson } from '../helpers/tmp';

/** Every problem line of the ConfigError loading `dir` throws, without the "invalid configuration" header. */
function problemsOf(dir: string): string[] {
  try {
    loadProjectConfig(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${path.basename(p.file)}: ${p.keyPath}: ${p.message}`);
  }
  throw new Error('expected loadProjectConfig to throw');
}

function configWith(edits: Record<string, (doc: any) => void>): string {
  const dir = copyConfig();
  for (const [file, edit] of Object.entries(edits)) editJson(path.join(dir, file), edit);
  return dir;
}

describe('bounds', () => {
  it('refuses sizes and counts no consumer can meet, naming the key, the bound and the value', () => {
    const dir = configWith({
      'pipeline.json': (d) => {
        d.training_params.batch_size = 1e12;
        d.training_params.epochs = 1e9;
        d.training_params.hidden_layers = [64, 100_000];
        d.training_params.l2 = 5;
        d.training_params.early_stopping_patience = 0;
        d.tuning.trials = 100_000;
        d.tuning.eta = 1;
        d.seed = 2 ** 40;
        d.serving.max_body_bytes = 1e12;
      },
      'parser.json': (d) => {
        d.ingestion.timeout_ms = 1e10;
        d.ingestion.retries = { base_delay_ms: 5000, max_delay_ms: 100 };
      },
    });
    expect(problemsOf(dir)).toEqual([
      'pipeline.json: seed: expected a number <= 4294967295, found 1099511627776',
      'pipeline.json: training_params.batch_size: expected a number <= 65536, found 1000000000000',
      'pipeline.json: training_params.epochs: expected a number <= 10000, found 1000000000',
      'pipeline.json: training_params.hidden_layers.1: expected a number <= 8192, found 100000',
      'pipeline.json: training_params.early_stopping_patience: expected a number >= 1, found 0',
      'pipeline.json: training_params.l2: expected a number <= 1, found 5',
      'pipeline.json: tuning.trials: expected a number <= 1000, found 100000',
      'pipeline.json: tuning.eta: expected a number >= 2, found 1',
      'pipeline.json: serving.max_body_bytes: expected a number <= 104857600, found 1000000000000',
      'parser.json: ingestion.timeout_ms: expected a number <= 3600000, found 10000000000',
      'parser.json: ingestion.retries.base_delay_ms: base_delay_ms must be <= max_delay_ms',
    ]);
  });

  it('accepts the bounds themselves', () => {
    const dir = configWith({
      'pipeline.json': (d) => {
        d.training_params.batch_size = LIMITS.batchSize;
        d.training_params.epochs = LIMITS.epochs;
        d.training_params.hidden_layers = [LIMITS.layerUnits, 1];
        d.tuning.trials = LIMITS.trials;
      },
    });
    expect(loadProjectConfig(dir).pipeline.training_params.batch_size).toBe(65_536);
  });
});

describe('tuning.search_space', () => {
  it('names an unknown parameter with the accepted ones (tune used to fail later with a raw "Unrecognized key")', () => {
    const dir = configWith({ 'pipeline.json': (d) => (d.tuning.search_space.momentum = { min: 0.1, max: 0.9 }) });
    expect(problemsOf(dir)).toEqual([
      `pipeline.json: tuning.search_space.momentum: "momentum" is not a training parameter of model_type "neural_network": search_space keys must be training_params keys (${TRAINING_PARAMETERS.join(', ')})`,
    ]);
    expect(TRAINING_PARAMETERS).toEqual(expect.arrayContaining(['batch_size', 'epochs', 'learning_rate', 'hidden_layers', 'dropout']));
  });

  it('takes the tree parameters for gradient_boosting (learning_rate is then the trees\') and refuses the net\'s', () => {
    const dir = configWith({
      'pipeline.json': (d) => {
        d.model_type = 'gradient_boosting';
        d.training_params.gradient_boosting = { num_leaves: 15 };
        d.tuning.search_space = {
          num_leaves: { min: 8, max: 64, integer: true },
          learning_rate: { min: 0.02, max: 0.3, log: true },
          min_data_in_leaf: { values: [10, 20, 50] },
          feature_fraction: { min: 0.5, max: 1 },
        };
      },
    });
    const { pipeline } = loadProjectConfig(dir);
    expect(pipeline.training_params.gradient_boosting).toMatchObject({ num_leaves: 15, learning_rate: 0.1, max_bins: 255 });
    const bad = configWith({
      'pipeline.json': (d) => {
        d.model_type = 'gradient_boosting';
        d.tuning.search_space = { hidden_layers: { values: [[8]] }, num_leaves: { min: 1, max: 8, integer: true } };
      },
    });
    const problems = problemsOf(bad);
    expect(problems[0]).toMatch(/tuning\.search_space\.hidden_layers: "hidden_layers" is not a training parameter of model_type "gradient_boosting": .*num_leaves/);
    expect(problems[1]).toMatch(/tuning\.search_space\.num_leaves: the range \{min: 1, max: 8\} samples values num_leaves refuses: 1: expected a number >= 2/);
    const badBlock = configWith({ 'pipeline.json': (d) => (d.training_params.gradient_boosting = { feature_fraction: 0 }) });
    expect(problemsOf(badBlock)[0]).toMatch(/training_params\.gradient_boosting\.feature_fraction/);
  });

  it('refuses values a parameter refuses, and a fractional range over a whole-number parameter', () => {
    const dir = configWith({
      'pipeline.json': (d) => {
        d.tuning.search_space.batch_size = { values: [32, 1e6] };
        d.tuning.search_space.learning_rate = { min: 0.001, max: 5, log: true };
        d.tuning.search_space.epochs = { min: 2, max: 20 };
        d.tuning.search_space.hidden_layers = { values: [[64], [0]] };
      },
    });
    expect(problemsOf(dir).sort()).toEqual([
      'pipeline.json: tuning.search_space.batch_size.values: not a valid batch_size: 1000000: expected a number <= 65536',
      'pipeline.json: tuning.search_space.epochs.integer: epochs takes whole numbers: add "integer": true to the range',
      'pipeline.json: tuning.search_space.hidden_layers.values: not a valid hidden_layers: [0] (item 0): expected a number >= 1',
      'pipeline.json: tuning.search_space.learning_rate: the range {min: 0.001, max: 5} samples values learning_rate refuses: 5: expected a number <= 1',
    ]);
  });

  it('accepts whole-number ranges that round into bounds', () => {
    const dir = configWith({ 'pipeline.json': (d) => (d.tuning.search_space.epochs = { min: 1, max: 30, integer: true }) });
    expect(loadProjectConfig(dir).pipeline.tuning?.search_space.epochs).toMatchObject({ min: 1, max: 30, integer: true });
  });
});

describe('duplicate JSON keys', () => {
  it('names the key path and both lines, in every file, and still validates the rest', () => {
    const dir = copyConfig();
    const parser = path.join(dir, 'parser.json');
    // The same source field mapped twice: JSON.parse keeps the later one silently.
    fs.writeFileSync(parser, fs.readFileSync(parser, 'utf8').replace('"customer_age": "age",', '"customer_age": "age",\n    "customer_age": "years",'));
    const dev = path.join(dir, 'environments', 'dev.json');
    fs.writeFileSync(dev, fs.readFileSync(dev, 'utf8').replace('"name": "dev",', '"name": "dev",\n  "name": "dev",'));
    const problems = problemsOf(dir);
    expect(problems).toContain('parser.json: field_mappings.customer_age: duplicate key "customer_age" on lines 15 and 16: JSON keeps only the last one silently; remove or rename one');
    expect(problems).toContain('dev.json: name: duplicate key "name" on lines 2 and 3: JSON keeps only the last one silently; remove or rename one');
  });

  it('finds them inside arrays and nested objects, and not across sibling objects', () => {
    const text = ['{', '  "a": [{ "x": 1, "y": 2 }, { "x": 1,', '  "x": 3 }],', '  "b": { "x": 1 }', '}'].join('\n');
    expect(duplicateKeys('f.json', text)).toEqual([
      { file: 'f.json', keyPath: 'a.1.x', message: 'duplicate key "x" on lines 2 and 3: JSON keeps only the last one silently; remove or rename one' },
    ]);
  });
});

describe('fields a key refers to', () => {
  it('watermark_field and validation keys must be selected fields; a renamed source name points at its processed name', () => {
    const dir = configWith({
      'parser.json': (d) => {
        d.watermark_field = 'email';
        d.validation.customer_age = { type: 'integer' };
      },
    });
    expect(problemsOf(dir)).toEqual([
      'parser.json: validation.customer_age: validated field "customer_age" is not in selected_fields: it is a source field that field_mappings renames, so use the processed name "age"',
      'parser.json: watermark_field: watermark field "email" is not in selected_fields; selected_fields has: id, age, spend, tenure, plan, region, tickets, signup_time, churned',
    ]);
  });

  it('ingestion.unique_key (a name or a list) must name selected fields', () => {
    expect(problemsOf(configWith({ 'parser.json': (d) => (d.ingestion.unique_key = ['id', 'email']) }))).toEqual([
      'parser.json: ingestion.unique_key.1: unique key field "email" is not in selected_fields; selected_fields has: id, age, spend, tenure, plan, region, tickets, signup_time, churned',
    ]);
    expect(problemsOf(configWith({ 'parser.json': (d) => (d.ingestion.unique_key = 'customer_id') }))).toEqual([
      'parser.json: ingestion.unique_key: unique key field "customer_id" is not in selected_fields: it is a source field that field_mappings renames, so use the processed name "id"',
    ]);
    expect(loadProjectConfig(configWith({ 'parser.json': (d) => (d.ingestion.unique_key = ['id']) })).parser.ingestion).toMatchObject({ unique_key: ['id'] });
  });

  it('two source fields mapped to one processed name is one problem naming both', () => {
    const dir = configWith({ 'parser.json': (d) => (d.field_mappings.other_id = 'id') });
    expect(problemsOf(dir)).toEqual(['parser.json: field_mappings.other_id: two source fields are mapped to the same name "id": "customer_id" and "other_id"; give each a distinct name']);
  });
});

describe('cloud naming rules at config validate, not only at synth', () => {
  it('a bucket, storage account, container or resource group a cloud refuses is named at its key', () => {
    const dir = configWith({
      'environments/dev.json': (d) => {
        d.aws.storage.bucket = 'Invalid_Bucket!';
        d.gcp.storage.bucket = 'google-data';
        d.azure.storage.bucket = 'mlstack-dev-data';
        d.azure.storage.container = 'ml--stack';
        d.azure.resource_group = 'mlstack-dev.';
      },
    });
    const problems = problemsOf(dir);
    expect(problems).toEqual([
      `dev.json: aws.storage.bucket: "Invalid_Bucket!" is not a valid S3 bucket name: ${S3_BUCKET_RULE.rule}`,
      expect.stringMatching(/^dev\.json: gcp\.storage\.bucket: "google-data" is not a valid Cloud Storage bucket name: .*not containing "google"/),
      'dev.json: azure.resource_group: "mlstack-dev." is not a valid Azure resource group name: 1-90 letters, digits, underscores, dashes, periods and parentheses, not ending with a period',
      'dev.json: azure.storage.bucket: "mlstack-dev-data" is not a valid Azure storage account name: 3-24 lowercase letters and digits',
      'dev.json: azure.storage.container: "ml--stack" is not a valid Azure blob container name: 3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit',
    ]);
  });

  it('names derived from pipeline.json are reported there, one problem per kind of resource', () => {
    const dir = configWith({ 'pipeline.json': (d) => (d.project = 'a-rather-long-project-name') });
    const problems = problemsOf(dir);
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^pipeline\.json: project: the GCP service account names derived from it break the rule \(6-30 .*\): "a-rather-long-project-name-dev-ingest" \(dev\), .* and 13 more; shorten or change project$/,
      ),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^pipeline\.json: project: the Azure key vault names derived from it break the rule \(3-24 /));
    expect(new Set(problems).size).toBe(problems.length);
  });

  it('a project name with a trailing or doubled dash (ECR repositories refuse it) fails the project pattern', () => {
    for (const project of ['ab-', 'a--b']) {
      const dir = configWith({ 'pipeline.json': (d) => (d.project = project) });
      expect(problemsOf(dir)[0]).toMatch(/^pipeline\.json: project: lowercase letters, digits and single dashes, 2-31 chars/);
    }
  });

  it('the repository config breaks no rule; without a pipeline only the environment file names are judged', () => {
    const config = loadProjectConfig('config');
    for (const env of Object.values(config.environments)) expect(resourceNameProblems(config.pipeline, env)).toEqual([]);
    const bad = { ...config.environments.dev, aws: { ...config.environments.dev.aws!, storage: { ...config.environments.dev.aws!.storage, bucket: 'x' } } };
    expect(resourceNameProblems(undefined, bad).map((p) => p.key)).toEqual(['aws.storage.bucket']);
  });

  it('`mlstack config validate` exits 2 and lists the issue\'s examples, one line each', async () => {
    const dir = configWith({
      'pipeline.json': (d) => {
        d.training_params.batch_size = 1e12;
        d.tuning.search_space.momentum = { values: [0.9] };
      },
      'parser.json': (d) => (d.watermark_field = 'email'),
      'environments/qa.json': (d) => (d.aws.storage.bucket = 'Invalid_Bucket!'),
    });
    const run = await runCli(['config', 'validate', '--config-dir', dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid configuration \(4 problems\)/);
    expect(run.stderr).toMatch(/pipeline\.json: training_params\.batch_size: expected a number <= 65536, found 1000000000000\n/);
    expect(run.stderr).toMatch(/pipeline\.json: tuning\.search_space\.momentum: "momentum" is not a training parameter/);
    expect(run.stderr).toMatch(/parser\.json: watermark_field: watermark field "email" is not in selected_fields/);
    expect(run.stderr).toMatch(/environments\/qa\.json: aws\.storage\.bucket: "Invalid_Bucket!" is not a valid S3 bucket name/);
  });
});
