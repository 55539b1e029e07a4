import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { loadProjectConfig } from '../../config/load';
import { main as cliMain } from '../../runtime/cli/main';
import { processedRunPrefix, storagePaths, SUCCESS_MARKER } from '../../runtime/contract/layout';
import { runIngestion } from '../../runtime/ingestion';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { getJson } from '../../runtime/storage/object-store';
import { defaultS3Client, S3ObjectStore } from '../../runtime/storage/s3-store';
import { expectEachIdOnce, idsOf, projectPaths, testProject } from '../helpers/ingest-fixtures';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { copyConfig } from '../helpers/tmp';

const moto = motoAvailable();
if (!moto) console.warn('SKIPPED: ingestion to S3 (moto_server not on PATH)');

(moto ? describe : describe.skip)('ingestion into S3 (moto_server)', () => {
  let server: MotoServer;
  beforeAll(async () => {
    server = await startMoto();
    process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
    await defaultS3Client().send(new CreateBucketCommand({ Bucket: 'mlstack-dev-data' }));
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_S3;
    await server?.stop();
  });

  it('`mlstack ingest --cloud aws` writes raw, processed, quarantine and report objects to the environment bucket', async () => {
    const api = await startSampleApi({ rows: 3000 });
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    let printedText: string;
    const configDir = copyConfig();
    const config = loadProjectConfig(configDir);
    const paths = storagePaths(config.environments.dev, 'aws', config.pipeline.project);
    try {
      process.env.MLSTACK_LOG_LEVEL = 'silent';
      code = await cliMain(['node', 'mlstack', 'ingest', '--env', 'dev', '--cloud', 'aws', '--source', api.url, '--config-dir', configDir, '--run-id', 'cli-run', '--json']);
    } finally {
      printedText = out.mock.calls.map((c) => String(c[0])).join('');
      delete process.env.MLSTACK_LOG_LEVEL;
      out.mockRestore();
      await api.close();
    }
    expect(code).toBe(0);
    const printed = JSON.parse(printedText);
    expect(printed.rows).toEqual({ fetched: 3000, processed: printed.rows.processed, quarantined: printed.rows.quarantined });
    expect(printed.rows.quarantined).toBeGreaterThan(5);
    const store = new S3ObjectStore('mlstack-dev-data');
    const keys = (await store.list('data/')).map((o) => o.key);
    // Both kinds of data sit under the project's level: data/{processed,raw}/<project>/<run>/.
    expect([paths.processed, paths.raw]).toEqual([`data/processed/${config.pipeline.project}/`, `data/raw/${config.pipeline.project}/`]);
    const processed = processedRunPrefix(paths, 'cli-run');
    expect(keys).toEqual([
      `${processed}${SUCCESS_MARKER}`,
      `${processed}data.csv`,
      `${processed}quality_report.json`,
      `${processed}quarantine.jsonl`,
      `${paths.raw}cli-run/_metadata.json`,
      `${paths.raw}cli-run/part-00000.jsonl`,
    ]);
    expectEachIdOnce(await idsOf(store, printed), 1, 3000);
  });

  it('a resumed run on S3 replays its committed parts', async () => {
    const api = await startSampleApi({ rows: 900, pageSize: 100 });
    try {
      const store = new S3ObjectStore('mlstack-dev-data', 'resume-test');
      const project = testProject((ing) => {
        ing.raw_part_rows = 300;
        ing.pagination.max_pages = 4;
      });
      const partial = await runIngestion({ project, env: 'dev', cloud: 'aws', store, source: api.url, runId: 'capped' });
      expect(partial.rows.fetched).toBe(400);
      const rest = await runIngestion({ project, env: 'dev', cloud: 'aws', store, source: api.url });
      expect(rest.rows.fetched).toBe(400);
      expectEachIdOnce(await idsOf(store, rest), 401, 800);
      const watermarkKey = (await store.list(projectPaths(project, 'dev', 'aws').state)).find((o) => o.key.endsWith('watermark.json'))!.key;
      expect((await getJson<{ watermark: number }>(store, watermarkKey)).watermark).toBe(800);
    } finally {
      await api.close();
    }
  });
});

