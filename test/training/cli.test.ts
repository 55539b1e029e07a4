import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { loadProjectConfig } from '../../config/load';
import { main } from '../../runtime/cli/main';
import { processedRunPrefix, runPackagePrefix, storagePaths, SUCCESS_MARKER, versionPrefix } from '../../runtime/contract/layout';
import { sagemakerClient } from '../../runtime/registry/sagemaker';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { churnCsv } from './synthetic';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation((c) => (out.push(String(c)), true));
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((c) => (err.push(String(c)), true));
  try {
    const code = await main(['node', 'mlstack', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

const configDir = copyConfig();
editJson(path.join(configDir, 'pipeline.json'), (doc) => {
  doc.training_params.epochs = 2;
  doc.tuning.trials = 2;
  doc.tuning.strategy = 'random';
});
const config = loadProjectConfig(configDir);
/** The project's prefixes in the workdir (`--cloud local` lays out as the dev AWS bucket): data/processed/mlstack/, models/mlstack/, state/mlstack/. */
const local = storagePaths(config.environments.dev, 'local', config.pipeline.project);
/** The same in the dev S3 bucket. */
const s3 = storagePaths(config.environments.dev, 'aws', config.pipeline.project);

beforeAll(() => {
  process.env.MLSTACK_LOG_LEVEL = 'silent';
});

describe('mlstack train / evaluate / register / tune (local)', () => {
  const workdir = makeTempDir('mlstack-cli-');
  const csvFile = path.join(makeTempDir('mlstack-cli-data-'), 'holdout.csv');
  const common = ['--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--config-dir', configDir];

  const complete = path.join(workdir, processedRunPrefix(local, '20260101T000000Z-aaaaaa'));
  beforeAll(() => {
    fs.mkdirSync(complete, { recursive: true });
    fs.writeFileSync(path.join(complete, 'part-0.csv'), churnCsv(1200, 21));
    fs.writeFileSync(path.join(complete, SUCCESS_MARKER), '{}');
    // A newer run still being written (no marker): training must not pick it.
    const partial = path.join(workdir, processedRunPrefix(local, '20260102T000000Z-bbbbbb'));
    fs.mkdirSync(partial, { recursive: true });
    fs.writeFileSync(path.join(partial, 'part-0.csv'), 'not,the,data\n');
    fs.writeFileSync(csvFile, churnCsv(400, 22));
  });

  it('trains on the newest complete processed run and registers v1 in its own folder with model.tar.gz', async () => {
    const r = await run(['train', ...common, '--run-id', 'cli-run', '--register', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ runId: 'cli-run', packagePrefix: runPackagePrefix(local, 'cli-run'), epochs: 2, version: 'v1', already_registered: false });
    expect(result.packagePrefix).toBe('models/mlstack/runs/cli-run/');
    const store = new LocalObjectStore(workdir);
    expect(result.artifact_uri).toBe(store.uri('models/mlstack/v1/model.tar.gz'));
    expect(fs.existsSync(path.join(workdir, 'models', 'mlstack', 'v1', 'model.tar.gz'))).toBe(true);
    const record = JSON.parse(fs.readFileSync(path.join(workdir, 'registry', 'mlstack', 'versions', 'v1.json'), 'utf8'));
    expect(record).toMatchObject({
      package_prefix: versionPrefix(local, 'v1'),
      lineage: {
        run_id: 'cli-run',
        data_uri: store.uri(`${processedRunPrefix(local, '20260101T000000Z-aaaaaa')}part-0.csv`),
        source_package_uri: store.uri(runPackagePrefix(local, 'cli-run')),
      },
    });
    expect(record.lineage.code_version).toMatch(/^\d+\.\d+\.\d+(\+[0-9a-f]+)?$/);
  });

  it('prints a readable summary without --json and resumes a repeated run id', async () => {
    const r = await run(['train', ...common, '--run-id', 'cli-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/trained run cli-run \(binary, 2 epochs, resumed from epoch 2, backend \w+\)\n  test: auc 0\.\d+/);
  });

  it('evaluates a registry version on new data and writes a report', async () => {
    const report = path.join(makeTempDir(), 'eval.html');
    const r = await run(['evaluate', '--model', 'v1', '--data', csvFile, ...common, '--report', report, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.rows).toBe(400);
    expect(result.metrics.auc).toBeGreaterThan(0.6);
    expect(result.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(400);
    expect(result.model_type).toBe('neural_network');
    expect(result.feature_importance).toHaveLength(6);
    expect(Object.keys(result.feature_importance[0])).toEqual(['feature', 'permutation', 'permutation_std']);
    expect(fs.readFileSync(report, 'utf8')).toContain('<svg id="roc-curve"');
    const byDir = await run(['evaluate', '--model', path.join(workdir, runPackagePrefix(local, 'cli-run')), '--data', csvFile]);
    expect(byDir.stdout).toMatch(/evaluated .* on 400 rows/);
    const needsEnv = await run(['evaluate', '--model', 'v1', '--data', csvFile]);
    expect(needsEnv.code).toBe(2);
    expect(needsEnv.stderr).toMatch(/registry version: pass --env/);
  });

  it('returns the newest version when it already holds the run; --force registers a new one with its parent run', async () => {
    const again = await run(['register', '--model', 'cli-run', ...common, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 'v1', already_registered: true });
    const againText = await run(['register', '--model', 'cli-run', ...common]);
    expect(againText.stdout).toMatch(/mlstack v1 already holds run cli-run \(same data and config\): no new version registered; pass --force/);
    const r = await run(['register', '--model', 'cli-run', '--parent-run', 'cli-run', '--force', ...common, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 'v2', already_registered: false, package_prefix: 'models/mlstack/v2/', lineage: { run_id: 'cli-run', parent_run: 'cli-run' } });
    const text = await run(['register', '--model', 'cli-run', '--force', ...common]);
    expect(text.stdout).toMatch(/registered mlstack v3 \(run cli-run\)\n  package: .*models\/mlstack\/v3\/\n  archive: .*models\/mlstack\/v3\/model\.tar\.gz/);
    const unknown = await run(['evaluate', '--model', 'v9', '--data', csvFile, ...common]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/"v9" is not registered.*known versions: v1, v2, v3/);
  });

  it('runs a tuning study and resumes it by id', async () => {
    const r = await run(['tune', ...common, '--study', 's1', '--json']);
    expect(r.code).toBe(0);
    const study = JSON.parse(r.stdout);
    expect(study.trials).toHaveLength(2);
    expect(fs.existsSync(path.join(workdir, local.state, 'studies', 's1', 'study.json'))).toBe(true);
    const again = await run(['tune', ...common, '--study', 's1']);
    expect(again.stdout).toMatch(/study s1 \(random, 2 trials, complete\)[\s\S]*best: r0-c\d auc/);
  });

  it('explains bad input', async () => {
    expect((await run(['train', '--env', 'nope', '--cloud', 'local', '--config-dir', configDir])).stderr).toMatch(/unknown --env "nope"/);
    const empty = await run(['train', '--env', 'dev', '--cloud', 'local', '--workdir', makeTempDir(), '--config-dir', configDir]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no complete processed run under .*_SUCCESS\.json\): run `mlstack ingest` first or pass --data/);
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('mlstack train --cloud aws --register (moto_server)', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'mlstack-dev-data' }));
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  const csv = path.join(makeTempDir(), 'train.csv');
  beforeAll(() => fs.writeFileSync(csv, churnCsv(800, 5)));
  const aws = ['--env', 'dev', '--cloud', 'aws', '--config-dir', configDir];

  it('refuses to register without a serving image, before training, naming what to set', async () => {
    const r = await run(['train', ...aws, '--data', csv, '--run-id', 'no-image', '--register']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs the serving image: pass --image <uri> .*set aws\.account and pin aws\.image_tag \(not "latest"\) in config\/environments\/dev\.json/);
    const listed = await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new ListObjectsV2Command({ Bucket: 'mlstack-dev-data', Prefix: runPackagePrefix(s3, 'no-image') }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it('writes the package to S3, materialises the version there and creates a SageMaker model package of its model.tar.gz', async () => {
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:ci-42';
    const r = await run(['train', ...aws, '--data', csv, '--run-id', 'aws-run', '--register', '--image', image, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 'v1', artifact_uri: 's3://mlstack-dev-data/models/mlstack/v1/model.tar.gz' });
    const reg = await run(['register', ...aws, '--model', 'aws-run', '--image', image, '--force', '--json']);
    expect(reg.code).toBe(0);
    const version = JSON.parse(reg.stdout);
    expect(version).toMatchObject({
      version: 'v2',
      package_uri: 's3://mlstack-dev-data/models/mlstack/v2/',
      artifact_uri: 's3://mlstack-dev-data/models/mlstack/v2/model.tar.gz',
      lineage: { source_package_uri: `s3://mlstack-dev-data/${runPackagePrefix(s3, 'aws-run')}` },
    });
    const head = await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new HeadObjectCommand({ Bucket: 'mlstack-dev-data', Key: 'models/mlstack/v2/model.tar.gz' }));
    expect(head.ContentLength).toBeGreaterThan(0);
    const described = await sagemakerClient('us-east-1').send(new DescribeModelPackageCommand({ ModelPackageName: version.sagemaker_model_package_arn }));
    expect(described.ModelPackageGroupName).toBe('mlstack-dev');
    expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({ ModelDataUrl: version.artifact_uri, Image: image });
    expect(described.CustomerMetadataProperties?.run_id).toBe('aws-run');
  });

  it('derives the image from aws.account and a pinned aws.image_tag, never from the placeholder account', async () => {
    const placeholder = await run(['register', ...aws, '--model', 'aws-run', '--force', '--image', '000000000000.dkr.ecr.us-east-1.amazonaws.com/x/serving:1']);
    expect(placeholder.code).toBe(2);
    expect(placeholder.stderr).toMatch(/placeholder account 000000000000/);
    const pinned = copyConfig();
    editJson(path.join(pinned, 'pipeline.json'), (doc) => (doc.training_params.epochs = 2));
    editJson(path.join(pinned, 'environments', 'dev.json'), (doc) => {
      doc.aws.account = '123456789012';
      doc.aws.image_tag = 'sha-abc123';
    });
    const reg = await run(['register', '--env', 'dev', '--cloud', 'aws', '--config-dir', pinned, '--model', 'aws-run', '--force', '--json']);
    expect(reg.code).toBe(0);
    const version = JSON.parse(reg.stdout);
    const described = await sagemakerClient('us-east-1').send(new DescribeModelPackageCommand({ ModelPackageName: version.sagemaker_model_package_arn }));
    expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({
      ModelDataUrl: `s3://mlstack-dev-data/models/mlstack/${version.version}/model.tar.gz`,
      Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:sha-abc123',
    });
  });
});
