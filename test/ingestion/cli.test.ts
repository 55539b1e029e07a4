import { main as cliMain } from '../../runtime/cli/main';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { copyConfig, makeTempDir } from '../helpers/tmp';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await cliMain(['node', 'mlstack', ...args]);
    return { code, stdout: out.mock.calls.map((c) => String(c[0])).join(''), stderr: err.mock.calls.map((c) => String(c[0])).join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

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
    try {
      const { code, stdout } = await run(['ingest', '--env', 'qa', '--cloud', 'local', '--workdir', workdir, '--source', api.url, '--config-dir', copyConfig(), '--run-id', 'cli-local']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^ingested run cli-local: 1500 fetched, \d+ processed, \d+ quarantined \(watermark 1500\)\n/);
      expect(stdout).toContain('processed:  data/processed/cli-local/data.csv');
      expect(await new LocalObjectStore(workdir).exists('data/processed/cli-local/data.csv')).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('exits 2 naming the bad environment', async () => {
    const { code, stderr } = await run(['ingest', '--env', 'moon', '--cloud', 'local', '--config-dir', copyConfig(), '--workdir', makeTempDir()]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown environment "moon": expected one of dev, qa, staging, prod/);
  });
});
