/**
 * What training prints, by where it runs: one `mlstack-epoch` line per epoch in a pipe, SageMaker's
 * `metrics ...` scrape lines only under the SageMaker contract, no closing summary lines outside it
 * (the caller prints the result once), and a backend choice that reads as information, not an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { selectBackend, NOT_INSTALLED, type ModuleLoader } from '../../runtime/training/backend';
import { runEntrypoint } from '../../runtime/training/entrypoint';
import { createProgress } from '../../runtime/training/progress';
import { finalMetricLines } from '../../runtime/training/telemetry';
import { copyConfig, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

function sink(): { stream: Writable; lines: () => string[] } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

const records = [
  { epoch: 1, loss: 0.5, val_loss: 0.45, val_auc: 0.8 },
  { epoch: 2, loss: 0.4, val_loss: 0.41, val_auc: 0.84 },
];
const test = { auc: 0.83, accuracy: 0.8, log_loss: 0.42 };

/** Drives a reporter through a two-epoch run as train() does. */
function drive(mode: 'lines' | 'sagemaker' | 'none'): string[] {
  const out = sink();
  const reporter = createProgress(mode, out.stream);
  reporter.start(2, 0);
  for (const r of records) reporter.epoch(r);
  reporter.stop();
  reporter.finished(records[1], test);
  return out.lines();
}

describe('progress modes', () => {
  it('lines (a pipe): one mlstack-epoch line per epoch and nothing else', () => {
    const lines = drive('lines');
    expect(lines).toEqual(records.map((r) => `mlstack-epoch ${JSON.stringify(r)}`));
  });

  it('sagemaker: each epoch record with its scrape line, then the best-epoch and test lines', () => {
    const lines = drive('sagemaker');
    expect(lines.filter((l) => l.startsWith('mlstack-epoch '))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('metrics epoch='))).toHaveLength(2);
    expect(lines.slice(-2)).toEqual(finalMetricLines(records[1], test));
    expect(lines).toHaveLength(6);
  });

  it('bar (a terminal): the bar on its stream and no summary lines on stdout', () => {
    const out = sink();
    const tty = { isTTY: true, columns: 200, write: () => true, on: () => tty, removeListener: () => tty };
    const reporter = createProgress('bar', out.stream, tty as never);
    reporter.start(2, 0);
    reporter.epoch(records[0]);
    reporter.stop();
    reporter.finished(records[0], test);
    expect(out.lines()).toEqual([]);
  });

  it('none prints nothing', () => {
    expect(drive('none')).toEqual([]);
  });
});

/** Runs the training entrypoint in-process; returns its exit code and stdout lines. */
async function entrypointLines(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; lines: string[] }> {
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await runEntrypoint(argv, env);
    return { code, lines: spy.mock.calls.flatMap((c) => String(c[0]).split('\n')).filter(Boolean) };
  } finally {
    spy.mockRestore();
  }
}

describe('training container output by contract', () => {
  const env = { MLSTACK_CONFIG_DIR: copyConfig(), MLSTACK_LOG_LEVEL: 'silent', MLSTACK_REQUIRE_GPU: '0' };

  it('Azure ML (not SageMaker): epoch records and the result, no SageMaker metric lines', async () => {
    const dir = makeTempDir('mlstack-az-out-');
    fs.mkdirSync(path.join(dir, 'in'));
    fs.writeFileSync(path.join(dir, 'in', 'train.csv'), churnCsv(600, 3));
    const { code, lines } = await entrypointLines(['--input', path.join(dir, 'in'), '--output', path.join(dir, 'out'), '--epochs', '2', '--run_id', 'az-out'], env);
    expect(code).toBe(0);
    expect(lines.filter((l) => l.startsWith('mlstack-epoch '))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('metrics '))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('mlstack-result '))).toHaveLength(1);
    expect(lines).toHaveLength(3);
  });

  it('SageMaker: the scrape lines every epoch and at the end', async () => {
    const root = makeTempDir('mlstack-sm-out-');
    fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
    fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
    fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ epochs: '2' }));
    fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'part-0.csv'), churnCsv(600, 4));
    const { code, lines } = await entrypointLines(['train'], { ...env, MLSTACK_SM_ROOT: root, TRAINING_JOB_NAME: 'sm-out' });
    expect(code).toBe(0);
    expect(lines.filter((l) => l.startsWith('metrics epoch='))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('metrics best_epoch='))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('metrics test:'))).toHaveLength(1);
  });
});

describe('backend choice log line', () => {
  /** A loader on which the native packages are absent, as `require` reports it. */
  const absent: ModuleLoader = (name) => {
    if (name.startsWith('@tensorflow/tfjs-node')) {
      throw Object.assign(new Error(`Cannot find module '${name}'\nRequire stack:\n- runtime/training/backend.ts`), { code: 'MODULE_NOT_FOUND' });
    }
    return require(name);
  };

  it('says the GPU backend is not installed and what is used instead, at info (below the CLI default, warn)', async () => {
    const logged: { level: string; obj: any; msg: string }[] = [];
    const at = (level: string) => (obj: unknown, msg: string) => logged.push({ level, obj, msg });
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as never;
    const info = await selectBackend({ logger, loader: absent });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'info', msg: `GPU backend not installed; using ${info.name}` });
    expect(info.skipped).toEqual([
      { name: 'tensorflow-gpu', reason: NOT_INSTALLED },
      { name: 'tensorflow', reason: NOT_INSTALLED },
    ]);
    expect(JSON.stringify(logged)).not.toMatch(/Cannot find module/);
  });

  it('keeps the whole reason when the GPU package is installed but cannot load', async () => {
    const logged: string[] = [];
    const logger = { info: (_obj: unknown, msg: string) => logged.push(msg) } as never;
    const broken: ModuleLoader = (name) => {
      if (name === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file');
      return absent(name);
    };
    const info = await selectBackend({ logger, loader: broken });
    expect(info.skipped[0].reason).toMatch(/libcudart/);
    expect(logged).toEqual([`tf backend: ${info.name}`]);
  });
});
