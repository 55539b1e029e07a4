/**
 * Issue 20: a paginated API whose pages overlap by 5 records. With ingestion.unique_key the run drops the
 * repeats (keeping the first or the last), across pages and across the parts of a resumed run; without a key
 * it counts whole-row duplicates and keeps them. Real HTTP on loopback.
 */
import * as path from 'node:path';
import { runIngestion, type IngestionResult } from '../../runtime/ingestion';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { getJson, type ObjectStore } from '../../runtime/storage/object-store';
import { runCli } from '../helpers/cli';
import { testProject } from '../helpers/ingest-fixtures';
import { cleanRow, idsAbove, startPagingApi, type PagingApi } from '../helpers/paging-api';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

const ROWS = 1000;
const PAGE = 100;
const OVERLAP = 5;
/** Pages of 100 records stepping 95 ids: 10 full pages and a last one of 50, so 10 overlaps of 5. */
const SENT = 10 * PAGE + 50;
const REPEATS = SENT - ROWS;

/**
 * Page N holds the ids from (N-1)*95+1, so each page repeats the last 5 ids of the one before. `stamp` writes the
 * page number into support_tickets, so the copies of an id differ and keep "first" / "last" can be told apart.
 */
function overlappingApi(options: { stamp?: boolean; failPage?: () => number | undefined } = {}): Promise<PagingApi> {
  return startPagingApi(({ url }) => {
    const page = Number(url.searchParams.get('page') ?? 1);
    if (page === options.failPage?.()) return { records: [], status: 400 };
    const ids = idsAbove(url, ROWS).slice((page - 1) * (PAGE - OVERLAP), (page - 1) * (PAGE - OVERLAP) + PAGE);
    return { records: ids.map((id) => ({ ...cleanRow(id), ...(options.stamp ? { support_tickets: page } : {}) })) };
  });
}

/** data.csv as rows of column -> text. */
async function processedRows(store: ObjectStore, result: IngestionResult): Promise<Record<string, string>[]> {
  const [header, ...lines] = (await store.get(result.processedKey)).toString('utf8').trim().split('\n');
  const columns = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i], v])));
}

function idsOnce(rows: Record<string, string>[]): void {
  const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
}

/** The page an overlapping id came from, by the stamp: ids 96..100 are on pages 1 and 2, and so on. */
const firstPageOf = (id: number) => Math.max(1, Math.ceil((id - PAGE) / (PAGE - OVERLAP)) + 1);

