/** RunTracker over a real local store, tuning trials as tracked child runs, and the query helpers. */
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { ProjectConfig, TuningConfig } from '../../config/schema';
import { trackingRunKey } from '../../runtime/contract/layout';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { compareRuns, filterRuns, parseFilter, RunTracker, sortRuns, type RunRecord } from '../../runtime/tracking';
import { tune } from '../../runtime/training/tuning';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';

const base = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));

function record(runId: string, params: RunRecord['params'], metrics: Record<string, number>): RunRecord {
  return {
    format_version: 1,
    run_id: runId,
    experiment: 'mlstack',
    source: 'train',
    status: 'finished',
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:01:00.000Z',
    params,
    metrics,
    validation: {},
    epochs: [],
    system: { backend: 'cpu' },
    tags: { source: 'train' },
    artifacts: {},
    lineage: { data_uri: 'file:///d.csv', data_hash: 'h', config_hash: 'c', code_version: '0.1.0', parent_run: null, env: 'dev', cloud: 'local' },
  };
}

describe('RunTracker', () => {
  it('writes records under tracking/<project>/runs/, lists them, and names the key of a record that is not valid', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-tracker-'));
    const tracker = new RunTracker(store, 'mlstack');
    const key = await tracker.write(record('r1', { epochs: 2 }, { auc: 0.8 }));
    expect(key).toBe('tracking/mlstack/runs/r1.json');
    await tracker.write(record('r2', { epochs: 3 }, { auc: 0.7 }));
    expect((await tracker.list()).map((r) => r.run_id)).toEqual(['r1', 'r2']);
    expect(await new RunTracker(store, 'other').ids()).toEqual([]);
    await expect(tracker.write({ ...record('r3', {}, {}), metrics: { auc: 'high' } } as unknown as RunRecord)).rejects.toThrow(/auc/);
    await store.put(trackingRunKey({ tracking: 'tracking/' }, 'mlstack', 'r4'), JSON.stringify({ run_id: 'r4' }));
    await expect(tracker.get('r4')).rejects.toMatchObject({ code: 'INPUT_INVALID', message: expect.stringMatching(/tracking\/mlstack\/runs\/r4\.json is not a valid run record \(.*experiment/) });
    await expect(tracker.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('queries', () => {
  const runs = [record('a', { lr: 0.1, layers: [8] }, { auc: 0.7, log_loss: 0.5 }), record('b', { lr: 0.2, layers: [8, 4] }, { auc: 0.9, log_loss: 0.6 }), record('c', { lr: 0.1, layers: [8] }, {})];

  it('sorts higher-is-better metrics descending and losses ascending, runs without the metric last', () => {
    expect(sortRuns(runs, 'auc').map((r) => r.run_id)).toEqual(['b', 'a', 'c']);
    expect(sortRuns(runs, 'log_loss').map((r) => r.run_id)).toEqual(['a', 'b', 'c']);
    expect(() => sortRuns(runs, 'f1')).toThrow(/--sort f1: no run has that metric; metrics: auc, log_loss/);
  });

  it('filters on numbers, arrays and lineage, and parses key=value', () => {
    expect(filterRuns(runs, [parseFilter('lr=0.10')]).map((r) => r.run_id)).toEqual(['a', 'c']);
    expect(filterRuns(runs, [parseFilter('layers=[8, 4]')]).map((r) => r.run_id)).toEqual(['b']);
    expect(filterRuns(runs, [parseFilter('cloud=aws')])).toEqual([]);
    expect(() => parseFilter('=x')).toThrow(/not key=value/);
  });

  it('compares every key any run has, marking differences', () => {
    const c = compareRuns(runs);
    expect(c.params).toEqual([
      { key: 'layers', values: ['8', '8,4', '8'], differs: true },
      { key: 'lr', values: ['0.1', '0.2', '0.1'], differs: true },
    ]);
    expect(c.metrics.find((r) => r.key === 'auc')).toEqual({ key: 'auc', values: ['0.7', '0.9', '-'], differs: true });
    expect(c.lineage.every((r) => !r.differs)).toBe(true);
  });
});

describe('tuning trials', () => {
  it('are tracked as runs whose parent is the study, tagged with study and trial', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-tune-track-'));
    await store.put('data/p/part-0.csv', churnCsv(400, 9));
    const project = JSON.parse(JSON.stringify(base)) as ProjectConfig;
    project.pipeline.training_params.epochs = 1;
    project.pipeline.tuning = { ...(project.pipeline.tuning as TuningConfig), strategy: 'random', trials: 2, metric: 'auc', search_space: { learning_rate: { min: 0.001, max: 0.05, log: true, integer: false } } };
    const study = await tune({ project, store, dataKeys: ['data/p/part-0.csv'], modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/', studyId: 'study-t', tracking: { store, env: 'dev', cloud: 'local' } });
    const tracked = await new RunTracker(store, 'mlstack').list();
    expect(tracked.map((r) => r.run_id)).toEqual(study.trials.map((t) => t.run_id).sort());
    for (const run of tracked) {
      const trial = study.trials.find((t) => t.run_id === run.run_id)!;
      expect(run).toMatchObject({ source: 'tune', lineage: { parent_run: 'study-t', env: 'dev' }, tags: { source: 'tune', study: 'study-t', trial: trial.trial_id } });
      expect(run.params.learning_rate).toBe(trial.params.learning_rate);
      expect(run.metrics).toEqual(trial.test_metrics);
    }
  }, 60_000);
});
