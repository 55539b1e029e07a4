import { Duplicates, FingerprintTable, fingerprint, RowSet } from '../../runtime/ingestion/duplicates';

describe('FingerprintTable', () => {
  it('adds, finds and grows past many entries (sequential ids included)', () => {
    const table = new FingerprintTable(false);
    let added = 0;
    for (let i = 0; i < 100_000; i += 1) if (table.add(i)) added += 1;
    expect(added).toBe(100_000);
    for (let i = 0; i < 100_000; i += 7) if (table.add(i)) added += 1;
    expect(added).toBe(100_000);
    expect(table.add(-3)).toBe(true);
    expect(table.add(-0)).toBe(false); // 0 is there
    expect(table.size).toBe(100_001);
    expect(table.saturated).toBe(false);
  });

  it('keeps a value per fingerprint through growth', () => {
    const table = new FingerprintTable(true);
    for (let i = 0; i < 20_000; i += 1) table.set(i * 3 + 0.5, i);
    table.set(0.5, 42);
    expect(table.get(0.5)).toBe(42);
    expect(table.get(3 * 19_999 + 0.5)).toBe(19_999);
    expect(table.get(1.5)).toBeUndefined();
  });

  it('at its cap stops adding, still finds what it holds, and says it is saturated', () => {
    const table = new FingerprintTable(false, 1 << 12);
    let i = 0;
    while (!table.saturated) table.add(i++);
    expect(table.size).toBeLessThanOrEqual(1 << 12);
    expect(table.add(0)).toBe(false);
    expect(table.add(1e9)).toBe(true); // unknown, not added
    expect(table.add(1e9)).toBe(true);
  });
});

describe('RowSet', () => {
  it('counts whole rows seen again, and at 7/8 full stops adding and says so', () => {
    const rows = new RowSet(1 << 10);
    rows.add([1, 'a', null]);
    rows.add([1, 'a', null]);
    rows.add([1, 'a', 0]);
    expect(rows.duplicates).toBe(1);
    for (let i = 2; i < 5000; i += 1) rows.add([i, 'a', null]);
    expect(rows.duplicates).toBe(1);
    expect(rows.saturated).toBe(true);
    expect(rows.size).toBe(896);
    rows.add([1, 'a', null]); // still found
    expect(rows.duplicates).toBe(2);
  });
});

describe('fingerprint', () => {
  it('tells apart values that concatenate alike, types, and column order', () => {
    const prints = [
      fingerprint(['ab', 'c']),
      fingerprint(['a', 'bc']),
      fingerprint([1, '1']),
      fingerprint(['1', 1]),
      fingerprint([1.5, null]),
      fingerprint([null, 1.5]),
      fingerprint([true]),
      fingerprint(['true']),
    ];
    expect(new Set(prints).size).toBe(prints.length);
    expect(fingerprint(['x', 2.25, null])).toBe(fingerprint(['x', 2.25, null]));
    for (const p of prints) expect(Number.isInteger(p)).toBe(false); // never equal to a whole-number key
  });
});

describe('Duplicates', () => {
  it('rows with a null key are never duplicates; a key over several columns compares them all', () => {
    const d = new Duplicates({ unique_key: ['a', 'b'], keep: 'first' }, ['a', 'b', 'c']);
    expect(d.isDropped([1, 'x', 1], 1)).toBe(false);
    expect(d.isDropped([1, 'x', 2], 2)).toBe(true);
    expect(d.isDropped([1, 'y', 2], 3)).toBe(false);
    expect(d.isDropped([null, 'y', 2], 4)).toBe(false);
    expect(d.isDropped([null, 'y', 2], 5)).toBe(false);
    expect(d.report()).toEqual({ unique_key: ['a', 'b'], keep: 'first', found: 1, dropped: 1, exact: true });
  });
});
