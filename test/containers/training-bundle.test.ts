/**
 * The self-contained training bundle (tfjs and the wasm binaries bundled), run with
 * node from a folder with NO node_modules (no Docker engine here): under the SageMaker
 * training contract (`node main.js train` with a tiny /opt/ml-layout folder must write the
 * model package to <root>/model), in bucket mode (bucketTrainingLaunch), and as the AWS
 * state machine's evaluate and register steps (sageMakerRegisterLaunch, against moto_server).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadProjectConfig } from '../../config/load';
import { bucketTrainingLaunch, ENV, PLATFORM_ENV, sageMakerRegisterLaunch } from '../../runtime/contract/env';
import { bucketUri, processedRunPrefix, storagePaths, SUCCESS_MARKER, versionArchiveKey } from '../../runtime/contract/layout';
import { packDirectoryToFile } from '../../runtime/model/archive';
import { motoAvailable, startMoto } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';
import { buildIsolatedBundle, containerEnv, expectModelPackage, runTraining, sageMakerRoot, startNode } from './bundle-helpers';

const project = loadProjectConfig('config');

describe('training bundle (self-contained)', () => {
  let dir: string;
  let files: string[];
  beforeAll(async () => {
    ({ dir, built: { files } } = await buildIsolatedBundle('training'));
  }, 180_000);

  test('ships the wasm binaries beside main.js', () => {
    expect(files).toEqual(expect.arrayContaining(['main.js', 'tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']));
    expect(files.some((f) => f === 'package.json')).toBe(false);
  });

  test('`node main.js train` writes the model to <root>/model using the bundled wasm backend', async () => {
    const { root, output, code } = await runTraining(dir);
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    const metadata = expectModelPackage(root, output);
    expect(metadata.backend).toBe('wasm');
  }, 120_000);

  test('a training failure is written to <root>/output/failure', async () => {
    const root = sageMakerRoot();
    fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ epochz: '2' }));
    const proc = startNode(dir, ['train'], containerEnv({ MLSTACK_SM_ROOT: root, MLSTACK_CONFIG_DIR: path.join(dir, 'config') }));
    expect((await proc.exited).code).toBe(1);
    expect(fs.readFileSync(path.join(root, 'output', 'failure'), 'utf8')).toMatch(/unknown hyperparameter epochz/);
  });

  test('bucket mode: `node main.js train` with the launch env trains on the complete run and registers v1', async () => {
    const bucket = makeTempDir('mlstack-bundle-bucket-');
    // The project's prefixes in the bucket: data/processed/mlstack/, models/mlstack/, checkpoints/mlstack/.
    const paths = storagePaths(project.environments.dev, 'gcp', project.pipeline.project);
    const run = path.join(bucket, processedRunPrefix(paths, '20260301T020000Z-aaaaaa'));
    fs.mkdirSync(run, { recursive: true });
    fs.copyFileSync(path.join(sageMakerRoot(), 'input', 'data', 'train', 'part-0.csv'), path.join(run, 'data.csv'));
    fs.writeFileSync(path.join(run, SUCCESS_MARKER), '{}');
    const launch = bucketTrainingLaunch({ cloud: 'gcp', envName: 'dev', project: project.pipeline.project, bucket: pathToFileURL(bucket).href });
    const env = containerEnv({ ...launch.env, [ENV.configDir]: path.join(dir, 'config'), [ENV.requireGpu]: '0', [PLATFORM_ENV.cloudRunExecution]: 'exec-bundle' });
    const proc = startNode(dir, launch.args, env);
    const { code } = await proc.exited;
    expect({ code, output: code === 0 ? '' : proc.output() }).toEqual({ code: 0, output: '' });
    const line = proc.output().split('\n').find((l) => l.startsWith('mlstack-result '));
    expect(JSON.parse((line ?? '').slice('mlstack-result '.length))).toMatchObject({ runId: 'exec-bundle', version: 'v1', already_registered: false });
    expect(fs.existsSync(path.join(bucket, versionArchiveKey(paths, 'v1')))).toBe(true);
    expect(fs.existsSync(path.join(bucket, paths.checkpoints, 'exec-bundle'))).toBe(true);
    expect(fs.existsSync(path.join(bucket, 'checkpoints', project.pipeline.project, 'exec-bundle'))).toBe(true);
  }, 120_000);

  (motoAvailable() ? test : test.skip)('evaluate and register steps: `node main.js register` with the launch env writes the version to S3', async () => {
    const moto = await startMoto();
    try {
      const s3Bucket = project.environments.dev.aws!.storage.bucket;
      await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: s3Bucket }));
      const { root, code } = await runTraining(dir);
      expect(code).toBe(0);
      const modelDir = makeTempDir('mlstack-processing-model-');
      await packDirectoryToFile(path.join(root, 'model'), path.join(modelDir, 'model.tar.gz'));
      const evaluationDir = makeTempDir('mlstack-processing-evaluation-');
      const config = { [ENV.configDir]: path.join(dir, 'config') };
      const evaluate = startNode(dir, ['evaluate', '--model', modelDir, '--data', path.join(root, 'input', 'data', 'train'), '--output', evaluationDir], containerEnv(config));
      expect((await evaluate.exited).code).toBe(0);

      const output = makeTempDir('mlstack-processing-output-');
      const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:ci-1';
      const ctx = { cloud: 'aws' as const, envName: 'dev', project: project.pipeline.project, bucket: bucketUri(project.environments.dev, 'aws') };
      const launch = sageMakerRegisterLaunch(ctx, image, { model: modelDir, evaluation: evaluationDir, output });
      const aws = { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };
      const register = startNode(dir, launch.args, containerEnv({ ...launch.env, ...config, ...aws }));
      const { code: registered } = await register.exited;
      expect({ code: registered, output: registered === 0 ? '' : register.output() }).toEqual({ code: 0, output: '' });
      const doc = JSON.parse(fs.readFileSync(path.join(output, 'registration.json'), 'utf8'));
      expect(doc).toMatchObject({ version: 'v1', artifact_uri: `s3://${s3Bucket}/models/mlstack/v1/model.tar.gz`, model_package_arn: expect.stringMatching(/^arn:aws:sagemaker:/) });
      const head = await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new HeadObjectCommand({ Bucket: s3Bucket, Key: 'models/mlstack/v1/evaluation.json' }));
      expect(head.ContentLength).toBeGreaterThan(0);
    } finally {
      await moto.stop();
    }
  }, 120_000);
});
