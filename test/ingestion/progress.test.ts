/**
 * The ingestion progress bar: drawn on a terminal (a fake TTY stream here, no sleeps: the clock is injected),
 * told every page's rows and pages by the run, and absent in a pipe or with --json.
 */
import { runCliCaptured } from '../helpers/cli-capture';
import { runIngestion } from '../../runtime/ingestion';
import { createIngestionProgress, rowsPerSecond, silentIngestionProgress, type IngestionProgress } from '../../runtime/ingestion/progress';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { testProject } from '../helpers/ingest-fixtures';
import { copyConfig, makeTempDir } from '../helpers/tmp';

/** A terminal stand-in: cli-progress draws only on streams that say they are TTYs. */
function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  const writes: string[] = [];
  const stream = { isTTY: true, columns: 200, write: (c: string) => (writes.push(String(c)), true), on: () => stream, removeListener: () => stream };
  // Escape sequences removed: what a person would read on the line.
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => writes.join('').replace(/\x1B(\[[0-9;?]*[A-Za-z]|[78])/g, '') };
}

/** Records what the run tells the reporter. */
function recorder(): IngestionProgress & { calls: string[] } {
  const calls: string[] = [];
  return { calls, start: () => calls.push('start'), update: (rows, pages) => calls.push(`${rows}/${pages}`), stop: () => calls.push('stop') };
}

describe('ingestion progress reporter', () => {
  it('draws rows, pages and the rate on a TTY', () => {
    const tty = fakeTty();
    let now = 1_000;
    const progress = createIngestionProgress('auto', tty.stream, () => now);
    progress.start();
    now += 2_000;
    progress.update(1_000, 1);
    now += 2_000;
    progress.update(120_000, 24);
    progress.stop();
    expect(tty.text()).toMatch(/ingesting \| 120000 rows \| 24 pages \| 30000 rows\/s \|/);
  });

  it('draws nothing when the stream is not a terminal, and nothing in none mode', () => {
    const pipe = { ...fakeTty().stream, isTTY: false } as NodeJS.WriteStream;
    expect(createIngestionProgress('auto', pipe)).toBe(silentIngestionProgress);
    const tty = fakeTty();
    const none = createIngestionProgress('none', tty.stream);
    expect(none).toBe(silentIngestionProgress);
    none.start();
    none.update(10, 1);
    none.stop();
    expect(tty.text()).toBe('');
  });

  it('tolerates update and stop without start (a run that fails before it fetches)', () => {
    const tty = fakeTty();
    const progress = createIngestionProgress('bar', tty.stream);
    progress.update(5, 1);
    progress.stop();
    expect(tty.text()).toBe('');
  });

  it('computes the rate from the elapsed time', () => {
    expect(rowsPerSecond(5_000, 0, 2_000)).toBe('2500');
    expect(rowsPerSecond(5_000, 10, 10)).toBe('-');
  });
});

describe('runIngestion reports its progress', () => {
  it('tells the reporter the rows and pages after every page, then stops it', async () => {
    const api = await startSampleApi({ rows: 250 });
    try {
      const project = testProject();
      const store = new LocalObjectStore(makeTempDir());
      const progress = recorder();
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'progress-1', progress });
      expect(result.rows.fetched).toBe(250);
      // page_size 100: three pages, then the empty end of the source.
      expect(progress.calls[0]).toBe('start');
      expect(progress.calls).toContain('100/1');
      expect(progress.calls).toContain('250/3');
      expect(progress.calls[progress.calls.length - 1]).toBe('stop');
    } finally {
      await api.close();
    }
  });

  it('stops the reporter when the run fails', async () => {
    const project = testProject();
    const progress = recorder();
    await expect(
      runIngestion({ project, env: 'dev', cloud: 'local', store: new LocalObjectStore(makeTempDir()), source: 'http://127.0.0.1:9/customers', runId: 'progress-2', progress }),
    ).rejects.toThrow();
    expect(progress.calls[progress.calls.length - 1]).toBe('stop');
  });
});

describe('mlstack ingest shows the bar only on a terminal', () => {
  const saved = process.env.MLSTACK_LOG_LEVEL;
  beforeAll(() => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.MLSTACK_LOG_LEVEL;
    else process.env.MLSTACK_LOG_LEVEL = saved;
  });

  const ingest = async (runId: string, tty: boolean, extra: string[] = []) => {
    const api = await startSampleApi({ rows: 1200 });
    try {
      return await runCliCaptured(['ingest', '--env', 'dev', '--cloud', 'local', '--workdir', makeTempDir(), '--config-dir', copyConfig(), '--source', api.url, '--run-id', runId, ...extra], { stderrIsTty: tty });
    } finally {
      await api.close();
    }
  };

  it('draws rows fetched and pages on a terminal stderr; stdout keeps the summary', async () => {
    const r = await ingest('tty', true);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ingesting \| 1200 rows \| \d+ pages \| [\d-]+ rows\/s/);
    expect(r.stdout).toMatch(/^ingested run tty: 1200 fetched/);
    expect(r.stdout).not.toContain('ingesting |');
  });

  it('draws nothing with --json, nor when stderr is a pipe', async () => {
    const json = await ingest('json', true, ['--json']);
    expect(json.code).toBe(0);
    expect(json.stderr).not.toContain('ingesting');
    const piped = await ingest('pipe', false);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain('ingesting');
  });
});
