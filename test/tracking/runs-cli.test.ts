/**
 * Done-when of issue 17: three runs trained with different parameters through the CLI, listed, shown and compared
 * through the CLI; every parameter and metric a table shows is checked against the tracked record, and the records
 * against the resolved training parameters (defaults and --epochs included).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { RunRecord } from '../../runtime/tracking';
import { resolveTrainingParams } from '../../runtime/training';
import { codeVersion } from '../../runtime/training/version';
import { runCli } from '../helpers/cli';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';

const cli = runCli;

/** A config folder whose training_params are edited (the three runs differ in learning rate, layers and dropout). */
function configWith(params: Record<string, unknown>): string {
  const dir = copyConfig();
  editJson(path.join(dir, 'pipeline.json'), (doc) => Object.assign(doc.training_params, { epochs: 2, batch_size: 32, early_stopping_patience: 10 }, params));
  return dir;
}

const workdir = makeTempDir('mlstack-runs-');
const data = path.join(makeTempDir('mlstack-runs-data-'), 'train.csv');
const configs = {
  'run-a': configWith({ learning_rate: 0.01, hidden_layers: [8] }),
  'run-b': configWith({ learning_rate: 0.003, hidden_layers: [16, 8], dropout: 0.2 }),
  'run-c': configWith({ learning_rate: 0.01, hidden_layers: [8] }),
};
const extra: Record<string, string[]> = { 'run-a': [], 'run-b': [], 'run-c': ['--epochs', '3'] };
const store = (dir = configs['run-a']) => ['--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--config-dir', dir];

/** Splits a printed table into rows of cells (cells are separated by two or more spaces). */
function cells(text: string, skip = 1): string[][] {
  return text.trimEnd().split('\n').slice(skip).map((line) => line.trim().split(/\s{2,}/));
}

const shown = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v));

