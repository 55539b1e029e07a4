/** Tracking in a bucket (moto_server on loopback): train --cloud aws records the run there; runs and models read it back. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runCli } from '../helpers/cli';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('tracking in an S3 bucket (moto_server)', () => {
  let moto: MotoServer;
  let s3: S3Client;
  beforeAll(async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'mlstack-dev-data' }));
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  it('writes tracking/<project>/runs/<run>.json into the bucket and lists, shows and compares from it', async () => {
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => Object.assign(doc.training_params, { epochs: 1, batch_size: 32 }));
    const data = path.join(makeTempDir('mlstack-bucket-track-'), 'train.csv');
    fs.writeFileSync(data, churnCsv(300, 6));
    const args = ['--env', 'dev', '--cloud', 'aws', '--config-dir', configDir];
    for (const run of ['b1', 'b2']) expect((await runCli(['train', ...args, '--data', data, '--run-id', run, '--json', ...(run === 'b2' ? ['--epochs', '2'] : [])])).code).toBe(0);
    await s3.send(new HeadObjectCommand({ Bucket: 'mlstack-dev-data', Key: 'tracking/mlstack/runs/b1.json' }));
    const listed = JSON.parse((await runCli(['runs', 'list', ...args, '--json'])).stdout);
    expect(listed.map((r: { run_id: string; lineage: { cloud: string } }) => [r.run_id, r.lineage.cloud])).toEqual([
      ['b1', 'aws'],
      ['b2', 'aws'],
    ]);
    const compared = JSON.parse((await runCli(['runs', 'compare', 'b1', 'b2', ...args, '--json'])).stdout);
    expect(compared.params.find((r: { key: string }) => r.key === 'epochs')).toEqual({ key: 'epochs', values: ['1', '2'], differs: true });
    expect((await runCli(['runs', 'show', 'b3', ...args])).code).toBe(1);
  }, 90_000);
});
