/**
 * Issue 21: a source that renamed a field quarantined 2,109 of 3,000 rows as `age: required but missing` and
 * exited 0. A run whose quarantine share is above validation.max_quarantine_share (default 0.5) now fails
 * naming its top reasons, keeps its outputs for inspection and does not advance the watermark. Real HTTP.
 */
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { SUCCESS_MARKER } from '../../runtime/contract/layout';
import { DataQualityError, runIngestion } from '../../runtime/ingestion';
import { sampleRow } from '../../runtime/ingestion/sample-data';
import { IngestionState, sourceId } from '../../runtime/ingestion/state';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { getJson } from '../../runtime/storage/object-store';
import { startFaultApi } from '../helpers/fault-api';
import { projectPaths } from '../helpers/ingest-fixtures';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

/** 7 rows in 10 carry customer_age as age_years: 2,100 of 3,000. */
function renamedAge(id: number): unknown {
  if (id % 10 >= 7) return undefined;
  const { customer_age, ...rest } = sampleRow(id);
  return { ...rest, age_years: customer_age };
}

/** The repository config with test-speed ingestion settings, and `edit` applied to parser.json before it loads. */
function project(edit: (parser: any) => void = () => undefined) {
  const dir = copyConfig();
  editJson(path.join(dir, 'parser.json'), (d) => {
    d.ingestion.rate_limit = { per_second: 10_000, burst: 1000 };
    d.ingestion.pagination = { page_size: 500 };
    edit(d);
  });
  return loadProjectConfig(dir);
}

describe('validation.max_quarantine_share', () => {
  it('fails a run that quarantines most rows, naming the top reasons, and keeps its outputs and the watermark', async () => {
    const api = await startFaultApi({ rows: 3000, replaceRow: renamedAge });
    try {
      const store = new LocalObjectStore(makeTempDir());
      const config = project();
      const warnings: string[] = [];
      const err = (await runIngestion({ project: config, env: 'dev', cloud: 'local', store, source: api.url, runId: 'renamed', onWarning: (w) => warnings.push(w) }).catch(
        (e: unknown) => e,
      )) as DataQualityError;
      expect(err).toBeInstanceOf(DataQualityError);
      expect(err.code).toBe('DATA_QUALITY');
      expect(err.message).toMatch(
        /quarantined 2,1\d\d of 3,000 rows \(7\d\.\d%\), above validation\.max_quarantine_share 0\.5; top reasons: age: required but missing \(2,100 rows\)/,
      );
      // The renamed field is also named as a schema change.
      expect(warnings).toEqual(['source schema changed: new: age_years (against parser.json ingestion.source_fields)']);
      const report = await getJson<Record<string, any>>(store, err.reportKey);
      expect(report.status).toBe('failed');
      expect(report.quarantine).toMatchObject({ max_share: 0.5, top_reasons: [{ reason: 'age: required but missing', rows: 2100 }, ...report.quarantine.top_reasons.slice(1)] });
      expect(report.quarantine.share).toBeGreaterThan(0.7);
      // Outputs stay for inspection; no success marker, and the watermark stays where it was.
      const processedDir = err.reportKey.replace('quality_report.json', '');
      expect(await store.exists(`${processedDir}data.csv`)).toBe(true);
      expect(await store.exists(`${processedDir}quarantine.jsonl`)).toBe(true);
      expect(await store.exists(`${processedDir}${SUCCESS_MARKER}`)).toBe(false);
      const state = new IngestionState(store, projectPaths(config).state, sourceId(api.url));
      expect((await state.readWatermark())?.watermark).toBeNull();
    } finally {
      await api.close();
    }
  });

  it('a higher max_quarantine_share in parser.json lets the same run pass; the report still names the reasons', async () => {
    const api = await startFaultApi({ rows: 3000, replaceRow: renamedAge });
    try {
      const store = new LocalObjectStore(makeTempDir());
      const config = project((d) => {
        d.validation.max_quarantine_share = 0.8;
      });
      expect(config.parser.validation.max_quarantine_share).toBe(0.8);
      const result = await runIngestion({ project: config, env: 'dev', cloud: 'local', store, source: api.url });
      expect(result.rows.quarantined).toBeGreaterThanOrEqual(2100);
      const report = await getJson<Record<string, any>>(store, result.reportKey);
      expect(report.status).toBe('ok');
      expect(report.quarantine.top_reasons[0]).toEqual({ reason: 'age: required but missing', rows: 2100 });
    } finally {
      await api.close();
    }
  });
});
