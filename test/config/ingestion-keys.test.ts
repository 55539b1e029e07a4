/**
 * parser.json keys of issues 20 and 21: ingestion.unique_key / keep / max_pages / on_schema_change and
 * validation.max_quarantine_share: their defaults, what they accept, and what they refuse.
 */
import * as path from 'node:path';
import { ConfigError, loadProjectConfig } from '../../config/load';
import { DEFAULT_MAX_QUARANTINE_SHARE } from '../../config/schema';
import { IngestionConfigError, planFields } from '../../runtime/ingestion/fields';
import { copyConfig, editJson } from '../helpers/tmp';

function parserWith(edit: (doc: any) => void) {
  const dir = copyConfig();
  editJson(path.join(dir, 'parser.json'), edit);
  return loadProjectConfig(dir).parser;
}

function problemsOf(edit: (doc: any) => void): string[] {
  try {
    parserWith(edit);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.keyPath}: ${p.message}`);
  }
  throw new Error('expected the config to be refused');
}

describe('ingestion keys of parser.json', () => {
  it('defaults: no key (whole-row duplicates are counted), keep first, 100000 pages, warn on schema change, quarantine share 0.5', () => {
    const parser = parserWith(() => undefined);
    expect(parser.ingestion.unique_key).toBeUndefined();
    expect(parser.ingestion.keep).toBe('first');
    expect(parser.ingestion.max_pages).toBe(100_000);
    expect(parser.ingestion.on_schema_change).toBe('warn');
    expect(parser.validation.max_quarantine_share).toBeUndefined();
    expect(DEFAULT_MAX_QUARANTINE_SHARE).toBe(0.5);
  });

  it('accepts a key of one field or several, and the run-wide quarantine share beside the field rules', () => {
    const one = parserWith((d) => {
      d.ingestion.unique_key = 'id';
      d.ingestion.keep = 'last';
      d.ingestion.on_schema_change = 'fail';
      d.ingestion.max_pages = 10;
      d.validation.max_quarantine_share = 0.2;
    });
    expect(one.ingestion).toMatchObject({ unique_key: 'id', keep: 'last', on_schema_change: 'fail', max_pages: 10 });
    expect(one.validation.max_quarantine_share).toBe(0.2);
    expect(one.validation.age).toMatchObject({ type: 'integer', required: true });
    expect(parserWith((d) => (d.ingestion.unique_key = ['region', 'signup_time'])).ingestion.unique_key).toEqual(['region', 'signup_time']);
  });

  it('refuses values no run can use, naming the key', () => {
    const problems = problemsOf((d) => {
      d.ingestion.keep = 'middle';
      d.ingestion.max_pages = 0;
      d.ingestion.on_schema_change = 'ignore';
      d.ingestion.unique_key = [];
      d.validation.max_quarantine_share = 1.5;
    });
    for (const key of ['ingestion.keep', 'ingestion.max_pages', 'ingestion.on_schema_change', 'ingestion.unique_key', 'validation.max_quarantine_share']) {
      expect(problems.some((p) => p.startsWith(`${key}:`))).toBe(true);
    }
  });

  it('a unique_key must name selected fields (processed names, after field_mappings)', () => {
    const problems = problemsOf((d) => (d.ingestion.unique_key = 'customer_id'));
    expect(problems.join('\n')).toMatch(/unique_key.*customer_id/);
    // Checked again before any fetch, for configs built in code.
    const parser = parserWith(() => undefined);
    parser.ingestion.unique_key = ['id', 'email'];
    expect(() => planFields(parser)).toThrow(IngestionConfigError);
    expect(() => planFields(parser)).toThrow(/ingestion.unique_key names "email", which is not in selected_fields/);
  });
});
