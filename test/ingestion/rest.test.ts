import { createHash } from 'node:crypto';
import { getJson } from '../../runtime/storage/object-store';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { runIngestion, type IngestionResult } from '../../runtime/ingestion';
import { startSampleApi, type SampleApi } from '../../runtime/ingestion/sample-api';
import { sampleRow } from '../../runtime/ingestion/sample-data';
import { processedRunPrefix } from '../../runtime/contract/layout';
import { expectEachIdOnce, idsOf, projectPaths, testProject } from '../helpers/ingest-fixtures';
import { makeTempDir } from '../helpers/tmp';

describe('REST ingestion from the sample API', () => {
  let api: SampleApi;
  beforeAll(async () => {
    api = await startSampleApi({ rows: 2000, pageSize: 500, token: 'sesame' });
    process.env.MLSTACK_TEST_TOKEN = 'sesame';
  });
  afterAll(() => api.close());

  const withAuth = (style: 'page' | 'offset' | 'cursor' | 'link') =>
    testProject((ing) => {
      ing.pagination.style = style;
      ing.pagination.size_param = style === 'offset' ? 'limit' : 'page_size';
      ing.auth = { header: 'Authorization', scheme: 'Bearer', token_env: 'MLSTACK_TEST_TOKEN' };
      ing.raw_part_rows = 700;
    });

  it.each(['page', 'offset', 'cursor', 'link'] as const)('reads every record exactly once with %s pagination', async (style) => {
    const store = new LocalObjectStore(makeTempDir());
    const project = withAuth(style);
    const paths = projectPaths(project);
    const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: `run-${style}` });
    expect(result.rows.fetched).toBe(2000);
    expect(result.rows.processed + result.rows.quarantined).toBe(2000);
    expect(result.rows.quarantined).toBeGreaterThan(0);
    expectEachIdOnce(await idsOf(store, result), 1, 2000);
    // 2000 rows in parts of >= 700 rows: three parts, keys under <raw><project>/<runId>/.
    expect(paths.raw).toBe(`data/raw/${project.pipeline.project}/`);
    expect(result.rawKeys).toEqual([0, 1, 2].map((i) => `${paths.raw}run-${style}/part-0000${i}.jsonl`));
    expect(result.processedKey).toBe(`${processedRunPrefix(paths, `run-${style}`)}data.csv`);
    expect(result.watermark).toBe(2000);
  });

  it('writes raw JSONL with source metadata, renamed and filtered processed CSV, and a quality report', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const project = withAuth('page');
    const result = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'r1' });
    const firstRaw = (await store.get(result.rawKeys[0])).toString('utf8').split('\n')[0];
    expect(JSON.parse(firstRaw)).toEqual(sampleRow(1));
    const meta = await getJson<Record<string, any>>(store, `${projectPaths(project).raw}r1/_metadata.json`);
    expect(meta).toMatchObject({ source: api.url, run_id: 'r1', pages: 20, row_count: 2000 });
    const partHashes = await Promise.all(result.rawKeys.map(async (k) => createHash('sha256').update(await store.get(k)).digest('hex')));
    expect(meta.parts.map((p: { sha256: string }) => p.sha256)).toEqual(partHashes);
    expect(meta.checksum.value).toBe(createHash('sha256').update(partHashes.map((h) => `${h}\n`).join('')).digest('hex'));
    expect(Date.parse(meta.fetched_at)).not.toBeNaN();
    const csv = (await store.get(result.processedKey)).toString('utf8').split('\n');
    expect(csv[0]).toBe('id,age,spend,tenure,plan,region,tickets,signup_time,churned');
    expect(csv[1]).not.toContain('@example.com');
    const report = await getJson<Record<string, any>>(store, result.reportKey);
    expect(report.status).toBe('ok');
    expect(report.rows).toMatchObject({ fetched: 2000, processed: result.rows.processed, quarantined: result.rows.quarantined });
    expect(report.columns.plan.distinct).toBe(3);
    expect(report.columns.age.min).toBeGreaterThanOrEqual(18);
    expect(report.columns.age.max).toBeLessThanOrEqual(100);
    expect(report.columns.spend.nulls_all_rows).toBeGreaterThan(0);
    expect(report.columns.tickets.mean).toBeGreaterThan(0);
    const quarantine = (await store.get(result.quarantineKey)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(quarantine).toHaveLength(result.rows.quarantined);
    for (const q of quarantine) expect(q.reasons.join(' ')).toMatch(/age: .* (below min|above max)|plan: "gold" is not one of|region: required but missing|spend: "n\/a" is not a number/);
  });

  it('fetches only new records on a rerun (watermark) and repeats a finished run id without duplicates', async () => {
    const store = new LocalObjectStore(makeTempDir());
    const project = withAuth('page');
    const first = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
    expect(first.rows.fetched).toBe(2000);
    const again = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: first.runId });
    expect(again).toEqual(first);
    api.setRows(2600);
    try {
      const second: IngestionResult = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(second.runId).not.toBe(first.runId);
      expect(second.rows.fetched).toBe(600);
      expectEachIdOnce(await idsOf(store, second), 2001, 2600);
      expect(second.watermark).toBe(2600);
      const nothingNew = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(nothingNew.rows).toEqual({ fetched: 0, processed: 0, quarantined: 0 });
      expect(nothingNew.watermark).toBe(2600);
      expect((await store.get(nothingNew.processedKey)).toString('utf8')).toBe('id,age,spend,tenure,plan,region,tickets,signup_time,churned\n');
    } finally {
      api.setRows(2000);
    }
  });

  it('fails with a clear message when the token is wrong', async () => {
    process.env.MLSTACK_WRONG_TOKEN = 'nope';
    const project = withAuth('page');
    project.parser.ingestion.auth = { header: 'Authorization', scheme: 'Bearer', token_env: 'MLSTACK_WRONG_TOKEN' };
    await expect(runIngestion({ project, env: 'dev', cloud: 'local', store: new LocalObjectStore(makeTempDir()), source: api.url })).rejects.toThrow(
      /HTTP 401.*check ingestion.auth/,
    );
  });
});

describe('the sample dataset', () => {
  it('is deterministic per seed, about 0.5% dirty, and has a learnable churn label', () => {
    expect(sampleRow(17, 7)).toEqual(sampleRow(17, 7));
    expect(sampleRow(17, 7)).not.toEqual(sampleRow(17, 8));
    const rows = Array.from({ length: 20000 }, (_, i) => sampleRow(i + 1));
    const dirty = rows.filter(
      (r) => (r.customer_age as number) < 18 || (r.customer_age as number) > 100 || r.plan_name === 'gold' || r.region === null || r.monthly_spend === 'n/a',
    ).length;
    expect(dirty / rows.length).toBeGreaterThan(0.003);
    expect(dirty / rows.length).toBeLessThan(0.008);
    const churnRate = (pred: (r: (typeof rows)[number]) => boolean) => {
      const group = rows.filter(pred);
      return group.filter((r) => r.churned === 'yes').length / group.length;
    };
    expect(churnRate((r) => (r.support_tickets as number) >= 3)).toBeGreaterThan(churnRate((r) => r.support_tickets === 0) + 0.3);
  });
});