describe('duplicates across pages', () => {
  it('unique_key drops the repeats of a key and keeps the first copy, and says so in the report and the result', async () => {
    const api = await overlappingApi({ stamp: true });
    try {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.unique_key = 'id';
      });
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(result.rows).toEqual({ fetched: SENT, processed: ROWS, quarantined: 0 });
      expect(result.duplicates).toEqual({ unique_key: ['id'], keep: 'first', found: REPEATS, dropped: REPEATS, exact: true });
      const rows = await processedRows(store, result);
      idsOnce(rows);
      // Id 96 came on pages 1 and 2: the first copy stays.
      for (const id of [96, 100, 191, 955]) expect(Number(rows.find((r) => Number(r.id) === id)!.tickets)).toBe(firstPageOf(id));
      const report = await getJson<Record<string, any>>(store, result.reportKey);
      expect(report.duplicates).toMatchObject({ unique_key: ['id'], found: REPEATS, dropped: REPEATS });
      expect(report.rows).toMatchObject({ fetched: SENT, processed: ROWS, duplicates_dropped: REPEATS });
      expect(report.status).toBe('ok');
    } finally {
      await api.close();
    }
  });

  it('keep "last" keeps the last copy of each key', async () => {
    const api = await overlappingApi({ stamp: true });
    try {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.unique_key = ['id'];
        ing.keep = 'last';
      });
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(result.rows).toEqual({ fetched: SENT, processed: ROWS, quarantined: 0 });
      expect(result.duplicates).toMatchObject({ keep: 'last', found: REPEATS, dropped: REPEATS });
      const rows = await processedRows(store, result);
      idsOnce(rows);
      for (const id of [96, 100, 191, 955]) expect(Number(rows.find((r) => Number(r.id) === id)!.tickets)).toBe(firstPageOf(id) + 1);
      expect(Number(rows.find((r) => r.id === '1')!.tickets)).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('without a key counts whole-row duplicates, keeps them and warns', async () => {
    const api = await overlappingApi();
    try {
      const store = new LocalObjectStore(makeTempDir());
      const warnings: string[] = [];
      const result = await runIngestion({ project: testProject(), env: 'dev', cloud: 'local', store, source: api.url, onWarning: (w) => warnings.push(w) });
      expect(result.rows).toEqual({ fetched: SENT, processed: SENT, quarantined: 0 });
      expect(result.duplicates).toEqual({ unique_key: null, keep: null, found: REPEATS, dropped: 0, exact: true });
      expect(warnings).toEqual([expect.stringMatching(/^50 processed rows repeat an earlier row .* set parser.json ingestion.unique_key/)]);
      expect((await getJson<Record<string, any>>(store, result.reportKey)).warnings).toEqual(warnings);
    } finally {
      await api.close();
    }
  });

  it.each(['first', 'last'] as const)('a resumed run (keep %s) still knows the keys of its committed parts', async (keep) => {
    // No watermark: the resumed read starts at the committed page position, whose page repeats 5 ids of the committed part.
    let failPage: number | undefined = 5;
    const api = await overlappingApi({ stamp: true, failPage: () => failPage });
    try {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing, p) => {
        ing.unique_key = 'id';
        ing.keep = keep;
        ing.raw_part_rows = 2 * PAGE;
        delete p.parser.watermark_field;
      });
      await expect(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'resumed' })).rejects.toThrow(/HTTP 400/);
      failPage = undefined;
      const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'resumed' });
      expect(result.rawKeys.length).toBeGreaterThanOrEqual(3); // two parts before the failure, the rest after
      expect(result.rows).toEqual({ fetched: SENT, processed: ROWS, quarantined: 0 });
      expect(result.duplicates).toMatchObject({ found: REPEATS, dropped: REPEATS });
      const rows = await processedRows(store, result);
      idsOnce(rows);
      // Ids 381..385 sit on page 4 (committed before the failure) and page 5 (fetched by the resumed run).
      const expected = keep === 'first' ? 4 : 5;
      for (const id of [381, 385]) expect(Number(rows.find((r) => Number(r.id) === id)!.tickets)).toBe(expected);
      const pages = api.requests.map((r) => Number(r.url.searchParams.get('page')));
      expect(pages.filter((p) => p === 1)).toHaveLength(1); // the committed pages were not fetched again
    } finally {
      await api.close();
    }
  });

  describe('mlstack ingest', () => {
    beforeAll(() => {
      process.env.MLSTACK_LOG_LEVEL = 'silent';
    });
    afterAll(() => {
      delete process.env.MLSTACK_LOG_LEVEL;
    });

    it('prints the dropped duplicates in its summary and in --json', async () => {
      const api = await overlappingApi();
      try {
        const configDir = copyConfig();
        editJson(path.join(configDir, 'parser.json'), (d) => {
          d.ingestion.unique_key = 'id';
          d.ingestion.pagination = { page_size: PAGE };
          d.ingestion.rate_limit = { per_second: 10_000, burst: 100 };
        });
        const args = ['ingest', '--env', 'dev', '--cloud', 'local', '--source', api.url, '--config-dir', configDir];
        const text = await runCli([...args, '--workdir', makeTempDir(), '--run-id', 'text']);
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(new RegExp(`^ingested run text: ${SENT} fetched, ${ROWS} processed, 0 quarantined`));
        expect(text.stdout).toContain(`  duplicates: ${REPEATS} dropped (unique_key id, keep first)\n`);
        expect(text.stdout).toContain('  schema:     unchanged (against ingestion.source_fields)\n');
        const json = await runCli([...args, '--workdir', makeTempDir(), '--run-id', 'json', '--json']);
        expect(json.code).toBe(0);
        expect(JSON.parse(json.stdout).duplicates).toEqual({ unique_key: ['id'], keep: 'first', found: REPEATS, dropped: REPEATS, exact: true });
      } finally {
        await api.close();
      }
    });
  });
});
