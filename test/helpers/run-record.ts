import { RUN_RECORD_FORMAT, type RunRecord } from '../../runtime/tracking';

/** A finished run's record with three epochs: what the UI and export tests write without training. */
export function runRecord(runId: string, params: RunRecord['params'], auc: number, project = 'mlstack'): RunRecord {
  return {
    format_version: RUN_RECORD_FORMAT,
    run_id: runId,
    experiment: project,
    source: 'train',
    status: 'finished',
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:01:00.000Z',
    params,
    metrics: { auc, accuracy: 0.8 },
    validation: { val_auc: auc - 0.01 },
    epochs: [1, 2, 3].map((epoch) => ({ epoch, loss: 1 / epoch, val_loss: 1.1 / epoch, lr: 0.01, rss_mb: 100 + epoch })),
    system: { wall_s: 3, backend: 'cpu' },
    tags: { source: 'train' },
    artifacts: { report: 'file:///tmp/report.html' },
    lineage: { data_uri: 'file:///data.csv', data_hash: 'abc', config_hash: 'def', code_version: '0.1.0', parent_run: null, env: 'dev', cloud: 'local' },
  };
}
