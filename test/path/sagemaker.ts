/**
 * Plays SageMaker for the AWS path test: a CreateTrainingJob or CreateProcessingJob request (as the state machine
 * sends it) becomes the container run SageMaker would make — the /opt/ml layout with the channels its
 * InputDataConfig names downloaded from S3 (moto), the job's Environment, `<image> train` — and afterwards the
 * model folder is tarred to <S3OutputPath>/<job>/output/model.tar.gz as SageMaker does. The SageMaker control
 * plane cannot run here; the containers, S3 and the data they exchange are real.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { makeTempDir } from '../helpers/tmp';
import { runContainer, type ContainerEnv } from './container';

type Obj = Record<string, unknown>;

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key as string));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

export async function getObject(s3: S3Client, uri: string): Promise<Buffer> {
  const { bucket, key } = parseS3Uri(uri);
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** S3Prefix semantics: every object whose key starts with the URI's key, kept relative to it. */
export async function downloadPrefix(s3: S3Client, uri: string, dir: string): Promise<string[]> {
  const { bucket, key } = parseS3Uri(uri);
  const keys = await listKeys(s3, bucket, key);
  if (keys.length === 0) throw new Error(`no objects under ${uri}`);
  const written: string[] = [];
  for (const k of keys) {
    const rel = k === key ? path.basename(k) : k.slice(key.length).replace(/^\/+/, '');
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, await getObject(s3, `s3://${bucket}/${k}`));
    written.push(rel);
  }
  return written;
}

export async function uploadFolder(s3: S3Client, dir: string, uri: string): Promise<string[]> {
  const { bucket, key } = parseS3Uri(uri);
  const base = key === '' || key.endsWith('/') ? key : `${key}/`;
  const uploaded: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}${child}`, Body: fs.readFileSync(path.join(dir, child)) }));
        uploaded.push(`${base}${child}`);
      }
    }
  };
  if (fs.existsSync(dir)) await walk('');
  return uploaded;
}

export interface SageMakerPlatformOptions {
  s3: S3Client;
  /** Image URI -> bundle folder (the test maps each declared image to its bundle). */
  bundleFor(imageUri: string): string;
  /** Image-level variables (Dockerfile ENV) per bundle folder. */
  imageEnv(bundleDir: string): Record<string, string>;
  emulators: Record<string, string>;
}

export interface SageMakerJobRun {
  kind: 'training' | 'processing';
  name: string;
  image: string;
  args: string[];
  declared: Record<string, string>;
  reads: string[];
  output: string;
}

const PROCESSING_ROOT = '/opt/ml/processing';

/** Handlers for the state machine's SageMaker tasks; every run is recorded in `runs`. */
export function sageMakerPlatform(options: SageMakerPlatformOptions) {
  const runs: SageMakerJobRun[] = [];

  async function trainingJob(params: Obj): Promise<Obj> {
    const name = String(params.TrainingJobName);
    const image = String((params.AlgorithmSpecification as Obj).TrainingImage);
    const root = makeTempDir('mlstack-sm-training-');
    const configDir = path.join(root, 'input', 'config');
    fs.mkdirSync(configDir, { recursive: true });
    const channels = (params.InputDataConfig as Obj[]) ?? [];
    fs.writeFileSync(path.join(configDir, 'hyperparameters.json'), JSON.stringify(params.HyperParameters ?? {}));
    fs.writeFileSync(
      path.join(configDir, 'inputdataconfig.json'),
      JSON.stringify(Object.fromEntries(channels.map((c) => [c.ChannelName, { ContentType: c.ContentType, TrainingInputMode: 'File' }]))),
    );
    fs.writeFileSync(path.join(configDir, 'resourceconfig.json'), JSON.stringify({ current_host: 'algo-1', hosts: ['algo-1'] }));
    for (const channel of channels) {
      const source = ((channel.DataSource as Obj).S3DataSource as Obj).S3Uri as string;
      await downloadPrefix(options.s3, source, path.join(root, 'input', 'data', String(channel.ChannelName)));
    }
    const bundle = options.bundleFor(image);
    const declared = (params.Environment as Record<string, string> | undefined) ?? {};
    const env: ContainerEnv = {
      declared,
      image: options.imageEnv(bundle),
      // SageMaker's fixed root, relocated for the test (the one variable that moves it).
      platform: { TRAINING_JOB_NAME: name, MLSTACK_SM_ROOT: root },
      emulators: options.emulators,
    };
    const { output, reads } = await runContainer(bundle, ['train'], env, `training job ${name}`);
    runs.push({ kind: 'training', name, image, args: ['train'], declared, reads, output });
    const archive = path.join(makeTempDir('mlstack-sm-artifact-'), 'model.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', path.join(root, 'model'), '.']);
    const outputPath = String((params.OutputDataConfig as Obj).S3OutputPath).replace(/\/+$/, '');
    const artifact = `${outputPath}/${name}/output/model.tar.gz`;
    const { bucket, key } = parseS3Uri(artifact);
    await options.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.readFileSync(archive) }));
    const checkpoints = params.CheckpointConfig as Obj | undefined;
    if (checkpoints) await uploadFolder(options.s3, path.join(root, 'checkpoints'), String(checkpoints.S3Uri));
    return { TrainingJobName: name, TrainingJobStatus: 'Completed', ModelArtifacts: { S3ModelArtifacts: artifact } };
  }

  async function processingJob(params: Obj): Promise<Obj> {
    const name = String(params.ProcessingJobName);
    const app = params.AppSpecification as Obj;
    const image = String(app.ImageUri);
    const root = makeTempDir('mlstack-sm-processing-');
    const local = (p: string) => (p.startsWith(PROCESSING_ROOT) ? path.join(root, p.slice(PROCESSING_ROOT.length)) : p);
    for (const input of (params.ProcessingInputs as Obj[]) ?? []) {
      const s3 = input.S3Input as Obj;
      await downloadPrefix(options.s3, String(s3.S3Uri), local(String(s3.LocalPath)));
    }
    const outputs = (((params.ProcessingOutputConfig as Obj | undefined)?.Outputs as Obj[]) ?? []).map((o) => o.S3Output as Obj);
    for (const out of outputs) fs.mkdirSync(local(String(out.LocalPath)), { recursive: true });
    const args = ((app.ContainerArguments as string[]) ?? []).map(local);
    const bundle = options.bundleFor(image);
    const declared = (params.Environment as Record<string, string> | undefined) ?? {};
    const { output, reads } = await runContainer(bundle, args, { declared, image: options.imageEnv(bundle), emulators: options.emulators }, `processing job ${name}`);
    runs.push({ kind: 'processing', name, image, args: (app.ContainerArguments as string[]) ?? [], declared, reads, output });
    for (const out of outputs) await uploadFolder(options.s3, local(String(out.LocalPath)), String(out.S3Uri));
    return { ProcessingJobName: name, ProcessingJobStatus: 'Completed' };
  }

  async function handle(resource: string, params: Obj): Promise<unknown> {
    if (resource.endsWith(':sagemaker:createTrainingJob.sync')) return trainingJob(params);
    if (resource.endsWith(':sagemaker:createProcessingJob.sync')) return processingJob(params);
    throw new Error(`the AWS path test does not play ${resource}: a state machine task nobody runs here`);
  }

  return { handle, runs };
}
