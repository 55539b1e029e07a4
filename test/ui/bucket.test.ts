/** `mlstack ui` over an S3 bucket (moto_server on loopback): the same pages as over a folder, read from the bucket. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runCli, startCli, type StartedCli } from '../helpers/cli';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('mlstack ui over an S3 bucket (moto_server)', () => {
  let moto: MotoServer;
  let ui: StartedCli;
  let base: string;
  const page = async (route: string) => {
    const res = await fetch(new URL(route, base));
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'mlstack-dev-data' }));
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => Object.assign(doc.training_params, { epochs: 1, batch_size: 32 }));
    editJson(path.join(configDir, 'environments', 'prod.json'), (doc) => (doc.model_version = 'v1'));
    const data = path.join(makeTempDir('mlstack-ui-bucket-'), 'train.csv');
    fs.writeFileSync(data, churnCsv(300, 6));
    const args = ['--env', 'dev', '--cloud', 'aws', '--config-dir', configDir];
    for (const run of ['s1', 's2']) {
      const extra = run === 's1' ? ['--register', '--image', '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlstack-dev/serving:1'] : ['--epochs', '2'];
      const trained = await runCli(['train', ...args, '--data', data, '--run-id', run, '--json', ...extra]);
      expect([trained.code, trained.stderr]).toEqual([0, '']);
    }
    await s3.send(new HeadObjectCommand({ Bucket: 'mlstack-dev-data', Key: 'tracking/mlstack/runs/s2.json' }));
    ui = startCli(['ui', ...args, '--port', '0']);
    base = await ui.url;
  }, 120_000);

  afterAll(async () => {
    if (ui) {
      process.emit('SIGTERM', 'SIGTERM');
      expect(await ui.running).toBe(0);
      ui.restore();
    }
    delete process.env.AWS_ENDPOINT_URL;
    await moto?.stop();
  });

  it('lists the experiment, and lists and compares the runs the bucket holds', async () => {
    expect((await page('/')).text).toContain('<td>mlstack</td><td><a href="/experiments/mlstack/runs">2 runs</a></td><td><a href="/experiments/mlstack/versions">1 version</a>');
    const runs = await page('experiments/mlstack/runs');
    expect(runs.status).toBe(200);
    expect(runs.text).toContain('<a href="/experiments/mlstack/runs/s1">s1</a>');
    expect(runs.text).toContain('the ones that differ between runs (epochs)');
    const compared = await page('experiments/mlstack/compare?run=s1&run=s2');
    expect(compared.text).toContain('<tr class="differs"><td>≠</td><td>epochs</td><td>1</td><td>2</td></tr>');
    expect(compared.text).toContain('<tr><td></td><td>cloud</td><td>aws</td><td>aws</td></tr>');
  });

  it('shows the version registered in the bucket, where it is pinned, and its report', async () => {
    const version = await page('experiments/mlstack/versions/v1');
    expect(version.text).toContain('<tr><td>prod</td><td>v1</td><td>pinned here</td></tr>');
    expect(version.text).toMatch(/<td>package<\/td><td>s3:\/\/mlstack-dev-data\/models\/mlstack\/v1\/<\/td>/);
    const report = await page('experiments/mlstack/versions/v1/report');
    expect(report.status).toBe(200);
    expect(report.text).toContain('<svg id="loss-curve"');
    expect(report.text).toContain('s1');
  });
});
