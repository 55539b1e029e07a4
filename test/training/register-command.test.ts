/**
 * `<training image> register`: the AWS state machine's registration step, started with exactly the
 * arguments and environment runtime/contract/env.ts sageMakerRegisterLaunch gives it, against moto_server
 * (S3 for the bucket, SageMaker for the model package). The model folder holds the model.tar.gz a
 * SageMaker training job writes; the evaluation folder holds what the evaluate step writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { loadProjectConfig } from '../../config/load';
import { ENV, sageMakerRegisterLaunch } from '../../runtime/contract/env';
import { bucketUri } from '../../runtime/contract/layout';
import { sagemakerClient } from '../../runtime/registry/sagemaker';
import { runEntrypoint } from '../../runtime/training/entrypoint';
import { checkProject, runRegisterCommand } from '../../runtime/training/register-command';
import { extractTarGz, packDirectoryToFile } from '../../runtime/model/archive';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const configDir = copyConfig();
editJson(path.join(configDir, 'pipeline.json'), (doc) => (doc.training_params.epochs = 2));
const project = loadProjectConfig(configDir);
const SERVING_IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:ci-7';

/** Output of the stages before registration: the training job's model.tar.gz and the evaluate step's folder. */
async function trainAndEvaluate(): Promise<{ modelDir: string; evaluationDir: string }> {
  const root = makeTempDir('mlstack-opt-ml-');
  fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
  fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ env: 'dev' }));
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'data.csv'), churnCsv(600, 9));
  const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const env = { [ENV.configDir]: configDir, [ENV.sageMakerRoot]: root, [ENV.requireGpu]: '0', TRAINING_JOB_NAME: 'mlstack-dev-train-0123456789ab', [ENV.logLevel]: 'silent' };
    expect(await runEntrypoint(['train'], env)).toBe(0);
    const modelDir = makeTempDir('mlstack-processing-model-');
    await packDirectoryToFile(path.join(root, 'model'), path.join(modelDir, 'model.tar.gz'));
    const evaluationDir = makeTempDir('mlstack-processing-evaluation-');
    expect(await runEntrypoint(['evaluate', '--model', modelDir, '--data', path.join(root, 'input', 'data', 'train'), '--output', evaluationDir], env)).toBe(0);
    return { modelDir, evaluationDir };
  } finally {
    quiet.mockRestore();
  }
}

/** The register step exactly as the stack launches it: sageMakerRegisterLaunch's args and env, plus the image's config dir. */
function launch(dirs: { modelDir: string; evaluationDir: string }, output: string, servingImage = SERVING_IMAGE): { argv: string[]; env: NodeJS.ProcessEnv } {
  const ctx = { cloud: 'aws' as const, envName: 'dev', project: project.pipeline.project, bucket: bucketUri(project.environments.dev, 'aws') };
  const { args, env } = sageMakerRegisterLaunch(ctx, servingImage, { model: dirs.modelDir, evaluation: dirs.evaluationDir, output });
  return { argv: args, env: { ...env, [ENV.configDir]: configDir, [ENV.logLevel]: 'silent' } };
}

