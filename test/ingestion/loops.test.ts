/**
 * Issue 20: an API whose pagination never ends (a cursor that comes back, a Link that points back, the same page
 * again and again, endless pages) stops the run with a clear error after at most a few repeats; the pages read
 * before are committed, so a rerun resumes once the API is fixed. Real HTTP on loopback.
 */
import { runIngestion } from '../../runtime/ingestion';
import { PaginationLoopError } from '../../runtime/ingestion/rest-source';
import { IngestionState, sourceId, type RunCheckpoint } from '../../runtime/ingestion/state';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { exitCodeFor } from '../../runtime/common/errors';
import { expectEachIdOnce, idsOf, projectPaths, testProject } from '../helpers/ingest-fixtures';
import { cleanRow, idsAbove, startPagingApi, type PagingApi } from '../helpers/paging-api';
import { makeTempDir } from '../helpers/tmp';
import type { ProjectConfig } from '../../config/schema';

const PAGE = 100;

async function withApi(api: PagingApi, body: (api: PagingApi) => Promise<void>): Promise<void> {
  try {
    await body(api);
  } finally {
    await api.close();
  }
}

/** The run's checkpoint as committed in the store. */
async function checkpointOf(store: LocalObjectStore, project: ProjectConfig, source: string, runId: string): Promise<RunCheckpoint> {
  const state = new IngestionState(store, projectPaths(project).state, sourceId(source));
  return (await state.readCheckpoint(runId))!;
}

async function failure(run: Promise<unknown>): Promise<PaginationLoopError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PaginationLoopError);
  return err as PaginationLoopError;
}

/** Requests that asked for a position (cursor, URL) some earlier request already asked for. */
function repeats(keys: string[]): number {
  return keys.filter((k, i) => keys.indexOf(k) !== i).length;
}

describe('pagination that does not end', () => {
  it('a cursor that comes back stops the run before it is requested again; the pages before are committed and a rerun resumes', async () => {
    let stuck = true;
    // The cursor is the offset into the ids above the watermark; while stuck, the API hands the same cursor back.
    const api = await startPagingApi(({ url, cursor }) => {
      const offset = cursor === null ? 0 : Number(cursor.slice(1));
      const ids = idsAbove(url, 300).slice(offset, offset + PAGE);
      const next = offset + PAGE < idsAbove(url, 300).length ? `o${stuck && offset > 0 ? offset : offset + PAGE}` : null;
      return { records: ids.map(cleanRow), extra: { next_cursor: next } };
    });
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.pagination.style = 'cursor';
        ing.raw_part_rows = PAGE;
      });
      const err = await failure(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'looping' }));
      expect(err.message).toMatch(/the API sent the next cursor "o100" again, which this read already requested: its pagination loops; stopped after 2 pages/);
      expect(err.message).toMatch(/Run looping keeps what it read before: 200 rows in 2 committed raw parts; a rerun \(or --run-id looping\) resumes after them/);
      expect(err.code).toBe('CLOUD_CALL_FAILED');
      expect(exitCodeFor(err)).toBe(1);
      // Two requests: the first page and cursor o100; o100 was never asked for twice.
      expect(api.requests).toHaveLength(2);
      expect(repeats(api.requests.map((r) => r.cursor ?? ''))).toBeLessThanOrEqual(3);
      const checkpoint = await checkpointOf(store, project, api.url, 'looping');
      expect(checkpoint.parts.map((p) => p.rows)).toEqual([PAGE, PAGE]);
      expect(checkpoint.watermark).toBe(200);

      stuck = false;
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(result.runId).toBe('looping');
      expect(result.rows.fetched).toBe(300);
      expectEachIdOnce(await idsOf(store, result), 1, 300);
    });
  });

  it('an API that ignores the cursor and sends the same page with the same cursor is stopped at once', async () => {
    const api = await startPagingApi(() => ({ records: Array.from({ length: PAGE }, (_, i) => cleanRow(i + 1)), extra: { next_cursor: 'again' } }));
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.pagination.style = 'cursor';
      });
      const err = await failure(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url }));
      expect(err.message).toMatch(/next cursor "again" again/);
      expect(api.requests.length).toBeLessThanOrEqual(3);
      expect(repeats(api.requests.map((r) => r.cursor ?? ''))).toBeLessThanOrEqual(3);
    });
  });

  it('a Link rel="next" that points back at a page already read stops the run', async () => {
    const api = await startPagingApi(({ url }) => {
      const page = Number(url.searchParams.get('p') ?? 1);
      // Page 3 links back to page 2.
      return { records: idsAbove(url, 1000).slice((page - 1) * PAGE, page * PAGE).map(cleanRow), next: `/records?p=${page === 3 ? 2 : page + 1}` };
    });
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.pagination.style = 'link';
      });
      const err = await failure(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url }));
      expect(err.message).toMatch(/Link rel="next" points again at http:\/\/127\.0\.0\.1:\d+\/records\?p=2, which this read already requested/);
      expect(api.requests.map((r) => r.url.searchParams.get('p'))).toEqual([null, '2', '3']);
    });
  });

  it('a page API that sends the same page whatever the page number stops after two repeats, keeping the first pages', async () => {
    const api = await startPagingApi(({ url }) => {
      const page = Number(url.searchParams.get('page'));
      // Pages 1 and 2 are right; from page 3 on the API sends page 2 again.
      return { records: idsAbove(url, 100_000).slice((Math.min(page, 2) - 1) * PAGE, Math.min(page, 2) * PAGE).map(cleanRow) };
    });
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.raw_part_rows = PAGE;
        ing.unique_key = 'id';
      });
      const err = await failure(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'same-page' }));
      expect(err.message).toMatch(/the API sent the same 100 records as page 2 of this read 2 times in a row: its pagination loops/);
      const pages = api.requests.map((r) => Number(r.url.searchParams.get('page')));
      expect(pages).toEqual([1, 2, 3, 4]);
      // Page 3 (the first repeat) is kept as the source sent it; page 4 stops the read.
      const checkpoint = await checkpointOf(store, project, api.url, 'same-page');
      expect(checkpoint.parts.map((p) => p.rows)).toEqual([PAGE, PAGE, PAGE]);
    });
  });

  it('more pages than ingestion.max_pages fail the run; pagination.max_pages still stops it quietly', async () => {
    const endless = () =>
      startPagingApi(({ url }) => {
        const first = Number(url.searchParams.get('since') ?? 0) + (Number(url.searchParams.get('page')) - 1) * PAGE + 1;
        return { records: Array.from({ length: PAGE }, (_, i) => cleanRow(first + i)) };
      });
    await withApi(await endless(), async (api) => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.max_pages = 5;
        ing.raw_part_rows = 2 * PAGE;
      });
      const err = await failure(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'endless' }));
      expect(err.message).toMatch(/more than ingestion\.max_pages \(5\) pages for one run: its pagination does not end .* stopped after 5 pages/);
      expect(api.requests).toHaveLength(5);
      const checkpoint = await checkpointOf(store, project, api.url, 'endless');
      expect(checkpoint.parts.map((p) => p.rows)).toEqual([200, 200, 100]);
    });
    await withApi(await endless(), async (api) => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.max_pages = 5;
        ing.pagination.max_pages = 3;
      });
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(result.rows.fetched).toBe(300);
    });
  });
});
