import { loadProjectConfig } from '../../config/load';
import { runCliCaptured } from '../helpers/cli-capture';
import { processedRunPrefix, storagePaths } from '../../runtime/contract/layout';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { copyConfig, makeTempDir } from '../helpers/tmp';

describe('mlstack ingest', () => {
  beforeAll(() => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
  });
  afterAll(() => {
    delete process.env.MLSTACK_LOG_LEVEL;
  });

  it('prints a summary with the keys it wrote into the local workdir', async () => {
    const api = await startSampleApi({ rows: 1500 });
    const workdir = makeTempDir();
    const configDir = copyConfig();
    const config = loadProjectConfig(configDir);
    // The run's processed output sits under the project's level: data/processed/<project>/cli-local/data.csv.
    const processed = `${processedRunPrefix(storagePaths(config.environments.qa, 'local', config.pipeline.project), 'cli-local')}data.csv`;
    try {
      const { code, stdout } = await runCliCaptured(['ingest', '--env', 'qa', '--cloud', 'local', '--workdir', workdir, '--source', api.url, '--config-dir', configDir, '--run-id', 'cli-local']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^ingested run cli-local: 1500 fetched, \d+ processed, \d+ quarantined \(watermark 1500\)\n/);
      expect(processed).toBe(`data/processed/${config.pipeline.project}/cli-local/data.csv`);
      expect(stdout).toContain(`processed:  ${processed}`);
      expect(await new LocalObjectStore(workdir).exists(processed)).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('--project keeps a second project apart in the same workdir: its own run folders and its own watermark', async () => {
    const api = await startSampleApi({ rows: 300 });
    const workdir = makeTempDir();
    const configDir = copyConfig();
    const config = loadProjectConfig(configDir);
    const ingest = (runId: string, project?: string) =>
      runCliCaptured(['ingest', '--env', 'qa', '--cloud', 'local', '--workdir', workdir, '--source', api.url, '--config-dir', configDir, '--run-id', runId, ...(project ? ['--project', project] : [])]);
    const processedOf = (project: string, runId: string) => `${processedRunPrefix(storagePaths(config.environments.qa, 'local', project), runId)}data.csv`;
    try {
      const first = await ingest('own');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^ingested run own: 300 fetched/);
      // The other project has not seen the source yet: its watermark starts empty, so it fetches every row again.
      const other = await ingest('other', 'churn');
      expect(other.code).toBe(0);
      expect(other.stdout).toMatch(/^ingested run other: 300 fetched/);
      expect(other.stdout).toContain(`processed:  ${processedOf('churn', 'other')}`);
      const store = new LocalObjectStore(workdir);
      expect(await store.exists(processedOf('churn', 'other'))).toBe(true);
      expect(await store.exists(processedOf(config.pipeline.project, 'other'))).toBe(false);
      // And the configured project's watermark was left alone: nothing new for it.
      const again = await ingest('own-again');
      expect(again.stdout).toMatch(/^ingested run own-again: 0 fetched/);
    } finally {
      await api.close();
    }
  });

  it('exits 2 naming the bad environment and the flag', async () => {
    const { code, stderr } = await runCliCaptured(['ingest', '--env', 'moon', '--cloud', 'local', '--config-dir', copyConfig(), '--workdir', makeTempDir()]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown --env "moon": expected one of dev, qa, staging, prod/);
  });
});
