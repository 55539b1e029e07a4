/**
 * A wrong environment config fails synth with a message naming the
 * environment's file and key. Only MlStack-dev (or the edited environment)
 * is built: construction is where validation happens, no synth needed.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { EnvironmentName } from '../../../config/schema';
import { buildMlApp } from '../../../infra/aws/build-app';
import { ENV } from '../../../runtime/contract/env';
import { editJson } from '../../helpers/tmp';
import { configWith, REPO_ROOT } from './helpers';

function build(env: EnvironmentName, edit: (doc: any) => void): () => void {
  const configDir = configWith({ [env]: edit });
  return () => buildMlApp({ configDir, environments: [env], nag: false, buildContext: REPO_ROOT });
}

const pin = (doc: any) => (doc.model_version = 'v4');

test('min_capacity > max_capacity is rejected when the config loads, naming file and key', () => {
  expect(
    build('prod', (doc) => {
      doc.aws.serving.autoscaling.min_capacity = 9;
      doc.aws.serving.autoscaling.max_capacity = 3;
    }),
  ).toThrow(/environments\/prod\.json: aws\.serving\.autoscaling\.min_capacity: min_capacity must be <= max_capacity/);
});

test('a CPU training instance where require_gpu is true fails, naming the stack, file and key', () => {
  expect(build('dev', (doc) => (doc.aws.training.instance_type = 'ml.m5.xlarge'))).toThrow(
    /MlStack-dev\/Training: invalid configuration in .*environments\/dev\.json[\s\S]*aws\.training\.instance_type \(prop instanceType\): "ml\.m5\.xlarge" has no GPU but aws\.training\.require_gpu is true/,
  );
});

test('a CPU training instance is accepted when require_gpu is false', () => {
  expect(
    build('dev', (doc) => {
      doc.aws.training.instance_type = 'ml.c5.2xlarge';
      doc.aws.training.require_gpu = false;
    }),
  ).not.toThrow();
});

test('all problems of one construct are reported together', () => {
  let message = '';
  try {
    build('staging', (doc) => {
      doc.aws.training.instance_type = 'g5.xlarge';
      doc.aws.training.spot = false;
      doc.aws.training.volume_size_gb = 20_000;
    })();
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toMatch(/MlStack-staging\/Training: invalid configuration .*\(3 problems\)/);
  expect(message).toMatch(/aws\.training\.instance_type \(prop instanceType\): "g5\.xlarge" is not a SageMaker instance type/);
  expect(message).toMatch(/aws\.training\.max_wait_seconds \(prop maxWait\): only applies to spot training/);
  expect(message).toMatch(/aws\.training\.volume_size_gb \(prop volumeSizeGb\): must be 1-16384 GB, found 20000/);
});

test('a burstable ml.t* serving instance fails once a model is pinned', () => {
  expect(
    build('dev', (doc) => {
      pin(doc);
      doc.aws.serving.instance_type = 'ml.t2.medium';
    }),
  ).toThrow(/MlStack-dev\/Serving:[\s\S]*aws\.serving\.instance_type \(prop instanceType\): "ml\.t2\.medium" is a burstable ml\.t\* type/);
});

test('min_capacity 0 fails: a real-time endpoint needs an instance', () => {
  expect(
    build('dev', (doc) => {
      pin(doc);
      doc.aws.serving.autoscaling.min_capacity = 0;
    }),
  ).toThrow(/aws\.serving\.autoscaling\.min_capacity \(prop autoscaling\.minCapacity\): a real-time endpoint needs at least 1 instance, found 0/);
});

test('an invalid bucket name fails when the config loads, before any construct (DataLake checks the same rule)', () => {
  expect(build('qa', (doc) => (doc.aws.storage.bucket = 'Bad_Bucket'))).toThrow(
    /environments\/qa\.json: aws\.storage\.bucket: "Bad_Bucket" is not a valid S3 bucket name: 3-63 lowercase letters/,
  );
});

test('overlapping prefixes fail in DataLake', () => {
  expect(
    build('qa', (doc) => {
      // The project's raw and processed folders coincide: data/processed/<project>/ both.
      doc.aws.storage.raw_path = 'data/processed/';
    }),
  ).toThrow(
    /MlStack-qa\/DataLake: invalid configuration[\s\S]*aws\.storage\.(raw|processed)_path \(prop (raw|processed)\): "data\/processed\/mlstack\/" overlaps aws\.storage\.(raw|processed)_path/,
  );
});

test('an invalid image tag fails in Registry', () => {
  expect(build('dev', (doc) => (doc.aws.image_tag = '-nope'))).toThrow(/MlStack-dev\/Registry:[\s\S]*aws\.image_tag \(prop imageTag\): "-nope" is not a valid image tag/);
});

test('an ingestion schedule that is not a Scheduler expression fails in Ingestion', () => {
  expect(build('dev', (doc) => (doc.ingestion_schedule = '0 2 * * *'))).toThrow(
    /MlStack-dev\/Ingestion:[\s\S]*ingestion_schedule \(prop schedule\): "0 2 \* \* \*" is not an EventBridge Scheduler expression/,
  );
});

test('parser.json auth with only token_file fails synth: on AWS the token arrives as a variable from Secrets Manager', () => {
  const configDir = configWith({});
  editJson(path.join(configDir, 'parser.json'), (doc) => (doc.ingestion = { ...doc.ingestion, auth: { token_file: '/run/secrets/api-token' } }));
  expect(() => buildMlApp({ configDir, environments: ['dev'], nag: false, buildContext: REPO_ROOT })).toThrow(
    /MlStack-dev\/Ingestion: invalid configuration in .*environments\/dev\.json \/ .*parser\.json[\s\S]*ingestion\.auth\.token_file \(parser\.json\) \(prop tokenFile\): "\/run\/secrets\/api-token": on AWS the ingestion task receives the API token from Secrets Manager as an environment variable, not a file; set ingestion\.auth\.token_env/,
  );
});

test('the CDK app entry point exits 2 with the message on a bad config (what `cdk synth` shows)', () => {
  const configDir = configWith({ dev: (doc) => (doc.aws.training.instance_type = 'ml.m5.large') });
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/run-ts.js'), path.join(REPO_ROOT, 'infra/aws/app.ts')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, [ENV.configDir]: configDir, CDK_OUTDIR: path.join(configDir, 'cdk.out') },
  });
  expect(result.stderr).toMatch(/MlStack-dev\/Training: invalid configuration[\s\S]*"ml\.m5\.large" has no GPU/);
  expect(result.status).toBe(2);
});
