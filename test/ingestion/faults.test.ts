import { spawn } from 'node:child_process';
import { RestSource } from '../../runtime/ingestion/rest-source';
import * as path from 'node:path';
import { runIngestion } from '../../runtime/ingestion';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { getJson } from '../../runtime/storage/object-store';
import { startFaultApi, type Fault, type FaultApi, type FaultRequest } from '../helpers/fault-api';
import { processedRunPrefix } from '../../runtime/contract/layout';
import { expectEachIdOnce, idsOf, projectPaths, repoRoot, testProject } from '../helpers/ingest-fixtures';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

const ROWS = 1000;
const PAGE = 100;

async function withFaultApi(fault: (r: FaultRequest) => Fault | undefined, body: (api: FaultApi) => Promise<void>, replaceRow?: (id: number) => unknown) {
  const api = await startFaultApi({ rows: ROWS, pageSize: PAGE, fault, replaceRow });
  try {
    await body(api);
  } finally {
    await api.close();
  }
}

describe('ingestion against a fault-injecting API', () => {
  it('retries 5xx bursts, resets and cut-off bodies, and still reconciles every row', async () => {
    const plan: Record<number, Fault> = {
      0: { kind: 'status', status: 503 },
      1: { kind: 'status', status: 500 },
      2: { kind: 'status', status: 502 },
      5: { kind: 'reset' },
      8: { kind: 'truncate' },
      9: { kind: 'status', status: 504 },
    };
    await withFaultApi(
      (r) => plan[r.index],
      async (api) => {
        const store = new LocalObjectStore(makeTempDir());
        const result = await runIngestion({ project: testProject(), env: 'dev', cloud: 'local', store, source: api.url });
        expect(result.rows.fetched).toBe(ROWS);
        expect(result.rows.processed + result.rows.quarantined).toBe(ROWS);
        expectEachIdOnce(await idsOf(store, result), 1, ROWS);
        expect(api.requests.filter((r) => r.fault !== undefined)).toHaveLength(6);
        expect(api.requests).toHaveLength(11 + 6); // 10 full pages + the empty one that ends the listing, plus the retried faults
      },
    );
  });

  it('waits as long as Retry-After says on a 429', async () => {
    await withFaultApi(
      (r) => (r.index === 1 ? { kind: 'status', status: 429, retryAfter: '1' } : undefined),
      async (api) => {
        const store = new LocalObjectStore(makeTempDir());
        const result = await runIngestion({ project: testProject(), env: 'dev', cloud: 'local', store, source: api.url });
        expect(result.rows.fetched).toBe(ROWS);
        const [limited, retried] = [api.requests[1], api.requests[2]];
        expect(limited.fault).toBe('status');
        expect(retried.page).toBe(limited.page);
        expect(retried.at - limited.at).toBeGreaterThanOrEqual(950);
      },
    );
  });

  it('times out a stalled request and retries it', async () => {
    await withFaultApi(
      (r) => (r.index === 3 ? { kind: 'stall' } : undefined),
      async (api) => {
        const store = new LocalObjectStore(makeTempDir());
        const project = testProject((ing) => {
          ing.timeout_ms = 300;
        });
        const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
        expect(result.rows.fetched).toBe(ROWS);
        expect(api.requests[4].page).toBe(api.requests[3].page);
        // The retry waited for the 300 ms timeout; the server stamps the stalled request a little after the client
        // sent it (more so on a loaded machine), so the gap it sees is somewhat shorter.
        expect(api.requests[4].at - api.requests[3].at).toBeGreaterThanOrEqual(200);
        expectEachIdOnce(await idsOf(store, result), 1, ROWS);
      },
    );
  });

  it('gives up after max_attempts with the URL and the last error', async () => {
    await withFaultApi(
      () => ({ kind: 'status', status: 500 }),
      async (api) => {
        const project = testProject((ing) => {
          ing.retries.max_attempts = 3;
        });
        await expect(runIngestion({ project, env: 'dev', cloud: 'local', store: new LocalObjectStore(makeTempDir()), source: api.url })).rejects.toThrow(
          /records\?page=1&page_size=100: gave up after 3 attempts: HTTP 500/,
        );
        expect(api.requests).toHaveLength(3);
      },
    );
  });

  it('quarantines malformed rows with the reason instead of failing', async () => {
    const malformed: Record<number, unknown> = { 5: 'not a record', 6: null, 7: { customer_id: 7, customer_age: 'old', plan_name: 'basic', region: 'x', churned: 'no' }, 8: [1, 2] };
    await withFaultApi(
      () => undefined,
      async (api) => {
        const store = new LocalObjectStore(makeTempDir());
        const result = await runIngestion({ project: testProject(), env: 'dev', cloud: 'local', store, source: api.url });
        expect(result.rows.fetched).toBe(ROWS);
        const quarantine = (await store.get(result.quarantineKey)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
        const reasonsOf = (row: number) => quarantine.find((q) => q.row === row)?.reasons;
        expect(reasonsOf(5)).toEqual(['record is a string, not an object']);
        expect(reasonsOf(6)).toEqual(['record is null, not an object']);
        expect(reasonsOf(7)).toEqual(['age: "old" is not an integer']);
        expect(reasonsOf(8)).toEqual(['record is an array, not an object']);
        expect(result.rows.processed + result.rows.quarantined).toBe(ROWS);
      },
      (id) => malformed[id],
    );
  });

  it('resumes a failed run from its watermark: nothing lost, nothing duplicated', async () => {
    let failPage7 = true;
    await withFaultApi(
      (r) => (failPage7 && r.page === 7 ? { kind: 'status', status: 400, body: '{"error":"bad request"}' } : undefined),
      async (api) => {
        const store = new LocalObjectStore(makeTempDir());
        const project = testProject((ing) => {
          ing.raw_part_rows = 200;
        });
        const paths = projectPaths(project);
        await expect(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'resumable' })).rejects.toThrow(/HTTP 400/);
        // Pages 1-6 were fetched; parts of 200 rows were committed after pages 2, 4 and 6. Nothing processed is visible.
        expect(await store.exists(`${processedRunPrefix(paths, 'resumable')}data.csv`)).toBe(false);
        // The run's checkpoint is kept in the project's state: <state><project>/ingestion/<source>/runs/<run>.json.
        const checkpointKey = (await store.list(`${paths.state}ingestion/`)).find((o) => o.key.endsWith('/runs/resumable.json'))!.key;
        const checkpoint = await getJson<{ watermark: number; parts: unknown[] }>(store, checkpointKey);
        expect(checkpoint.watermark).toBe(600);
        expect(checkpoint.parts).toHaveLength(3);
        failPage7 = false;
        const before = api.requests.length;
        // No run id given: the interrupted run is found in the state object and resumed.
        const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
        expect(result.runId).toBe('resumable');
        expect(api.requests[before]).toMatchObject({ since: 600, page: 1 });
        expect(result.rows.fetched).toBe(ROWS);
        expect(result.rawKeys).toHaveLength(5);
        expectEachIdOnce(await idsOf(store, result), 1, ROWS);
      },
    );
  });

  it('resumes after the ingester process is killed between pages', async () => {
    const workdir = makeTempDir();
    const configDir = copyConfig();
    editJson(path.join(configDir, 'parser.json'), (doc) => {
      doc.ingestion = { pagination: { page_size: PAGE }, raw_part_rows: PAGE, rate_limit: { per_second: 1000, burst: 100 } };
    });
    let child: ReturnType<typeof spawn> | undefined;
    let killed = false;
    await withFaultApi(
      (r) => {
        if (r.page === 5 && !killed && child) {
          killed = true;
          child.kill('SIGKILL');
          return { kind: 'stall' };
        }
        return undefined;
      },
      async (api) => {
        child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'run-ts.js'), path.join(repoRoot, 'runtime', 'ingestion', 'entrypoint.ts')], {
          env: { ...process.env, MLSTACK_SOURCE: api.url, MLSTACK_WORKDIR: workdir, MLSTACK_CONFIG_DIR: configDir, MLSTACK_RUN_ID: 'crashy', MLSTACK_LOG_LEVEL: 'silent' },
          stdio: 'ignore',
        });
        const exit = await new Promise<NodeJS.Signals | null>((resolve) => child!.once('exit', (_code, signal) => resolve(signal)));
        expect(exit).toBe('SIGKILL');
        const store = new LocalObjectStore(workdir);
        const project = testProject();
        project.parser.ingestion.raw_part_rows = PAGE;
        const paths = projectPaths(project);
        expect(await store.exists(`${processedRunPrefix(paths, 'crashy')}data.csv`)).toBe(false);
        // The kill lands while page 5 is requested, one page ahead of the run: page 4 may or may not be committed yet.
        const checkpointKey = (await store.list(`${paths.state}ingestion/`)).find((o) => o.key.endsWith('/runs/crashy.json'))!.key;
        const committed = await getJson<{ watermark: number }>(store, checkpointKey);
        expect([300, 400]).toContain(committed.watermark);
        const before = api.requests.length;
        const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'crashy' });
        expect(api.requests[before]).toMatchObject({ since: committed.watermark, page: 1 });
        expect(result.rows.fetched).toBe(ROWS);
        expect(result.rows.processed + result.rows.quarantined).toBe(ROWS);
        expectEachIdOnce(await idsOf(store, result), 1, ROWS);
      },
    );
  });
});

describe('reading one page ahead', () => {
  it('requests the next page while the caller works on this one, and cancels it when the caller stops', async () => {
    await withFaultApi(
      (r) => (r.page === 2 ? { kind: 'stall' } : undefined),
      async (api) => {
        const config = testProject((ing) => {
          ing.timeout_ms = 60_000;
        }).parser.ingestion;
        const source = new RestSource({ url: api.url, config });
        const seen: number[] = [];
        for await (const page of source.pages({ since: null, position: {} })) {
          seen.push(page.records.length);
          // Page 2 is asked for before the caller asks for it.
          while (api.requests.length < 2) await new Promise((resolve) => setImmediate(resolve));
          expect(api.requests[1]).toMatchObject({ page: 2 });
          break;
        }
        // Leaving the loop returned at once, though page 2 stalls for a minute: the request in flight was dropped.
        expect(seen).toEqual([PAGE]);
        expect(source.requests).toBe(2);
        expect(source.retries).toBe(0);
      },
    );
  });
});
