import fc from 'fast-check';
import { parseJsonRows, validateRows, WRAPPER_KEYS } from '../../runtime/serving/input';
import { createJsonBatchEncoder, jsonNumber } from '../../runtime/serving/json-batch';
import { InputError } from '../../runtime/serving/predictor';
import { fitPreprocessing, transformRows, validateInputRow, type PreprocessingState } from '../../runtime/model/preprocessing';

// Every kind of column the preprocessing has: numeric with and without gaps (missing indicator), log1p,
// boolean with gaps, and categoricals whose train data held a missing value (the '' category), non-ASCII
// names and spaces inside names.
const trainRows = Array.from({ length: 60 }, (_, i) => ({
  age: i % 7 === 0 ? null : 18 + ((i * 37) % 60),
  income: (i * 7919) % 100_000,
  score: -3.5 + (i % 9) * 0.75,
  member: i % 5 === 0 ? null : i % 2 === 0,
  plan: ['basic', 'pro', 'two words', 'città', ''][i % 5],
  region: ['north', 'south', 'Éire'][i % 3],
}));
const FEATURES = ['age', 'income', 'score', 'member', 'plan', 'region'];
const state: PreprocessingState = fitPreprocessing(trainRows, { features: FEATURES, categorical: ['plan', 'region'], logTransform: ['income'] });
const MAX_ROWS = 50;

/** The general path the server takes when the fast path declines: the reference the fast path must equal. */
function general(body: Uint8Array, maxRows = MAX_ROWS): Float32Array | 'rejected' {
  try {
    const rows = parseJsonRows(Buffer.from(body).toString('utf8'), FEATURES);
    validateRows(rows, { features: FEATURES, validateRow: (row) => validateInputRow(state, row) }, maxRows);
    return transformRows(state, rows);
  } catch (err) {
    if (err instanceof InputError) return 'rejected';
    throw err;
  }
}

const encode = createJsonBatchEncoder(state, WRAPPER_KEYS);

/** The fast path's matrix (a copy: the encoder reuses its buffer), or undefined when it declines. */
function fast(body: Uint8Array, maxRows = MAX_ROWS): Float32Array | undefined {
  const batch = encode(body, maxRows);
  return batch && batch.matrix.slice(0, batch.rows * state.outputDim);
}

function expectSameAnswer(text: string, maxRows = MAX_ROWS): boolean {
  const body = Buffer.from(text, 'utf8');
  const mine = fast(body, maxRows);
  if (mine === undefined) return false;
  const reference = general(body, maxRows);
  if (reference === 'rejected') throw new Error(`the fast path accepted a body the general path rejects: ${text}`);
  expect(mine.length).toBe(reference.length);
  for (let i = 0; i < mine.length; i++) {
    if (!Object.is(mine[i], reference[i])) throw new Error(`column ${i % state.outputDim} of row ${Math.floor(i / state.outputDim)}: ${mine[i]} != ${reference[i]} for ${text}`);
  }
  return true;
}