describe('mlstack runs (three tracked runs)', () => {
  const records: Record<string, RunRecord> = {};

  beforeAll(async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    fs.writeFileSync(data, churnCsv(400, 5));
    for (const [runId, dir] of Object.entries(configs)) {
      const trained = await cli(['train', ...store(dir), '--data', data, '--run-id', runId, '--json', ...extra[runId]]);
      expect(trained).toMatchObject({ code: 0, stderr: '' });
    }
    for (const runId of Object.keys(configs)) {
      const show = await cli(['runs', 'show', runId, '--json', ...store()]);
      expect(show.code).toBe(0);
      records[runId] = JSON.parse(show.stdout) as RunRecord;
    }
  }, 120_000);

  it('records every resolved training parameter (defaults and --epochs included), the epochs, system figures and lineage', () => {
    for (const [runId, dir] of Object.entries(configs)) {
      const record = records[runId];
      const config = loadProjectConfig(dir);
      // A neural_network run: the tree, linear and auto blocks did not shape it.
      const { gradient_boosting, linear, auto, ...expected } = resolveTrainingParams(config.pipeline.training_params, runId === 'run-c' ? { epochs: 3 } : {});
      expect([gradient_boosting, linear, auto].every((block) => typeof block === 'object')).toBe(true);
      expect(record.params).toEqual({ model_type: 'neural_network', ...expected, seed: config.pipeline.seed, train_split: config.pipeline.train_split });
      expect(record.params.l2).toBe(0);
      expect(record.epochs.map((e) => e.epoch)).toEqual(runId === 'run-c' ? [1, 2, 3] : [1, 2]);
      expect(record.system.peak_rss_mb).toEqual(expect.any(Number));
      expect(record.system.cpu_user_s as number).toBeGreaterThan(0);
      expect(record.lineage).toMatchObject({ data_uri: `file://${data}`, code_version: codeVersion(), parent_run: null, env: 'dev', cloud: 'local' });
      expect(record.lineage.data_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.keys(record.metrics)).toEqual(expect.arrayContaining(['auc', 'accuracy', 'f1', 'log_loss']));
      expect(record).toMatchObject({ experiment: 'mlstack', source: 'train', status: 'finished', tags: { source: 'train' } });
      expect(fs.existsSync(path.join(workdir, 'tracking', 'mlstack', 'runs', `${runId}.json`))).toBe(true);
    }
  });

  it('lists the runs with their differing params and every test metric, each cell as recorded', async () => {
    const listed = await cli(['runs', 'list', ...store()]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toBe('experiment mlstack: 3 runs');
    const [header, ...rows] = cells(listed.stdout);
    const metrics = Object.keys(records['run-a'].metrics).sort();
    expect(header).toEqual(['run', 'source', 'parent', 'dropout', 'epochs', 'hidden_layers', 'learning_rate', ...metrics]);
    expect(rows.map((r) => r[0])).toEqual(['run-a', 'run-b', 'run-c']);
    for (const row of rows) {
      const record = records[row[0]];
      header.slice(3).forEach((key, i) => expect([key, row[i + 3]]).toEqual([key, shown(key in record.params ? record.params[key] : record.metrics[key])]));
      expect(row.slice(1, 3)).toEqual(['train', '-']);
    }
  });

  it('sorts by a metric and filters by params, tags and lineage', async () => {
    const sorted = JSON.parse((await cli(['runs', 'list', '--sort', 'log_loss', '--json', ...store()])).stdout) as RunRecord[];
    const losses = sorted.map((r) => r.metrics.log_loss);
    expect(losses).toEqual([...losses].sort((a, b) => a - b));
    const byAuc = JSON.parse((await cli(['runs', 'list', '--sort', 'auc', '--json', ...store()])).stdout) as RunRecord[];
    expect(byAuc.map((r) => r.metrics.auc)).toEqual(Object.values(records).map((r) => r.metrics.auc).sort((a, b) => b - a));
    const filtered = JSON.parse((await cli(['runs', 'list', '--filter', 'learning_rate=0.01', '--filter', 'hidden_layers=8', '--json', ...store()])).stdout) as RunRecord[];
    expect(filtered.map((r) => r.run_id)).toEqual(['run-a', 'run-c']);
    const byEpochs = JSON.parse((await cli(['runs', 'list', '--filter', 'epochs=3', '--filter', 'tag.source=train', '--filter', 'env=dev', '--json', ...store()])).stdout) as RunRecord[];
    expect(byEpochs.map((r) => r.run_id)).toEqual(['run-c']);
  });

  it('compares runs side by side, marking exactly the rows that differ', async () => {
    const compared = await cli(['runs', 'compare', 'run-a', 'run-b', 'run-c', ...store()]);
    expect(compared.code).toBe(0);
    const blocks = compared.stdout.split(/\n(?=[a-z ()]+:\n)/);
    const params = blocks.find((b) => b.startsWith('params:')) as string;
    const metrics = blocks.find((b) => b.startsWith('metrics (test):')) as string;
    const runs = Object.values(records);
    const check = (block: string, pick: (r: RunRecord) => Record<string, unknown>) => {
      const lines = block.trimEnd().split('\n').slice(1);
      expect(lines[0].slice(3).split(/\s{2,}/)).toEqual(['key', 'run-a', 'run-b', 'run-c']);
      const keys = lines.slice(1).map((line) => {
        const [key, ...values] = line.slice(3).split(/\s{2,}/);
        const expected = runs.map((r) => shown(pick(r)[key]));
        expect([key, values]).toEqual([key, expected]);
        expect([key, line[0]]).toEqual([key, new Set(expected).size > 1 ? '*' : ' ']);
        return key;
      });
      expect(keys).toEqual(Object.keys(pick(runs[0])).sort());
    };
    check(params, (r) => r.params);
    check(metrics, (r) => r.metrics);
    expect(params).toMatch(/^\* {2}learning_rate/m);
    expect(params).toMatch(/^ {3}seed/m);
    const json = JSON.parse((await cli(['runs', 'compare', 'run-a', 'run-c', '--json', ...store()])).stdout);
    expect(json.params.filter((r: { differs: boolean }) => r.differs).map((r: { key: string }) => r.key)).toEqual(['epochs']);
  });

  it('shows one run in text: params, metrics, epochs and lineage', async () => {
    const shownRun = await cli(['runs', 'show', 'run-b', ...store()]);
    expect(shownRun.code).toBe(0);
    const record = records['run-b'];
    expect(shownRun.stdout).toContain('run run-b (experiment mlstack, train, finished)');
    for (const [k, v] of Object.entries(record.params)) expect(shownRun.stdout).toMatch(new RegExp(`^  ${k} +${shown(v).replace('.', '\\.')}$`, 'm'));
    for (const [k, v] of Object.entries(record.metrics)) expect(shownRun.stdout).toMatch(new RegExp(`^  ${k} +${shown(v).replace('.', '\\.')}$`, 'm'));
    expect(shownRun.stdout).toMatch(/^ {2}code_version +\S+$/m);
  });

  it('fails with NOT_FOUND (exit 1) for an unknown run and a usage error (exit 2) for bad arguments', async () => {
    const missing = await cli(['runs', 'show', 'run-zzz', ...store()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/run "run-zzz" is not tracked for project "mlstack"; tracked runs: run-a, run-b, run-c/);
    expect((await cli(['runs', 'compare', 'run-a', ...store()])).code).toBe(2);
    expect((await cli(['runs', 'list', '--filter', 'nonsense', ...store()])).code).toBe(2);
    expect((await cli(['runs', 'list', '--sort', 'no_such_metric', ...store()])).stderr).toMatch(/no run has that metric; metrics: .*auc/);
    const other = await cli(['runs', 'list', ...store(), '--project', 'other']);
    expect(other.stdout).toContain('no tracked runs for project other');
  });
});

describe('mlstack models', () => {
  it('lists versions and shows where each is pinned (config/environments/*.json)', async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    const dir = configWith({ learning_rate: 0.01, hidden_layers: [8] });
    editJson(path.join(dir, 'environments', 'qa.json'), (doc) => (doc.model_version = 'v1'));
    const wd = makeTempDir('mlstack-models-');
    const args = ['--env', 'dev', '--cloud', 'local', '--workdir', wd, '--config-dir', dir];
    fs.writeFileSync(data, churnCsv(400, 5));
    expect((await cli(['train', ...args, '--data', data, '--run-id', 'm1', '--register', '--json'])).code).toBe(0);
    const list = await cli(['models', 'list', ...args]);
    const [header, row] = cells(list.stdout);
    const record = JSON.parse((await cli(['models', 'show', 'v1', '--json', ...args])).stdout);
    expect(header.slice(0, 4)).toEqual(['version', 'created', 'run', 'pinned in']);
    expect(row.slice(0, 4)).toEqual(['v1', record.created_at, 'm1', 'qa']);
    header.slice(4).forEach((m, i) => expect([m, row[i + 4]]).toEqual([m, String(record.metrics[m])]));
    expect(record).toMatchObject({ version: 'v1', pinned_in: ['qa'], environments: { dev: null, qa: 'v1' }, lineage: { run_id: 'm1', data_uri: `file://${data}` } });
    const text = (await cli(['models', 'show', 'v1', ...args])).stdout;
    expect(text).toMatch(/^ {2}qa +pinned \(v1\)$/m);
    expect(text).toMatch(/^ {2}dev +not pinned \(nothing pinned\)$/m);
    const missing = await cli(['models', 'show', 'v9', ...args]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/model version "v9" is not registered for project "mlstack"; known versions: v1/)]);
  }, 60_000);
});
