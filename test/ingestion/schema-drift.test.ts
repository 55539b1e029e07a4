/**
 * Issue 21: each run compares the fields the source sent with ingestion.source_fields, or without it with the
 * previous complete run's fields: missing, new and retyped fields go into the quality report and the summary;
 * on_schema_change "warn" (default) warns, "fail" fails the run with DATA_QUALITY naming the fields. Real HTTP.
 */
import * as path from 'node:path';
import { SUCCESS_MARKER } from '../../runtime/contract/layout';
import { exitCodeFor } from '../../runtime/common/errors';
import { DataQualityError, runIngestion } from '../../runtime/ingestion';
import { sampleRow } from '../../runtime/ingestion/sample-data';
import { IngestionState, sourceId } from '../../runtime/ingestion/state';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { getJson } from '../../runtime/storage/object-store';
import { runCli } from '../helpers/cli';
import { startFaultApi, type FaultApi } from '../helpers/fault-api';
import { projectPaths, testProject } from '../helpers/ingest-fixtures';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

/** The sample row with `email` sent as `e_mail` (a field the config declares in source_fields but does not select). */
function renamedEmail(id: number): unknown {
  const { email, ...rest } = sampleRow(id);
  return { ...rest, e_mail: email };
}

async function withApi(api: FaultApi, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await api.close();
  }
}

describe('schema drift against ingestion.source_fields', () => {
  it('warns by default: the report, the result and the warning name the missing and the new field', async () => {
    const api = await startFaultApi({ rows: 500, replaceRow: renamedEmail });
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const warnings: string[] = [];
      const result = await runIngestion({ project: testProject(), env: 'dev', cloud: 'local', store, source: api.url, onWarning: (w) => warnings.push(w) });
      expect(result.rows.fetched).toBe(500);
      expect(result.schema).toEqual({ compared_with: 'source_fields', changed: true, missing: ['email'], new: ['e_mail'], type_changed: [] });
      expect(warnings).toEqual(['source schema changed: missing: email; new: e_mail (against parser.json ingestion.source_fields)']);
      const report = await getJson<Record<string, any>>(store, result.reportKey);
      expect(report.status).toBe('ok');
      expect(report.warnings).toEqual(warnings);
      expect(report.schema).toMatchObject({ compared_with: 'source_fields', missing: ['email'], new: ['e_mail'], inspected_records: 500 });
      expect(report.schema.fields).toMatchObject({ customer_id: 'number', plan_name: 'string', e_mail: 'string' });
    });
  });

  it('on_schema_change "fail" fails the run with DATA_QUALITY naming the fields, keeps the outputs and the watermark', async () => {
    const api = await startFaultApi({ rows: 500, replaceRow: renamedEmail });
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.on_schema_change = 'fail';
      });
      const err = (await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, runId: 'drifted' }).catch((e: unknown) => e)) as DataQualityError;
      expect(err).toBeInstanceOf(DataQualityError);
      expect(err.code).toBe('DATA_QUALITY');
      expect(exitCodeFor(err)).toBe(1);
      expect(err.message).toContain('source schema changed: missing: email; new: e_mail (against parser.json ingestion.source_fields) (ingestion.on_schema_change is "fail")');
      const report = await getJson<{ status: string; problems: string[] }>(store, err.reportKey);
      expect(report.status).toBe('failed');
      expect(await store.exists(err.reportKey.replace('quality_report.json', SUCCESS_MARKER))).toBe(false);
      const state = new IngestionState(store, projectPaths(project).state, sourceId(api.url));
      expect((await state.readWatermark())?.watermark).toBeNull();
      expect(await state.readFields()).toBeUndefined();
    });
  });

  it('prints the warning on stderr and the change in the summary of mlstack ingest', async () => {
    const api = await startFaultApi({ rows: 200, replaceRow: renamedEmail });
    await withApi(api, async () => {
      const configDir = copyConfig();
      editJson(path.join(configDir, 'parser.json'), (d) => {
        d.ingestion.rate_limit = { per_second: 10_000, burst: 100 };
      });
      process.env.MLSTACK_LOG_LEVEL = 'silent';
      try {
        const { code, stdout, stderr } = await runCli(['ingest', '--env', 'dev', '--cloud', 'local', '--workdir', makeTempDir(), '--source', api.url, '--config-dir', configDir]);
        expect(code).toBe(0);
        expect(stderr).toBe('mlstack: warning: source schema changed: missing: email; new: e_mail (against parser.json ingestion.source_fields)\n');
        expect(stdout).toContain('  schema:     missing email; new e_mail (against ingestion.source_fields)\n');
      } finally {
        delete process.env.MLSTACK_LOG_LEVEL;
      }
    });
  });
});

describe('schema drift against the previous run', () => {
  it('stores each complete run\'s fields and reports new and retyped fields in the next run', async () => {
    // From id 301 on, monthly_spend comes as a string ("52.3") and a new field appears.
    const api = await startFaultApi({
      rows: 300,
      replaceRow: (id) => (id > 300 ? { ...sampleRow(id), monthly_spend: String(sampleRow(id).monthly_spend ?? ''), loyalty_tier: 'gold' } : undefined),
    });
    await withApi(api, async () => {
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        delete ing.source_fields;
      });
      const first = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(first.schema).toEqual({ compared_with: 'nothing', changed: false, missing: [], new: [], type_changed: [] });
      const state = new IngestionState(store, projectPaths(project).state, sourceId(api.url));
      expect((await state.readFields())?.fields).toMatchObject({ customer_id: 'number', monthly_spend: 'number', email: 'string' });

      api.setRows(600);
      const warnings: string[] = [];
      const second = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url, onWarning: (w) => warnings.push(w) });
      expect(second.rows.fetched).toBe(300);
      expect(second.schema).toEqual({
        compared_with: 'previous_run',
        changed: true,
        missing: [],
        new: ['loyalty_tier'],
        type_changed: [{ field: 'monthly_spend', was: 'number', now: 'string' }],
      });
      expect(warnings).toEqual([
        `source schema changed: new: loyalty_tier (against the fields of run ${first.runId}); type changed since run ${first.runId}: monthly_spend (number -> string)`,
      ]);
      // The strings still convert: the rows are valid.
      expect(second.rows.processed).toBeGreaterThan(290);

      // Nothing new above the watermark: nothing to compare, no change.
      const third = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url });
      expect(third.rows.fetched).toBe(0);
      expect(third.schema).toMatchObject({ compared_with: 'previous_run', changed: false });
      expect((await state.readFields())?.run_id).toBe(second.runId);
    });
  });
});
