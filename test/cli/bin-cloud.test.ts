import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { getJson } from '../../runtime/storage/object-store';
import { defaultS3Client, S3ObjectStore } from '../../runtime/storage/s3-store';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { makeTempDir } from '../helpers/tmp';

const run = promisify(execFile);
const BIN = path.resolve(__dirname, '../../bin/mlstack.js');
const moto = motoAvailable();
if (!moto) console.warn('SKIPPED: bin/mlstack.js against S3 (moto_server not on PATH)');

// The installed `mlstack` runs TypeScript through tsx, whose loader differs from jest's: this runs the
// real executable in a child process, so a lazily loaded cloud adapter is proven to load there too.
(moto ? describe : describe.skip)('bin/mlstack.js with a cloud store', () => {
  let server: MotoServer;
  beforeAll(async () => {
    server = await startMoto();
    await defaultS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: server.endpoint }).send(new CreateBucketCommand({ Bucket: 'mlstack-qa-data' }));
  });
  afterAll(async () => server?.stop());

  it('ingests the sample API into the environment bucket on S3', async () => {
    const api = await startSampleApi({ rows: 500 });
    try {
      const { stdout } = await run(
        process.execPath,
        [BIN, 'ingest', '--env', 'qa', '--cloud', 'aws', '--source', api.url, '--run-id', 'bin-run', '--json', '--workdir', makeTempDir()],
        { env: { ...process.env, AWS_ENDPOINT_URL_S3: server.endpoint, MLSTACK_LOG_LEVEL: 'silent' } },
      );
      const result = JSON.parse(stdout);
      expect(result.rows.fetched).toBe(500);
      const store = new S3ObjectStore('mlstack-qa-data', '', defaultS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: server.endpoint }));
      const report = await getJson<{ rows?: unknown }>(store, result.reportKey);
      expect(report).toBeDefined();
      expect(await store.exists(result.processedKey)).toBe(true);
    } finally {
      await api.close();
    }
  });
});
