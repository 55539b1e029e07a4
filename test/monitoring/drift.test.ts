/**
 * The drift core: each statistic on cases worked out by hand, then adult.csv split in two (train half as the
 * baseline, the other half as live traffic): unchanged -> no drift; a shifted numeric feature, a flood of a
 * new category and a jump in missing values are each detected and named; the thresholds decide.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { fitPreprocessing } from '../../runtime/model/preprocessing';
import { trainingBaseline, type Baseline } from '../../runtime/monitoring/baseline';
import { compareWithBaseline, OTHER_BUCKET, type DriftResult, type LiveRecord } from '../../runtime/monitoring/drift';
import { jsDistance, ksStatistic, psi, SHARE_FLOOR } from '../../runtime/monitoring/stats';
import { DEFAULT_THRESHOLDS, PREDICTION, thresholdsFor } from '../../runtime/monitoring/thresholds';

const ADULT = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'adult.csv');

describe('the statistics, by hand', () => {
  it('PSI: identical is 0; [.5,.5] -> [.25,.75] is .25 ln 2 + .25 ln 1.5; an empty bin is floored, not infinite', () => {
    expect(psi([5, 5], [50, 50])).toBe(0);
    expect(psi([2, 2], [1, 3])).toBeCloseTo(0.25 * Math.log(2) + 0.25 * Math.log(1.5), 12);
    expect(psi([1, 0], [1, 1])).toBeCloseTo(-0.5 * Math.log(0.5) + (0.5 - SHARE_FLOOR) * Math.log(0.5 / SHARE_FLOOR), 12);
  });

  it('JS distance: 0 for identical, 1 for disjoint, sqrt(.5 log2(.5/.75) + .5 + log2(1/.75)) / sqrt 2 for [.5,.5] vs [1,0]', () => {
    expect(jsDistance([3, 1], [6, 2])).toBe(0);
    expect(jsDistance([1, 0], [0, 1])).toBeCloseTo(1, 12);
    const kl1 = 0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(0.5 / 0.25);
    const kl2 = Math.log2(1 / 0.75);
    expect(jsDistance([1, 1], [1, 0])).toBeCloseTo(Math.sqrt((kl1 + kl2) / 2), 12);
  });

  it('KS: the largest gap between the cumulative shares', () => {
    expect(ksStatistic([2, 2], [1, 3])).toBeCloseTo(0.25, 12);
    expect(ksStatistic([1, 0, 0], [0, 0, 1])).toBe(1);
    expect(ksStatistic([1, 1, 1], [1, 1, 1])).toBe(0);
  });

  it('refuses distributions on different bins', () => {
    expect(() => psi([1], [1, 2])).toThrow(/different bins: 1 and 2/);
  });
});

describe('thresholds', () => {
  it('GIVEN defaults, a global metric and a per-feature override WHEN resolved THEN the most specific wins', () => {
    const config = { psi: 0.3, features: { age: { psi: 0.5, ks: 0.2 } }, prediction: { js: 0.05 } };
    expect(thresholdsFor(undefined, 'age')).toEqual(DEFAULT_THRESHOLDS);
    expect(thresholdsFor(config, 'sex')).toEqual({ ...DEFAULT_THRESHOLDS, psi: 0.3 });
    expect(thresholdsFor(config, 'age')).toEqual({ ...DEFAULT_THRESHOLDS, psi: 0.5, ks: 0.2 });
    expect(thresholdsFor(config, PREDICTION)).toEqual({ ...DEFAULT_THRESHOLDS, psi: 0.3, js: 0.05 });
  });
});

describe('a small baseline, by hand', () => {
  const rows = [{ x: '1', c: 'a' }, { x: '2', c: 'a' }, { x: '3', c: 'b' }, { x: '4', c: 'b' }];
  const baseline = trainingBaseline({ rows, indices: [0, 1, 2, 3], preprocessing: fitPreprocessing(rows, { features: ['x', 'c'], categorical: ['c'] }), task: 'binary', predictions: [0.2, 0.8], classes: ['n', 'y'] });

  it('GIVEN live values across the bins WHEN compared THEN the shares, unseen share and missing share are as counted', () => {
    const live: LiveRecord[] = [{ features: { x: 1, c: 'a' } }, { features: { x: 9, c: 'z' } }, { features: { x: null, c: 'z' } }, { features: { x: 10, c: '' } }];
    const r = compareWithBaseline(baseline, live);
    const x = r.features.find((f) => f.feature === 'x')!;
    const c = r.features.find((f) => f.feature === 'c')!;
    expect(baseline.features.x).toMatchObject({ edges: [1, 2, 3], counts: [1, 1, 1, 1] });
    expect(x.bins.live).toEqual([1 / 3, 0, 0, 2 / 3]);
    expect(x.metrics.ks).toBeCloseTo(5 / 12, 12); // cumulative 1/4,1/2,3/4 vs 1/3,1/3,1/3
    expect(x.metrics.missing_share).toBe(0.25);
    expect(c.bins).toEqual({ labels: ['a', 'b', OTHER_BUCKET], train: [0.5, 0.5, 0], live: [1 / 3, 0, 2 / 3] });
    expect(c.metrics.unseen_share).toBeCloseTo(2 / 3, 12);
    expect(c.unseen).toEqual([{ value: 'z', count: 2 }]);
    expect(r.prediction).toBeNull();
  });

  it('GIVEN live scores all above the training scores WHEN compared THEN the prediction drifts; scores as in training do not', () => {
    const features = { x: 2, c: 'a' };
    const high = compareWithBaseline(baseline, [0.9, 0.95, 0.99].map((prediction) => ({ features, prediction })));
    expect(baseline.prediction).toMatchObject({ kind: 'numeric', edges: [0.2], counts: [1, 1] });
    expect(high.prediction?.bins.live).toEqual([0, 1]);
    expect(high.drifted_features).toContain(PREDICTION);
    const same = compareWithBaseline(baseline, [0.1, 0.9].map((prediction) => ({ features, prediction })));
    expect(same.prediction?.drifted).toEqual([]);
  });
});

function readAdult(): Record<string, string>[] {
  return parse(fs.readFileSync(ADULT), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
}

(fs.existsSync(ADULT) ? describe : describe.skip)('adult.csv: train half against live half', () => {
  let baseline: Baseline;
  let live: Record<string, string>[];
  const FEATURES = ['age', 'type_employer', 'education', 'hr_per_week', 'capital_gain', 'sex', 'country'];

  beforeAll(() => {
    const rows = readAdult();
    const train = rows.filter((_, i) => i % 2 === 0);
    live = rows.filter((_, i) => i % 2 === 1);
    const preprocessing = fitPreprocessing(train, { features: FEATURES, categorical: ['type_employer', 'education', 'sex', 'country'] });
    baseline = trainingBaseline({ rows: train, indices: train.map((_, i) => i), preprocessing, task: 'binary', predictions: [], classes: [] });
  });

  const run = (rows: Record<string, unknown>[], thresholds?: Parameters<typeof compareWithBaseline>[2]): DriftResult =>
    compareWithBaseline(baseline, rows.map((features) => ({ features })), thresholds);
  const drifted = (r: DriftResult, feature: string) => r.features.find((f) => f.feature === feature)!.drifted.map((d) => d.metric);

  it('GIVEN the live half unchanged WHEN compared THEN nothing drifts', () => {
    const r = run(live);
    expect(r.drift).toBe(false);
    expect(r.drifted_features).toEqual([]);
    expect(r.rows).toBe(live.length);
  });

  it('GIVEN age shifted by ten years WHEN compared THEN age drifts on PSI, JS and KS, and nothing else', () => {
    const r = run(live.map((row) => ({ ...row, age: String(Number(row.age) + 10) })));
    expect(r.drifted_features).toEqual(['age']);
    expect(drifted(r, 'age')).toEqual(expect.arrayContaining(['psi', 'js', 'ks']));
  });

  it('GIVEN a third of the rows from a new employer type WHEN compared THEN type_employer drifts, the unseen value named', () => {
    const r = run(live.map((row, i) => (i % 3 === 0 ? { ...row, type_employer: 'Robot' } : row)));
    expect(r.drifted_features).toEqual(['type_employer']);
    expect(drifted(r, 'type_employer')).toEqual(expect.arrayContaining(['psi', 'unseen_share']));
    expect(r.features.find((f) => f.feature === 'type_employer')!.unseen?.[0]).toEqual({ value: 'Robot', count: Math.ceil(live.length / 3) });
  });

  it('GIVEN hours per week missing in one row of five WHEN compared THEN hr_per_week drifts on missing_share only', () => {
    const r = run(live.map((row, i) => (i % 5 === 0 ? { ...row, hr_per_week: '' } : row)));
    expect(r.drifted_features).toEqual(['hr_per_week']);
    expect(drifted(r, 'hr_per_week')).toEqual(['missing_share']);
  });

  it('GIVEN the same shift WHEN the config raises age thresholds (override) or lowers all of them THEN the thresholds decide', () => {
    const shifted = live.map((row) => ({ ...row, age: String(Number(row.age) + 10) }));
    expect(run(shifted, { features: { age: { psi: 10, js: 1, ks: 1 } } }).drift).toBe(false);
    const strict = run(live, { psi: 0, js: 0, ks: 0 });
    expect(strict.drifted_features.length).toBeGreaterThan(0);
  });
});