async function runQuietly(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  try {
    return { code: await runEntrypoint(argv, env), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('register command: usage', () => {
  const dirs = { modelDir: makeTempDir(), evaluationDir: makeTempDir() };

  it('exits 2 naming what is missing or unknown', async () => {
    const { env } = launch(dirs, makeTempDir());
    const missing = await runQuietly(['register', '--model', dirs.modelDir], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/register needs --evaluation, --output: register --model/);
    const unknown = await runQuietly(['register', '--model', 'm', '--evaluation', 'e', '--output', 'o', '--bogus', 'x'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--bogus'/);
    const noBucket = await runQuietly(launch(dirs, makeTempDir()).argv, { ...env, [ENV.bucket]: '' });
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr).toMatch(new RegExp(`${ENV.bucket} is not set`));
    const badEnv = await runQuietly(launch(dirs, makeTempDir()).argv, { ...env, [ENV.env]: 'production' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(new RegExp(`${ENV.env}=production is not one of dev, qa, staging, prod`));
    const noModel = await runQuietly(launch({ modelDir: path.join(dirs.modelDir, 'absent'), evaluationDir: dirs.evaluationDir }, makeTempDir()).argv, env);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/--model .*absent does not exist: pass the folder holding model\.tar\.gz/);
  });

  it('refuses a package of another project, or a stack naming another project', () => {
    expect(() => checkProject('other', 'mlstack', 'mlstack', '/m')).toThrow(/the model package at \/m belongs to project "other", but the configuration's pipeline\.json is project "mlstack"/);
    expect(() => checkProject('mlstack', 'mlstack', 'churn', '/m')).toThrow(new RegExp(`${ENV.project}=churn, but the configuration's pipeline\\.json is project "mlstack"`));
    expect(() => checkProject('mlstack', 'mlstack', undefined, '/m')).not.toThrow();
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('register command against S3 and SageMaker (moto_server)', () => {
  let moto: MotoServer;
  let s3: S3Client;
  let dirs: { modelDir: string; evaluationDir: string };
  const bucket = project.environments.dev.aws!.storage.bucket;

  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    dirs = await trainAndEvaluate();
  }, 120_000);
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  const keysUnder = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();

  it('materialises v1 in the bucket and creates the model package of its model.tar.gz with the evaluation as statistics', async () => {
    const output = makeTempDir('mlstack-processing-output-');
    const { argv, env } = launch(dirs, output);
    const r = await runQuietly(argv, env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const doc = JSON.parse(fs.readFileSync(path.join(output, 'registration.json'), 'utf8'));
    expect(doc).toMatchObject({ version: 'v1', artifact_uri: `s3://${bucket}/models/mlstack/v1/model.tar.gz`, already_registered: false });
    expect(r.stdout).toContain(`mlstack-registration ${JSON.stringify(doc)}`);
    expect(await keysUnder('models/mlstack/v1/')).toEqual(['baseline.json', 'epochs.jsonl', 'evaluation.json', 'manifest.json', 'metadata.json', 'metrics.json', 'model.tar.gz', 'model/model.json', 'model/weights.bin', 'preprocessing.json', 'report.html']);
    expect(await keysUnder('registry/mlstack/versions/')).toEqual(['v1.json']);

    const archive = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'models/mlstack/v1/model.tar.gz' }))).Body!.transformToByteArray());
    const unpacked = makeTempDir();
    expect(await extractTarGz(archive, unpacked)).not.toContain('model.tar.gz');
    expect(JSON.parse(fs.readFileSync(path.join(unpacked, 'metadata.json'), 'utf8'))).toMatchObject({ project: 'mlstack', run_id: 'mlstack-dev-train-0123456789ab' });

    const described = await sagemakerClient('us-east-1').send(new DescribeModelPackageCommand({ ModelPackageName: doc.model_package_arn }));
    expect(described.ModelPackageGroupName).toBe('mlstack-dev');
    expect(described.InferenceSpecification?.Containers?.[0]).toMatchObject({ ModelDataUrl: doc.artifact_uri, Image: SERVING_IMAGE });
    expect(described.ModelMetrics?.ModelQuality?.Statistics).toEqual({ ContentType: 'application/json', S3Uri: `s3://${bucket}/models/mlstack/v1/evaluation.json` });
    const evaluation = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'models/mlstack/v1/evaluation.json' }))).Body!.transformToString());
    expect(evaluation).toEqual(JSON.parse(fs.readFileSync(path.join(dirs.evaluationDir, 'evaluation.json'), 'utf8')));
  });

  it('a retried step returns the version it registered instead of a second one', async () => {
    const output = makeTempDir('mlstack-processing-output-');
    const { argv, env } = launch(dirs, output);
    expect((await runQuietly(argv, env)).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(output, 'registration.json'), 'utf8'))).toMatchObject({ version: 'v1', already_registered: true });
    expect(await keysUnder('registry/mlstack/versions/')).toEqual(['v1.json']);
  });

  it('exits 2 for a stack naming another project, a missing evaluation or no serving image; 1 when the bucket is missing', async () => {
    const { argv, env } = launch(dirs, makeTempDir());
    const wrongProject = await runQuietly(argv, { ...env, [ENV.project]: 'churn' });
    expect(wrongProject.code).toBe(2);
    expect(wrongProject.stderr).toMatch(/disagree/);
    const noEvaluation = await runQuietly(launch({ modelDir: dirs.modelDir, evaluationDir: makeTempDir() }, makeTempDir()).argv, env);
    expect(noEvaluation.code).toBe(2);
    expect(noEvaluation.stderr).toMatch(/--evaluation .* holds no evaluation\.json/);
    const noImage = launch(dirs, makeTempDir(), '');
    const unpinned = await runQuietly(noImage.argv, { ...noImage.env, [ENV.bucket]: 's3://mlstack-other-bucket' });
    expect(unpinned.code).toBe(2);
    expect(unpinned.stderr).toMatch(new RegExp(`needs the serving image: pass --image <uri> \\(the register container reads ${ENV.servingImage}\\), or set aws\\.account and pin aws\\.image_tag`));
    const missingBucket = await runQuietly(argv, { ...env, [ENV.bucket]: 's3://mlstack-no-such-bucket' });
    expect(missingBucket.code).toBe(1);
  });
});
