import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { loadProjectConfig } from '../../config/load';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { latestCheckpointEpoch } from '../../runtime/training/checkpoint';
import { train, TrainingAbortedError } from '../../runtime/training';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

const project = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));
const fast = { epochs: 4, early_stopping_patience: 10, batch_size: 64 };

describe('checkpoints (in-process)', () => {
  let store: LocalObjectStore;
  beforeAll(async () => {
    store = new LocalObjectStore(makeTempDir('mlstack-ckpt-'));
    await store.put('data/processed/r1/part-0.csv', churnCsv(2000, 7));
  });

  it('stops at an aborted signal and resumes to the same quality', async () => {
    const controller = new AbortController();
    // Abort once the second epoch has been reported (its checkpoint is written right after).
    const progress = new Writable({
      write(chunk, _enc, done) {
        if (String(chunk).includes('"epoch":2,')) controller.abort();
        done();
      },
    });
    const opts = { project, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'run-b', modelsPrefix: 'models/', checkpointsPrefix: 'checkpoints/', overrides: { ...fast, epochs: 6, dropout: 0 } };
    await expect(train({ ...opts, progress: 'lines', metricsOut: progress, signal: controller.signal })).rejects.toThrow(TrainingAbortedError);
    expect(await latestCheckpointEpoch(store, 'checkpoints/', 'run-b')).toBe(2);
    const resumed = await train({ ...opts, progress: 'none' });
    expect(resumed.resumedFromEpoch).toBe(2);
    expect(resumed.epochs).toBe(6);
    const straight = await train({ ...opts, runId: 'run-b-straight', progress: 'none' });
    expect(resumed.metrics.auc).toBeCloseTo(straight.metrics.auc, 2);
    expect(resumed.metrics.log_loss).toBeCloseTo(straight.metrics.log_loss, 2);
  });

  it('ignores a corrupt checkpoint and uses the previous one', async () => {
    const opts = { project, store, dataKeys: ['data/processed/r1/part-0.csv'], runId: 'run-c', modelsPrefix: 'models/', checkpointsPrefix: 'ckpt/', progress: 'none' as const, overrides: { ...fast, epochs: 3 } };
    await train(opts);
    const bin = path.join(store.root.replace('file://', ''), 'ckpt/run-c/ckpt-000003.bin');
    const bytes = fs.readFileSync(bin);
    bytes[10] ^= 0xff;
    fs.writeFileSync(bin, bytes);
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg), info: () => undefined } as never;
    const again = await train({ ...opts, logger });
    expect(again.resumedFromEpoch).toBe(2);
    expect(warnings.join('\n')).toMatch(/ignoring checkpoint .*ckpt-000003.json: payload checksum mismatch/);
    // A checkpoint made with another configuration is not resumed either.
    const other = await train({ ...opts, overrides: { ...fast, epochs: 3, learning_rate: 0.001 }, logger });
    expect(other.resumedFromEpoch).toBeNull();
    expect(warnings.join('\n')).toMatch(/different configuration/);
  });

});
