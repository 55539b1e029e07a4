/**
 * Profiles and the package's baseline.json: small cases checked by hand, a baseline covered by the
 * package's manifest (an edit is refused by name), and a package older than baselines reads as "none".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PackageInvalidError } from '../../runtime/model/manifest';
import { fitPreprocessing } from '../../runtime/model/preprocessing';
import { BASELINE_FILE, predictionProfile, readBaseline, trainingBaseline, writeBaseline } from '../../runtime/monitoring/baseline';
import { binCounts, binOf, profileCategorical, profileNumeric, quantileEdges } from '../../runtime/monitoring/profile';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { writeTinyPackage } from '../helpers/tiny-package';
import { makeTempDir } from '../helpers/tmp';

describe('numeric profiles', () => {
  it('GIVEN 1..10 WHEN profiled with 5 bins THEN the edges are the 2nd, 4th, 6th and 8th values and each bin holds two', () => {
    const sorted = Float64Array.from({ length: 10 }, (_, i) => i + 1);
    expect(quantileEdges(sorted, 5)).toEqual([2, 4, 6, 8]);
    expect(binCounts([2, 4, 6, 8], sorted)).toEqual([2, 2, 2, 2, 2]);
  });

  it('GIVEN ties WHEN edges are cut THEN they are distinct and below the maximum', () => {
    expect(quantileEdges(Float64Array.of(0, 0, 0, 0, 0, 0, 0, 0, 5, 9), 10)).toEqual([0, 5]);
    expect(quantileEdges(Float64Array.of(3, 3, 3), 10)).toEqual([]);
  });

  it('bins are right-closed: a value on an edge falls in the bin below it', () => {
    expect([0, 2, 2.5, 4, 9].map((v) => binOf([2, 4], v))).toEqual([0, 0, 1, 1, 2]);
  });

  it('GIVEN numbers, numeric strings, blanks and words WHEN profiled THEN blanks and words are missing and the summary is over the rest', () => {
    const p = profileNumeric([1, '3', '', null, 'n/a', 5]);
    expect(p).toMatchObject({ kind: 'numeric', count: 6, missing: 3, min: 1, max: 5, mean: 3 });
    expect(p.std).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(p.counts.reduce((a, b) => a + b, 0)).toBe(3);
  });
});

describe('categorical profiles', () => {
  it('GIVEN more categories than kept WHEN profiled THEN the most frequent are named (ties by name) and the rest counted as other', () => {
    const p = profileCategorical(['a', 'b', 'b', ' c ', 'c', 'c', 'd', '', null], 2);
    expect(p).toEqual({ kind: 'categorical', count: 9, missing: 2, frequencies: { c: 3, b: 2 }, other: 2 });
  });
});

describe('the training baseline', () => {
  const rows = [
    { age: '20', plan: 'basic', active: 'true' },
    { age: '30', plan: 'basic', active: 'false' },
    { age: '', plan: 'premium', active: 'true' },
    { age: '50', plan: '', active: 'true' },
  ];
  const preprocessing = fitPreprocessing(rows, { features: ['age', 'plan', 'active'], categorical: ['plan'] });

  it('GIVEN the fit split WHEN profiled THEN every feature is profiled over those rows only, booleans as categories', () => {
    const b = trainingBaseline({ rows, indices: [0, 1, 2], preprocessing, task: 'binary', predictions: Float32Array.of(0.5, 0.75), classes: ['no', 'yes'] });
    expect(b.rows).toBe(3);
    expect(b.features.age).toMatchObject({ kind: 'numeric', count: 3, missing: 1, min: 20, max: 30 });
    expect(b.features.plan).toEqual({ kind: 'categorical', count: 3, missing: 0, frequencies: { basic: 2, premium: 1 }, other: 0 });
    expect(b.features.active).toMatchObject({ kind: 'categorical', frequencies: { true: 2, false: 1 } });
    expect(b.prediction).toMatchObject({ kind: 'numeric', count: 2, min: 0.5, max: 0.75 });
  });

  it('GIVEN multiclass outputs WHEN profiled THEN the predicted classes are counted', () => {
    expect(predictionProfile('multiclass', [0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.2, 0.5, 0.3], ['a', 'b', 'c'])).toEqual({
      kind: 'categorical',
      count: 3,
      missing: 0,
      frequencies: { a: 1, b: 1, c: 1 },
      other: 0,
    });
    expect(predictionProfile('binary', [], [])).toBeNull();
  });
});

describe('baseline.json in a package', () => {
  const baseline = trainingBaseline({
    rows: [{ x: '1' }, { x: '2' }, { x: '4' }],
    indices: [0, 1, 2],
    preprocessing: fitPreprocessing([{ x: 1 }, { x: 2 }, { x: 4 }], { features: ['x'] }),
    task: 'binary',
    predictions: [0.2, 0.4],
    classes: ['no', 'yes'],
  });

  it('GIVEN a baseline written before the package WHEN read THEN it comes back, listed in the manifest', async () => {
    const dir = makeTempDir('mlstack-baseline-');
    const store = new LocalObjectStore(dir);
    await writeBaseline(store, 'pkg/', baseline);
    await writeTinyPackage(store, 'pkg/');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'pkg', 'manifest.json'), 'utf8')).files[BASELINE_FILE]).toBeDefined();
    expect(await readBaseline(store, 'pkg/')).toEqual(baseline);
  });

  it('GIVEN the baseline edited after training WHEN read THEN it is refused, naming baseline.json', async () => {
    const dir = makeTempDir('mlstack-baseline-');
    const store = new LocalObjectStore(dir);
    await writeBaseline(store, 'pkg/', baseline);
    await writeTinyPackage(store, 'pkg/');
    fs.writeFileSync(path.join(dir, 'pkg', BASELINE_FILE), JSON.stringify({ ...baseline, rows: 99 }));
    await expect(readBaseline(store, 'pkg/')).rejects.toThrow(PackageInvalidError);
    await expect(readBaseline(store, 'pkg/')).rejects.toThrow(/baseline\.json does not match manifest\.json/);
  });

  it('GIVEN a package written before baselines WHEN read THEN the answer is null', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-baseline-'));
    await writeTinyPackage(store, 'old/');
    expect(await readBaseline(store, 'old/')).toBeNull();
  });
});
