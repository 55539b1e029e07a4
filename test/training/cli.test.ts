import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { main } from '../../runtime/cli/main';
import { sagemakerClient } from '../../runtime/registry/sagemaker';
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

beforeAll(() => {
  process.env.MLSTACK_LOG_LEVEL = 'silent';
});

describe('mlstack train / evaluate / register / tune (local)', () => {
  const workdir = makeTempDir('mlstack-cli-');
  const csvFile = path.join(makeTempDir('mlstack-cli-data-'), 'holdout.csv');
  const common = ['--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--config-dir', configDir];

  beforeAll(() => {
    fs.mkdirSync(path.join(workdir, 'data', 'processed', '20260101T000000Z-aaaaaa'), { recursive: true });
    fs.writeFileSync(path.join(workdir, 'data', 'processed', '20260101T000000Z-aaaaaa', 'part-0.csv'), churnCsv(1200, 21));
    fs.writeFileSync(csvFile, churnCsv(400, 22));
  });

  it('trains on the newest processed run and registers v1', async () => {
    const r = await run(['train', ...common, '--run-id', 'cli-run', '--register', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ runId: 'cli-run', packagePrefix: 'models/cli-run/', epochs: 2, version: 'v1' });
    expect(fs.existsSync(path.join(workdir, 'registry', 'mlstack', 'versions', 'v1.json'))).toBe(true);
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
    expect(fs.readFileSync(report, 'utf8')).toContain('<svg id="roc-curve"');
    const byDir = await run(['evaluate', '--model', path.join(workdir, 'models', 'cli-run'), '--data', csvFile]);
    expect(byDir.stdout).toMatch(/evaluated .* on 400 rows/);
    const needsEnv = await run(['evaluate', '--model', 'v1', '--data', csvFile]);
    expect(needsEnv.code).toBe(2);
    expect(needsEnv.stderr).toMatch(/registry version: pass --env/);
  });

  it('registers an existing run as the next version with its parent run', async () => {
    const r = await run(['register', '--model', 'cli-run', '--parent-run', 'cli-run', ...common, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 'v2', lineage: { run_id: 'cli-run', parent_run: 'cli-run' } });
    const text = await run(['register', '--model', 'cli-run', ...common]);
    expect(text.stdout).toMatch(/registered mlstack v3 \(run cli-run\)/);
    const unknown = await run(['evaluate', '--model', 'v9', '--data', csvFile, ...common]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/"v9" is not registered.*known versions: v1, v2, v3/);
  });

  it('runs a tuning study and resumes it by id', async () => {
    const r = await run(['tune', ...common, '--study', 's1', '--json']);
    expect(r.code).toBe(0);
    const study = JSON.parse(r.stdout);
    expect(study.trials).toHaveLength(2);
    expect(fs.existsSync(path.join(workdir, 'state', 'studies', 's1', 'study.json'))).toBe(true);
    const again = await run(['tune', ...common, '--study', 's1']);
    expect(again.stdout).toMatch(/study s1 \(random, 2 trials, complete\)[\s\S]*best: r0-c\d auc/);
  });

  it('explains bad input', async () => {
    expect((await run(['train', '--env', 'nope', '--cloud', 'local', '--config-dir', configDir])).stderr).toMatch(/unknown --env "nope"/);
    const empty = await run(['train', '--env', 'dev', '--cloud', 'local', '--workdir', makeTempDir(), '--config-dir', configDir]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no processed data under .*run `mlstack ingest` first or pass --data/);
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

  it('writes the package to S3, records the version there and creates a SageMaker model package', async () => {
    const csv = path.join(makeTempDir(), 'train.csv');
    fs.writeFileSync(csv, churnCsv(800, 5));
    const r = await run(['train', '--env', 'dev', '--cloud', 'aws', '--config-dir', configDir, '--data', csv, '--run-id', 'aws-run', '--register', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const reg = await run(['register', '--env', 'dev', '--cloud', 'aws', '--config-dir', configDir, '--model', 'aws-run', '--json']);
    const version = JSON.parse(reg.stdout);
    expect(version.version).toBe('v2');
    expect(version.package_uri).toBe('s3://mlstack-dev-data/models/aws-run/');
    const described = await sagemakerClient('us-east-1').send(new DescribeModelPackageCommand({ ModelPackageName: version.sagemaker_model_package_arn }));
    expect(described.ModelPackageGroupName).toBe('mlstack-dev');
    expect(described.InferenceSpecification?.Containers?.[0].Image).toMatch(/\.dkr\.ecr\.us-east-1\.amazonaws\.com\/mlstack-dev\/serving:/);
    expect(described.CustomerMetadataProperties?.run_id).toBe('aws-run');
  });
});
