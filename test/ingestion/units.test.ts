import { pooledRowRenderer } from '../../runtime/ingestion/sample-api';
import { arrayElementTexts } from '../../runtime/ingestion/json-slices';
import { sampleRow } from '../../runtime/ingestion/sample-data';
import fc from 'fast-check';
import { ColumnStats, DistinctCounter, hash32, hashSafeInteger } from '../../runtime/ingestion/quality';
import { backoffDelay, parseRetryAfter, sleep, TokenBucket } from '../../runtime/common/retry';
import { nextLink, redactUrl, resolveAuthHeader } from '../../runtime/ingestion/rest-source';
import { sourceId } from '../../runtime/ingestion/state';
import { atPath, compareWatermarks, watermarkOf } from '../../runtime/ingestion/types';
import { RowValidator } from '../../runtime/ingestion/validate';
import { planFields } from '../../runtime/ingestion/fields';
import { testProject } from '../helpers/ingest-fixtures';

describe('rate limiting and retry timing', () => {
  it('a token bucket spaces requests at the configured rate once the burst is spent', async () => {
    const bucket = new TokenBucket(40, 2);
    const started = performance.now();
    for (let i = 0; i < 8; i += 1) await bucket.take();
    // 2 free (burst), then 6 at 40/s = 150 ms at least.
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('backoff grows exponentially, is capped, and keeps jitter within [half, full]', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
    expect(backoffDelay(10, policy, () => 1)).toBe(1000);
    expect(backoffDelay(10, policy, () => 0)).toBe(500);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('sleep can be aborted', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });
});

describe('small helpers', () => {
  it('finds rel="next" in a Link header, relative or absolute', () => {
    expect(nextLink('</items?cursor=b>; rel="next", </items?cursor=a>; rel="prev"', 'http://h/items?cursor=a')).toBe('http://h/items?cursor=b');
    expect(nextLink('<http://other/x>; rel=next', 'http://h/')).toBe('http://other/x');
    expect(nextLink('</a>; rel="prev"', 'http://h/')).toBeNull();
    expect(nextLink(null, 'http://h/')).toBeNull();
  });

  it('never stores credentials from a URL', () => {
    expect(redactUrl('postgres://u:secret@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(sourceId('postgres://u:***@h:5432/db')).toMatch(/^u-h-5432-db-[0-9a-f]{10}$/);
  });

  it('compares watermarks numerically or as ISO strings', () => {
    expect(compareWatermarks(9, 10)).toBeLessThan(0);
    expect(compareWatermarks('9', '10')).toBeLessThan(0);
    expect(compareWatermarks('2024-01-02T00:00:00Z', '2024-01-10T00:00:00Z')).toBeLessThan(0);
    expect(compareWatermarks(null, 1)).toBeLessThan(0);
    expect(watermarkOf(' 42 ')).toBe(42);
    expect(watermarkOf(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(watermarkOf('')).toBeNull();
    expect(atPath({ a: { b: [1] } }, 'a.b')).toEqual([1]);
    expect(atPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});

describe('validation rules', () => {
  const project = testProject((_ing, p) => {
    p.parser.selected_fields = ['n', 'flag', 'ts', 'label'];
    p.parser.field_mappings = {};
    p.parser.watermark_field = undefined;
    p.parser.validation = {
      n: { type: 'number', required: false, min: 0, max: 10 },
      flag: { type: 'boolean', required: false },
      ts: { type: 'timestamp', required: false },
      label: { type: 'string', required: false, allowed: ['a', 1] },
    };
  });
  const validator = new RowValidator(planFields(project.parser), project.parser);

  it('coerces types and checks ranges and allowed values', () => {
    expect(validator.check({ n: '2.5e0', flag: 'true', ts: 0, label: 1 })).toEqual({ ok: true, values: [2.5, true, '1970-01-01T00:00:00.000Z', '1'] });
    expect(validator.check({ n: 11, flag: 'maybe', ts: 'tomorrow', label: { x: 1 } })).toMatchObject({
      ok: false,
      reasons: ['n: 11 is above max 10', 'flag: "maybe" is not a boolean', 'ts: "tomorrow" is not a timestamp', 'label: "{\\"x\\":1}" is not a string'],
    });
    expect(validator.check({ n: -1, label: 'b' })).toMatchObject({ ok: false, reasons: ['n: -1 is below min 0', 'label: "b" is not one of "a", 1'] });
    expect(validator.check({ n: Infinity, flag: 0 })).toMatchObject({ ok: false, reasons: ['n: Infinity is not a finite number'] });
  });
});

describe('quality statistics', () => {
  it('counts distinct values exactly when few and within 5% when many', () => {
    const few = new DistinctCounter();
    for (let i = 0; i < 1000; i += 1) few.add(String(i % 37));
    expect(few.count()).toBe(37);
    expect(few.isExact).toBe(true);
    const many = new DistinctCounter();
    for (let i = 0; i < 200_000; i += 1) many.add(String(i % 100_000));
    expect(many.isExact).toBe(false);
    expect(Math.abs(many.count() - 100_000) / 100_000).toBeLessThan(0.05);
  });

  it('reports min, max and mean for numbers and min/max for strings', () => {
    const numbers = new ColumnStats();
    [3, 1, null, 2].forEach((v) => numbers.add(v));
    expect(numbers.report(4)).toMatchObject({ count: 3, nulls: 1, min: 1, max: 3, mean: 2, distinct: 3 });
    const strings = new ColumnStats();
    ['b', 'a', 'c'].forEach((v) => strings.add(v));
    expect(strings.report(3)).toMatchObject({ min: 'a', max: 'c', distinct: 3 });
    expect(strings.report(3).mean).toBeUndefined();
  });
});

describe('auth header', () => {
  it('reads the token from a mounted secret file, and sends it bare when scheme is empty', () => {
    const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'mlstack-secret-'));
    const file = require('node:path').join(dir, 'token');
    require('node:fs').writeFileSync(file, 's3cret\n');
    const config = testProject().parser.ingestion;
    expect(resolveAuthHeader({ ...config, auth: { header: 'X-Api-Key', scheme: '', token_file: file } })).toEqual(['X-Api-Key', 's3cret']);
    expect(resolveAuthHeader({ ...config, auth: { header: 'Authorization', scheme: 'Bearer', token_env: 'TOKEN' } }, { TOKEN: 't' })).toEqual(['Authorization', 'Bearer t']);
    expect(() => resolveAuthHeader({ ...config, auth: { header: 'A', scheme: '', token_file: '/nonexistent/token' } })).toThrow(/token_file \/nonexistent\/token cannot be read/);
    expect(resolveAuthHeader(config)).toBeUndefined();
  });
});

describe('pooled sample rows (benchmark API)', () => {
  it('renders ids inside the pool exactly as sampleRow, and ids beyond it with their own id and email', () => {
    const render = pooledRowRenderer(50, 42);
    for (const id of [1, 17, 50]) expect(JSON.parse(render(id))).toEqual(sampleRow(id, 42));
    expect(JSON.parse(render(123))).toEqual({ ...sampleRow(23, 42), customer_id: 123, email: 'customer123@example.com' });
  });
});

describe('distinct counts of numbers', () => {
  it('hashes a safe integer exactly as its decimal text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -0, 9, 10, -10, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)), (n) => {
        expect(hashSafeInteger(n)).toBe(hash32(String(n)));
      }),
      { numRuns: 500 },
    );
  });

  it('counts the number 1 and the text "1" as one value, exactly and in the sketch', () => {
    const mixed = new DistinctCounter();
    [1, 2, 2.5, -0].forEach((n) => mixed.addNumber(n));
    ['1', '2.5', 'x', '0'].forEach((t) => mixed.add(t));
    expect(mixed.count()).toBe(5);
    const many = new DistinctCounter();
    for (let i = 0; i < 150_000; i += 1) {
      many.addNumber(i % 60_000);
      many.add(String((i % 60_000) + 0.5));
    }
    for (let i = 0; i < 60_000; i += 1) many.add(String(i));
    expect(many.isExact).toBe(false);
    expect(Math.abs(many.count() - 120_000) / 120_000).toBeLessThan(0.05);
  });
});

describe('raw record texts from a JSON body', () => {
  it('finds each element of the records array, compact or indented, at any path', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), fc.jsonValue(), fc.constantFrom(0, 2), (records, other, indent) => {
        const body = JSON.stringify({ before: other, page: { items: records, after: other } }, null, indent);
        const texts = arrayElementTexts(body, 'page.items', records.length);
        const sent = JSON.parse(JSON.stringify(records)) as unknown[]; // what a client reads (-0 is sent as 0)
        expect(texts).toHaveLength(records.length);
        texts!.forEach((text, i) => {
          if (text !== undefined) expect(JSON.parse(text)).toEqual(sent[i]);
          else expect(indent).toBe(2); // only an element spread over lines has no single-line text
        });
        if (indent === 0) expect(texts).toEqual(records.map((r) => JSON.stringify(r)));
      }),
      { numRuns: 300 },
    );
  });

  it('gives up when the path, the count or the keys are not plain', () => {
    expect(arrayElementTexts('[1, "a,]", {"b":[2]}]', '', 3)).toEqual(['1', '"a,]"', '{"b":[2]}']);
    expect(arrayElementTexts('{"data":[1,2]}', 'data', 3)).toBeUndefined();
    expect(arrayElementTexts('{"data":{"x":1}}', 'data', 0)).toBeUndefined();
    expect(arrayElementTexts('{"data":[1],"data":[2]}', 'data', 1)).toBeUndefined();
    expect(arrayElementTexts('{"d\\u0061ta":[1]}', 'data', 1)).toBeUndefined();
    expect(arrayElementTexts('{"rows":[]}', 'data', 0)).toBeUndefined();
    expect(arrayElementTexts('{"data":[]}', 'data', 0)).toEqual([]);
  });
});
