import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { ProjectConfig, TuningConfig } from '../../config/schema';
import { readModelPackage } from '../../runtime/model/package';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { TrainingAbortedError } from '../../runtime/training';
import { readStudy, rungEpochs, sampleConfigurations, tune } from '../../runtime/training/tuning';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const base = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));

function project(tuning: Partial<TuningConfig>, epochs = 3): ProjectConfig {
  const copy = JSON.parse(JSON.stringify(base)) as ProjectConfig;
  copy.pipeline.training_params.epochs = epochs;
  copy.pipeline.tuning = { ...(copy.pipeline.tuning as TuningConfig), ...tuning };
  return copy;
}

const space: TuningConfig['search_space'] = {
  learning_rate: { min: 0.001, max: 0.05, log: true, integer: false },
  hidden_layers: { values: [[4], [8]] },
  batch_size: { values: [128, 256] },
};

describe('tuning', () => {
  let store: LocalObjectStore;
  beforeAll(async () => {
    store = new LocalObjectStore(makeTempDir('mlstack-tune-'));
    await store.put('data/p/part-0.csv', churnCsv(1000, 9));
  });
  const common = () => ({ store, dataKeys: ['data/p/part-0.csv'], modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/' });

  it('samples a deterministic space and plans successive-halving rungs', () => {
    const tuning = { strategy: 'successive_halving', trials: 9, metric: 'auc', eta: 3, min_epochs: 2, search_space: space } as TuningConfig;
    const a = sampleConfigurations(tuning, 42);
    expect(a).toEqual(sampleConfigurations(tuning, 42));
    expect(a).toHaveLength(9);
    for (const c of a) {
      expect(c.learning_rate).toBeGreaterThanOrEqual(0.001);
      expect(c.learning_rate).toBeLessThanOrEqual(0.05);
      expect([128, 256]).toContain(c.batch_size);
    }
    expect(rungEpochs(tuning, 12)).toEqual([2, 6, 12]);
    expect(rungEpochs({ ...tuning, strategy: 'random' }, 12)).toEqual([12]);
  });

  it('persists each trial as it ends, resumes an aborted study without redoing finished trials, and keeps the best model', async () => {
    const config = project({ strategy: 'successive_halving', trials: 4, eta: 2, min_epochs: 1, metric: 'auc', search_space: space }, 2);
    const controller = new AbortController();
    const firstRun: string[] = [];
    await expect(
      tune({
        ...common(),
        project: config,
        studyId: 'study-1',
        signal: controller.signal,
        onTrialEnd: async (t) => {
          firstRun.push(t.trial_id);
          // The study object already holds the trial when the callback runs.
          const saved = await readStudy(store, 'study-1');
          expect(saved?.trials.map((x) => x.trial_id)).toContain(t.trial_id);
          if (firstRun.length === 2) controller.abort();
        },
      }),
    ).rejects.toThrow(TrainingAbortedError);
    const partial = await readStudy(store, 'study-1');
    expect(partial?.status).toBe('running');
    expect(partial?.trials).toHaveLength(2);
    expect(partial?.best).not.toBeNull();

    const secondRun: string[] = [];
    const study = await tune({ ...common(), project: config, studyId: 'study-1', onTrialStart: (id) => secondRun.push(id) });
    expect(secondRun.some((id) => firstRun.includes(id))).toBe(false);
    // Rung 0: 4 configs at 1 epoch; rung 1: best 2 at 2 epochs.
    expect(study.trials.map((t) => t.trial_id).slice(0, 4).sort()).toEqual(['r0-c0', 'r0-c1', 'r0-c2', 'r0-c3']);
    expect(study.trials.filter((t) => t.rung === 1)).toHaveLength(2);
    expect(study.trials.every((t) => t.status === 'complete' && typeof t.metric === 'number')).toBe(true);
    const bestMetric = Math.max(...study.trials.map((t) => t.metric as number));
    expect(study.best?.metric).toBe(bestMetric);
    expect(study.status).toBe('complete');
    const pkg = await readModelPackage(store, study.best!.package_prefix);
    expect(pkg.metadata.run_id).toBe(study.best!.run_id);
  });

  it('rejects a restarted study whose search space changed, and a metric the task does not have', async () => {
    const config = project({ strategy: 'random', trials: 1, metric: 'auc', search_space: space }, 1);
    await tune({ ...common(), project: config, studyId: 'study-2' });
    const changed = project({ strategy: 'random', trials: 2, metric: 'auc', search_space: space }, 1);
    await expect(tune({ ...common(), project: changed, studyId: 'study-2' })).rejects.toThrow(/different search space/);
    await expect(tune({ ...common(), project: project({ trials: 1, strategy: 'random', metric: 'rmse', search_space: space }, 1), studyId: 'study-3' })).rejects.toThrow(/tuning metric "rmse" is not available for a binary task/);
    await expect(tune({ ...common(), project: project({ trials: 1, search_space: { dropout: { min: 2, max: 3, log: false, integer: false } } }, 1), studyId: 's4' })).rejects.toThrow(/sample 1 is not valid.*dropout/);
  });
});
