import { Writable } from 'node:stream';
import { ENV } from '../../runtime/contract/env';
import { main as entrypointMain } from '../../runtime/ingestion/entrypoint';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { AzureBlobObjectStore } from '../../runtime/storage/azure-blob-store';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { azuriteAvailable, startAzurite, type Azurite } from '../helpers/azurite';
import { expectEachIdOnce, idsOf } from '../helpers/ingest-fixtures';
import { copyConfig, makeTempDir } from '../helpers/tmp';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

const azurite = azuriteAvailable();
if (!azurite) console.warn('SKIPPED: ingestion to Azure Blob (Azurite not installed)');
(azurite ? describe : describe.skip)('ingestion into Azure Blob (Azurite)', () => {
  let server: Azurite;
  beforeAll(async () => {
    server = await startAzurite();
  });
  afterAll(() => server?.stop());

  it('writes a run into a container through the container entrypoint', async () => {
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = server.connectionString;
    const api = await startSampleApi({ rows: 1200, pageSize: 400 });
    try {
      await new AzureBlobObjectStore('mlstackdevdata', 'mlstack').ensureContainer();
      const out = capture();
      const err = capture();
      const code = await entrypointMain(
        { MLSTACK_ENV: 'dev', MLSTACK_CLOUD: 'azure', MLSTACK_SOURCE: api.url, MLSTACK_CONFIG_DIR: copyConfig(), MLSTACK_RUN_ID: 'az-run', MLSTACK_LOG_LEVEL: 'silent' },
        out.stream,
        err.stream,
      );
      expect(err.text()).toBe('');
      expect(code).toBe(0);
      const result = JSON.parse(out.text());
      expect(result.rows.fetched).toBe(1200);
      const store = new AzureBlobObjectStore('mlstackdevdata', 'mlstack');
      expectEachIdOnce(await idsOf(store, result), 1, 1200);
    } finally {
      await api.close();
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });
});

describe('the ingestion entrypoint', () => {
  it('exits 2 with a clear message on an unknown cloud, and 1 on a missing source file', async () => {
    const err = capture();
    expect(await entrypointMain({ MLSTACK_CLOUD: 'mars', MLSTACK_CONFIG_DIR: copyConfig() }, capture().stream, err.stream)).toBe(2);
    // The container names the variable the value came from (the CLI names its flag).
    expect(err.text()).toMatch(new RegExp(`^mlstack-ingest: [\\s\\S]*unknown ${ENV.cloud} "mars": expected one of local, aws, gcp, azure`));
    const err2 = capture();
    const workdir = makeTempDir();
    expect(await entrypointMain({ MLSTACK_SOURCE: '/nonexistent/rows.csv', MLSTACK_WORKDIR: workdir, MLSTACK_CONFIG_DIR: copyConfig(), MLSTACK_LOG_LEVEL: 'silent' }, capture().stream, err2.stream)).toBe(1);
    expect(err2.text()).toMatch(/object not found: file:\/\/\/nonexistent\/rows\.csv/);
    expect(await new LocalObjectStore(workdir).list('data/')).toEqual([]);
  });

  it('rejects a source it cannot read', async () => {
    const err = capture();
    expect(await entrypointMain({ MLSTACK_SOURCE: 'ftp://host/file.csv', MLSTACK_WORKDIR: makeTempDir(), MLSTACK_CONFIG_DIR: copyConfig() }, capture().stream, err.stream)).toBe(1);
    expect(err.text()).toMatch(/unsupported source "ftp:\/\/host\/file.csv"/);
  });
});
