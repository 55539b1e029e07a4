import * as path from 'node:path';
import { ConfigError, loadProjectConfig } from '../../config/load';
import { IngestionConfigError, runIngestion } from '../../runtime/ingestion';
import { planFields } from '../../runtime/ingestion/fields';
import { SAMPLE_FIELDS } from '../../runtime/ingestion/sample-data';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { startFaultApi, type FaultApi } from '../helpers/fault-api';
import { testProject } from '../helpers/ingest-fixtures';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

describe('bad ingestion config fails before any fetch', () => {
  let api: FaultApi;
  beforeAll(async () => {
    api = await startFaultApi({ rows: 100 });
  });
  afterAll(() => api.close());

  async function expectNoFetch(project: ReturnType<typeof testProject>, message: RegExp) {
    const before = api.requests.length;
    const dir = makeTempDir();
    const store = new LocalObjectStore(dir);
    await expect(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url })).rejects.toThrow(message);
    expect(api.requests.length).toBe(before);
    expect(await store.list('')).toEqual([]);
  }

  it('rejects a selected field the declared source fields do not have', async () => {
    const project = testProject((ing, p) => {
      ing.source_fields = [...SAMPLE_FIELDS];
      p.parser.selected_fields = [...p.parser.selected_fields, 'loyalty_points'];
    });
    await expectNoFetch(project, /selected_fields names "loyalty_points", which is neither a field_mappings target nor a source field; the source has: customer_id/);
  });

  it('rejects two source fields mapped to the same name', async () => {
    const project = testProject((_ing, p) => {
      p.parser.field_mappings = { ...p.parser.field_mappings, tenure_months: 'age' };
    });
    await expectNoFetch(project, /field_mappings maps both "customer_age" and "tenure_months" to "age"/);
  });

  it('rejects a mapping onto a name the source already uses', async () => {
    const project = testProject((ing, p) => {
      ing.source_fields = [...SAMPLE_FIELDS];
      p.parser.field_mappings = { ...p.parser.field_mappings, email: 'region' };
    });
    await expectNoFetch(project, /renames "email" to "region", but the source already has a field "region"/);
  });

  it('rejects selecting a source name that a mapping renames', async () => {
    const project = testProject((_ing, p) => {
      p.parser.selected_fields = p.parser.selected_fields.map((f) => (f === 'age' ? 'customer_age' : f));
    });
    await expectNoFetch(project, /selected_fields names "customer_age", a source field that field_mappings renames to "age": select "age" instead/);
  });

  it('rejects a missing auth token before calling the API', async () => {
    delete process.env.MLSTACK_ABSENT_TOKEN;
    const project = testProject((ing) => {
      ing.auth = { header: 'X-Api-Key', scheme: '', token_env: 'MLSTACK_ABSENT_TOKEN' };
    });
    await expectNoFetch(project, /token_env names MLSTACK_ABSENT_TOKEN, but that environment variable is not set/);
  });

  it('checks an API without declared fields on its first page, before writing anything visible', async () => {
    const project = testProject((_ing, p) => {
      p.parser.selected_fields = [...p.parser.selected_fields, 'loyalty_points'];
    });
    const store = new LocalObjectStore(makeTempDir());
    await expect(runIngestion({ project, env: 'dev', cloud: 'local', store, source: api.url })).rejects.toThrow(/"loyalty_points"/);
    expect((await store.list('data/')).length).toBe(0);
  });

  it('collects every problem into one error', () => {
    const project = testProject();
    const parser = { ...project.parser, selected_fields: ['id', 'nope', 'customer_age'], watermark_field: 'customer_id' };
    try {
      planFields(parser, SAMPLE_FIELDS);
      throw new Error('expected planFields to throw');
    } catch (err) {
      expect(err).toBeInstanceOf(IngestionConfigError);
      expect((err as IngestionConfigError).problems).toHaveLength(3);
    }
  });
});

describe('the ingestion section of parser.json', () => {
  it('defaults to the sample API layout', () => {
    const { ingestion } = loadProjectConfig(copyConfig()).parser;
    expect(ingestion.pagination).toMatchObject({ style: 'page', page_size: 1000, page_param: 'page', size_param: 'page_size' });
    expect(ingestion.results_path).toBe('data');
    expect(ingestion.watermark_param).toBe('since');
  });

  it('names the file and key of a bad value', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'parser.json'), (doc) => {
      doc.ingestion = { pagination: { style: 'sideways' }, auth: { header: 'Authorization' } };
    });
    try {
      loadProjectConfig(dir);
      throw new Error('expected loadProjectConfig to throw');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/parser\.json: ingestion\.pagination\.style: expected one of "page", "offset", "cursor", "link", "none", found "sideways"/);
      expect((err as Error).message).toMatch(/ingestion\.auth: give token_env or token_file/);
    }
  });
});
