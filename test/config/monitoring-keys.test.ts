/**
 * The `monitoring` block of an environment: defaults when absent, thresholds with per-feature overrides
 * accepted, and out-of-bounds values refused naming file and key.
 */
import * as path from 'node:path';
import { ConfigError, loadProjectConfig } from '../../config/load';
import { copyConfig, editJson } from '../helpers/tmp';

function problemsOf(dir: string): string {
  try {
    loadProjectConfig(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected loadProjectConfig to throw');
}

describe('monitoring config', () => {
  it('GIVEN no monitoring block WHEN loaded THEN capture is off, drift alerts, thresholds are the defaults', () => {
    const dev = loadProjectConfig(path.resolve(__dirname, '../../config')).environments.dev;
    expect(dev.monitoring).toEqual({ schedule: 'cron(0 4 * * ? *)', capture_percent: 0, capture_flush_seconds: 60, thresholds: {}, on_drift: 'alert' });
  });

  it('GIVEN thresholds with overrides, retrain and labels WHEN loaded THEN they are kept, with the label defaults', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'qa.json'), (e) => {
      e.monitoring = { capture_percent: 5, on_drift: 'retrain', thresholds: { psi: 0.3, features: { age: { ks: 0.2 } }, prediction: { js: 0.05 } }, labels: { key: 'labels/truth.csv' } };
    });
    const qa = loadProjectConfig(dir).environments.qa.monitoring;
    expect(qa).toMatchObject({ capture_percent: 5, on_drift: 'retrain', thresholds: { psi: 0.3, features: { age: { ks: 0.2 } }, prediction: { js: 0.05 } }, labels: { key: 'labels/truth.csv', id_field: 'request_id' } });
  });

  it('GIVEN out-of-bounds values and unknown keys WHEN loaded THEN each is named with its file and key', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'staging.json'), (e) => {
      e.monitoring = { capture_percent: 101, on_drift: 'page', thresholds: { ks: 1.5, features: { age: { psl: 0.1 } } } };
    });
    const message = problemsOf(dir);
    expect(message).toMatch(/staging\.json: monitoring\.capture_percent: /);
    expect(message).toMatch(/staging\.json: monitoring\.on_drift: /);
    expect(message).toMatch(/staging\.json: monitoring\.thresholds\.ks: /);
    expect(message).toMatch(/staging\.json: monitoring\.thresholds\.features\.age/);
  });
});
