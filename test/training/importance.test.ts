import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { ModelType, ProjectConfig } from '../../config/schema';
import { seededRandom } from '../../runtime/common/random';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { train } from '../../runtime/training';
import { makeTempDir } from '../helpers/tmp';

const base = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));

/** Only `planted` decides the label (5% flipped); the other columns are noise. */
function plantedCsv(rows: number): string {
  const random = seededRandom(5);
  const lines = ['noise_a,planted,noise_b,noise_c,label'];
  for (let i = 0; i < rows; i++) {
    const planted = random();
    const label = (planted > 0.5) !== random() < 0.05 ? 'yes' : 'no';
    lines.push([random().toFixed(3), planted.toFixed(3), ['x', 'y', 'z'][Math.floor(random() * 3)], (random() * 100).toFixed(1), label].join(','));
  }
  return lines.join('\n') + '\n';
}

function projectOf(modelType: ModelType): ProjectConfig {
  const copy = JSON.parse(JSON.stringify(base)) as ProjectConfig;
  Object.assign(copy.pipeline, { model_type: modelType, task: 'binary', features: ['noise_a', 'planted', 'noise_b', 'noise_c'], categorical_features: ['noise_b'], target: 'label', positive_class: 'yes', promotion_gates: {} });
  return copy;
}

describe.each(['gradient_boosting', 'logistic_regression', 'neural_network'] as const)('feature importance (%s)', (modelType) => {
  it('ranks the planted informative feature first, noise near zero', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-importance-'));
    await store.put('d.csv', plantedCsv(1500));
    const result = await train({ project: projectOf(modelType), store, dataKeys: ['d.csv'], runId: 'imp', modelsPrefix: 'm/', checkpointsPrefix: 'c/', progress: 'none', overrides: { epochs: 3 } });
    expect(result.importance.map((f) => f.feature)[0]).toBe('planted');
    expect(result.importance[0].permutation).toBeGreaterThan(0.2);
    for (const noise of result.importance.slice(1)) expect(Math.abs(noise.permutation)).toBeLessThan(0.05);
    if (modelType === 'gradient_boosting') {
      const byGain = [...result.importance].sort((a, b) => (b.split_gain ?? 0) - (a.split_gain ?? 0));
      expect(byGain[0].feature).toBe('planted');
    }
  }, 60_000);
});