// --- generators of bodies in the plain shape, written out by hand so whitespace and number forms vary ---
const space = fc.constantFrom('', '', ' ', '\n', '\t ', '\r\n  ');
const digits = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
const decimalText = fc
  .tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 20)).map(([a, b]) => `${a}${b}`)), fc.option(digits(1, 20)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3))))
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`)
  .filter((t) => Number.isFinite(JSON.parse(t)));
const numberText = fc.oneof(decimalText, fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)), fc.integer().map(String));
const categoryText = (f: string) => {
  const feature = state.features.find((x) => x.name === f);
  const known = feature?.kind === 'categorical' ? feature.categories : [];
  return fc.constantFrom(...known.map((c) => JSON.stringify(c)), '"unseen"', '" pro "', '"  "', '"Pro"', '"🙂"');
};
const valueFor: Record<string, fc.Arbitrary<string>> = {
  age: fc.oneof(numberText, fc.constant('null')),
  income: fc.oneof(numberText.filter((t) => Number(t) >= -1e6), fc.constant('null')),
  score: fc.oneof(numberText, fc.constant('null')),
  member: fc.constantFrom('true', 'false', 'null'),
  plan: fc.oneof(categoryText('plan'), fc.constant('null')),
  region: fc.oneof(categoryText('region'), fc.constant('null')),
};
const rowText = fc
  .tuple(fc.shuffledSubarray(FEATURES, { minLength: FEATURES.length }), ...FEATURES.map((f) => valueFor[f]), fc.array(space, { minLength: 8, maxLength: 8 }))
  .map(([order, ...rest]) => {
    const ws = rest.pop() as string[];
    const values = Object.fromEntries(FEATURES.map((f, i) => [f, rest[i] as string]));
    return `{${ws[0]}${order.map((f, i) => `"${f}"${ws[(i + 1) % 8]}:${ws[(i + 2) % 8]}${values[f]}`).join(`${ws[3]},${ws[4]}`)}${ws[5]}}`;
  });
const plainBody = fc.tuple(fc.array(rowText, { minLength: 1, maxLength: 12 }), fc.constantFrom('array', 'single', ...WRAPPER_KEYS), space, space).map(([rows, shape, a, b]) => {
  const list = `[${a}${rows.join(`${b},${a}`)}${b}]`;
  if (shape === 'array') return `${a}${list}${b}`;
  if (shape === 'single') return `${b}${rows[0]}${a}`;
  return `{${a}"${shape}"${b}:${a}${list}${b}}`;
});

describe('JSON batch fast path', () => {
  it('accepts every plain body and writes exactly the general path matrix', () => {
    fc.assert(
      fc.property(plainBody, (text) => {
        expect(expectSameAnswer(text)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('on any mutation of a plain body, either declines or gives the general path matrix (never accepts what it rejects)', () => {
    const junk = fc.constantFrom(' ', '\n', '7', '"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '1', '-', '+', '.', 'e', 'n', 't', 'f', 'a', 'é', '\u0000', '\ufeff', '"x":1', '"age":1', 'null', '"instances":[]', '"parameters":{}', '1e400', '\\u0061');
    const mutated = fc.tuple(plainBody, fc.array(fc.tuple(fc.nat(), fc.nat(2), junk), { minLength: 1, maxLength: 2 })).map(([text, edits]) => {
      let out = text;
      for (const [at, cut, insert] of edits) {
        const i = at % (out.length + 1);
        out = out.slice(0, i) + insert + out.slice(i + cut);
      }
      return out;
    });
    let accepted = 0;
    let declined = 0;
    fc.assert(
      fc.property(mutated, (text) => {
        if (expectSameAnswer(text)) accepted++;
        else declined++;
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
        expectSameAnswer(text);
      }),
      { numRuns: 500 },
    );
    // Both outcomes must occur, or the property says nothing.
    expect(accepted).toBeGreaterThan(20);
    expect(declined).toBeGreaterThan(200);
  });

  const row = '{"age": 40, "income": 52000, "score": 1.25, "member": true, "plan": "pro", "region": "north"}';
  it.each([
    ['an empty batch', '{"instances": []}'],
    ['a missing feature', '{"age": 40, "income": 1, "score": 1, "member": true, "plan": "pro"}'],
    ['an unknown field', row.replace('}', ', "extra": 1}')],
    ['a duplicate feature', row.replace('}', ', "age": 41}')],
    ['a duplicate in place of a missing feature', row.replace('"region": "north"', '"age": 41')],
    ['a raw control character in a category', row.replace('"pro"', '"p\tro"')],
    ['a raw line break in a key', row.replace('"age"', '"a\nge"')],
    ['an escaped key', row.replace('"age"', '"\\u0061ge"')],
    ['an escaped category', row.replace('"pro"', '"p\\u0072o"')],
    ['a leading zero', row.replace('40', '040')],
    ['a bare fraction', row.replace('1.25', '.25')],
    ['a trailing dot', row.replace('1.25', '1.')],
    ['a plus sign', row.replace('40', '+40')],
    ['an exponent without digits', row.replace('1.25', '1e')],
    ['a number beyond double range', row.replace('52000', '1e400')],
    ['NaN', row.replace('40', 'NaN')],
    ['a number as a string', row.replace('40', '"40"')],
    ['a number for a category', row.replace('"pro"', '7')],
    ['a string for a boolean', row.replace('true', '"true"')],
    ['an object value', row.replace('40', '{"v": 40}')],
    ['a trailing comma', row.replace('}', ',}')],
    ['text after the document', `${row} x`],
    ['a byte order mark', `\ufeff${row}`],
    ['a parameters key', `{"instances": [${row}], "parameters": {}}`],
    ['two wrapper keys', `{"instances": [${row}], "inputs": [${row}]}`],
    ['an array row', '[[40, 52000, 1.25, true, "pro", "north"]]'],
    ['a wrapper that is not an array', `{"instances": ${row}}`],
  ])('declines %s (the general path answers it)', (_, text) => {
    expect(fast(Buffer.from(text))).toBeUndefined();
  });

  it('declines batches over the row limit, so the general path can answer 413', () => {
    const body = Buffer.from(`[${new Array(4).fill(row).join(',')}]`);
    expect(fast(body, 3)).toBeUndefined();
    expect(general(body, 3)).toBe('rejected');
    expect(fast(body, 4)).toBeDefined();
    expect(fast(Buffer.from(row), 0)).toBeUndefined();
  });

  it('grows past its first buffer and zeroes reused rows', () => {
    const many = `{"data": [${new Array(300).fill(row).join(',')}]}`;
    expect(encode(Buffer.from(many), 1000)?.rows).toBe(300);
    // The next call reuses the buffer: a one-hot column set by the last call must not survive.
    const other = row.replace('"pro"', '"basic"').replace('"north"', '"south"');
    expect(expectSameAnswer(other)).toBe(true);
    expect(expectSameAnswer(many, 1000)).toBe(true);
  });

  it('takes padded, unknown and non-ASCII categories through the general lookup, with the same result', () => {
    for (const plan of ['" pro "', '"unseen"', '"città"', '""', '"🙂"']) {
      expect(expectSameAnswer(row.replace('"pro"', plan))).toBe(true);
    }
  });

  it('turns itself off for names JSON writes only with escapes, or named like a wrapper key', () => {
    for (const name of ['say "hi"', 'back\\slash', 'tab\there', 'instances']) {
      const rows = [{ [name]: 1 }, { [name]: 2 }];
      const encoder = createJsonBatchEncoder(fitPreprocessing(rows, { features: [name] }), WRAPPER_KEYS);
      expect(encoder(Buffer.from(JSON.stringify(rows)), 10)).toBeUndefined();
    }
    const plain = createJsonBatchEncoder(fitPreprocessing([{ n: 1 }, { n: 2 }], { features: ['n'] }), WRAPPER_KEYS);
    expect(plain(Buffer.from('[{"n": 1}]'), 10)?.rows).toBe(1);
  });

  it('reads numbers exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.oneof(decimalText, fc.double({ noNaN: true }).map((d) => JSON.stringify(d)), fc.string({ maxLength: 8 })), (text) => {
        // RFC 8259's number grammar decides what is a number; JSON.parse decides its value.
        const expected = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? (JSON.parse(text) as number) : NaN;
        expect(jsonNumber(text)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    for (const [text, value] of [['-0', -0], ['-0.0e5', -0], ['9007199254740993', 9007199254740992], ['1.7976931348623157e308', Number.MAX_VALUE], ['5e-324', 5e-324], ['0.1', 0.1], ['123456789012345e-22', 1.23456789012345e-8]] as const) {
      expect(jsonNumber(text)).toBe(value);
    }
    for (const text of ['01', '1.', '.5', '+1', '-', '1e', '1e+', '--1', '0x10', 'Infinity', ' 1', '1 ']) expect(jsonNumber(text)).toBeNaN();
  });
});
