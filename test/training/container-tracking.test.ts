/** A training container's tracking is best effort: which store it picks, and that a refused write never fails the job. */
import { createLogger } from '../../runtime/common/logger';
import { resolveContext } from '../../runtime/context';
import { ENV } from '../../runtime/contract/env';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { containerTrackingTarget } from '../../runtime/training/container-tracking';
import { RunClock, trackRun, type TrackInput } from '../../runtime/training/track';
import { loadProjectConfig } from '../../config/load';
import { copyConfig, makeTempDir } from '../helpers/tmp';

const configDir = copyConfig();
const project = loadProjectConfig(configDir);

/** Collects the log lines a target resolution writes. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const lines: string[] = [];
  const logger = createLogger('test', 'cli', { [ENV.logLevel]: 'info' });
  jest.spyOn(logger, 'info').mockImplementation(((msg: string) => void lines.push(String(msg))) as never);
  jest.spyOn(logger, 'warn').mockImplementation(((obj: unknown, msg?: string) => void lines.push(String(msg ?? obj))) as never);
  return { logger, lines: () => lines };
}

function trackInput(store: LocalObjectStore, bestEffort: boolean): TrackInput {
  return {
    target: { store, source: 'train', bestEffort },
    pipeline: project.pipeline,
    params: project.pipeline.training_params,
    runId: 'c1',
    clock: new RunClock(),
    epochs: [{ epoch: 1, loss: 0.5 }],
    metrics: { auc: 0.7 },
    validation: {},
    backend: 'cpu',
    artifacts: {},
    lineage: { data_uri: 'file:///d.csv', data_hash: 'h', config_hash: 'c', parent_run: null },
  };
}

describe('containerTrackingTarget', () => {
  it('is not tracked (info) when no env and cloud are declared', async () => {
    const { logger, lines } = capturingLogger();
    expect(await containerTrackingTarget({ contract: 'sagemaker' }, { [ENV.configDir]: configDir }, logger)).toBeUndefined();
    expect(lines()).toEqual([`run not tracked: ${ENV.env} and ${ENV.cloud} are not set, so no store is known`]);
  });

  it('warns and goes on when the declared environment names no store', async () => {
    const { logger, lines } = capturingLogger();
    expect(await containerTrackingTarget({ contract: 'vertex' }, { [ENV.configDir]: configDir, [ENV.env]: 'dev', [ENV.cloud]: 'mars' }, logger)).toBeUndefined();
    expect(lines()[0]).toMatch(/^run not tracked: its store cannot be resolved \(.*MLSTACK_CLOUD/);
  });

  it("uses bucket mode's context, tagging the contract, and a trial's study with source tune", async () => {
    const ctx = await resolveContext({ configDir, env: 'dev', cloud: 'local', workdir: makeTempDir('mlstack-ct-') });
    const target = await containerTrackingTarget({ contract: 'bucket', ctx, study: 's-1' }, {}, capturingLogger().logger);
    expect(target).toEqual({ store: ctx.store, source: 'tune', env: 'dev', cloud: 'local', tags: { contract: 'bucket', study: 's-1' }, bestEffort: true });
  });
});

describe('trackRun', () => {
  it('returns null and warns when a best-effort write is refused; throws when tracking is required', async () => {
    const store = new LocalObjectStore(makeTempDir('mlstack-ct-'));
    jest.spyOn(store, 'put').mockRejectedValue(new Error('AccessDenied'));
    const { logger, lines } = capturingLogger();
    expect(await trackRun(trackInput(store, true), logger)).toBeNull();
    expect(lines()).toEqual(['run c1 not tracked: AccessDenied']);
    await expect(trackRun(trackInput(store, false), logger)).rejects.toThrow('AccessDenied');
  });
});
