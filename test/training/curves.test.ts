/** The report's PR curve, calibration bins, threshold table and class balance, by hand-checked numbers, and in a trained report. */
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { train } from '../../runtime/training';
import { calibrationBins, classBalance, prCurve, thresholdTable } from '../../runtime/training/curves';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const labels = [1, 1, 0, 1, 0, 0];
const probs = [0.9, 0.7, 0.6, 0.4, 0.2, 0.05];

describe('report curves', () => {
  it('tabulates precision, recall, F1 and the positive rate per threshold', () => {
    expect(thresholdTable(labels, probs, [0.5, 0.3, 0.95])).toEqual([
      // >= 0.5: 0.9 0.7 (tp) 0.6 (fp); 0.4 missed.
      { threshold: 0.5, precision: 0.6667, recall: 0.6667, f1: 0.6667, positive_rate: 0.5 },
      { threshold: 0.3, precision: 0.75, recall: 1, f1: 0.8571, positive_rate: 0.6667 },
      { threshold: 0.95, precision: 1, recall: 0, f1: 0, positive_rate: 0 },
    ]);
  });

  it('draws the PR curve from recall 1 at threshold 0 down to recall 0', () => {
    const pr = prCurve(labels, probs, 11);
    expect(pr).toHaveLength(11);
    expect(pr[0]).toEqual({ recall: 1, precision: 0.5 });
    expect(pr[10]).toEqual({ recall: 0, precision: 1 });
  });

  it('bins predictions for the reliability diagram, leaving out empty bins', () => {
    expect(calibrationBins(labels, probs, 2)).toEqual([
      { predicted: 0.2167, observed: 0.3333, count: 3 },
      { predicted: 0.7333, observed: 0.6667, count: 3 },
    ]);
    expect(classBalance([0, 1, 1, 2], ['a', 'b', 'c'])).toEqual({ a: 1, b: 2, c: 1 });
  });

  it('puts hyperparameters, class balance, PR, calibration and thresholds in a binary run report', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-report-'));
    await store.put('d/part-0.csv', churnCsv(400, 3));
    const project = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));
    const result = await train({ project, store, dataKeys: ['d/part-0.csv'], runId: 'rep', modelsPrefix: 'models/', checkpointsPrefix: 'c/', progress: 'none', overrides: { epochs: 1, batch_size: 32, learning_rate: 0.0123 } });
    const html = (await store.get(result.reportKey)).toString();
    expect(html).toMatch(/<table id="hyperparameters">.*<th>learning_rate<\/th><td>0\.0123<\/td>/);
    expect(html).toMatch(/<th>hidden_layers<\/th><td>32, 16<\/td>/);
    expect(html).toMatch(/<table id="class-balance"><tr><th>class<\/th><th>train<\/th><th>test<\/th><\/tr><tr><td>no<\/td><td>\d+<\/td><td>\d+<\/td><\/tr><tr><td>yes<\/td>/);
    expect(html).toContain('<svg id="pr-curve"');
    expect(html).toContain('<svg id="calibration-plot"');
    expect(html).toMatch(/<table id="thresholds"><tr><th>threshold<\/th><th>precision<\/th><th>recall<\/th><th>f1<\/th><th>positive_rate<\/th><\/tr>(<tr>(<td>[\d.]+<\/td>){5}<\/tr>){9}<\/table>/);
  });
});
