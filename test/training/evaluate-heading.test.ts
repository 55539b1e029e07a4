/** `mlstack evaluate`'s report names the model as asked for and says when the data is the training data. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../helpers/cli';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from './synthetic';

describe('evaluate report heading', () => {
  it('is titled by the version asked for and flags data that overlaps the training data', async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => Object.assign(doc.training_params, { epochs: 1, batch_size: 32 }));
    const dir = makeTempDir('mlstack-eval-heading-');
    const trainCsv = path.join(dir, 'train.csv');
    const holdout = path.join(dir, 'holdout.csv');
    fs.writeFileSync(trainCsv, churnCsv(300, 8));
    fs.writeFileSync(holdout, churnCsv(200, 9));
    const args = ['--env', 'dev', '--cloud', 'local', '--workdir', path.join(dir, 'wd'), '--config-dir', configDir];
    expect((await runCli(['train', ...args, '--data', trainCsv, '--run-id', 'h1', '--register', '--json'])).code).toBe(0);

    const report = async (data: string, model: string): Promise<string> => {
      const file = path.join(dir, `${path.basename(data)}-${model}.html`);
      expect((await runCli(['evaluate', ...args, '--model', model, '--data', data, '--report', file])).code).toBe(0);
      return fs.readFileSync(file, 'utf8');
    };
    const onTraining = await report(trainCsv, 'v1');
    expect(onTraining).toContain('<h1>mlstack: evaluation of v1</h1>');
    expect(onTraining).toContain(`<p id="evaluated-on">evaluated on: ${trainCsv} (overlaps the training data)</p>`);
    expect(onTraining).toContain('<svg id="pr-curve"');
    const onHoldout = await report(holdout, 'h1');
    expect(onHoldout).toContain('<h1>mlstack: evaluation of h1</h1>');
    expect(onHoldout).toContain(`<p id="evaluated-on">evaluated on: ${holdout}</p>`);
  }, 60_000);

  it('sets another version beside the evaluated one: --compare, else the version pinned in --env', async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => Object.assign(doc.training_params, { epochs: 1, batch_size: 32 }));
    editJson(path.join(configDir, 'environments', 'dev.json'), (doc) => (doc.model_version = 'v1'));
    const dir = makeTempDir('mlstack-eval-compare-');
    const data = path.join(dir, 'data.csv');
    fs.writeFileSync(data, churnCsv(300, 12));
    const args = ['--env', 'dev', '--cloud', 'local', '--workdir', path.join(dir, 'wd'), '--config-dir', configDir];
    for (const [run, lr] of [['c1', '0.01'], ['c2', '0.002']]) {
      const trainArgs = ['train', ...args, '--data', data, '--run-id', run, '--register', '--json'];
      editJson(path.join(configDir, 'pipeline.json'), (doc) => (doc.training_params.learning_rate = Number(lr)));
      expect((await runCli(trainArgs)).code).toBe(0);
    }
    const v1 = JSON.parse((await runCli(['evaluate', ...args, '--model', 'v1', '--data', data, '--json'])).stdout);
    expect(v1.compare).toBeNull();
    const file = path.join(dir, 'v2.html');
    const v2 = JSON.parse((await runCli(['evaluate', ...args, '--model', 'v2', '--data', data, '--report', file, '--json'])).stdout);
    expect(v2.compare).toEqual({ version: 'v1', metrics: v1.metrics });
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toContain('<h2>Side by side: v2 vs v1 (same rows)</h2><table id="comparison"><tr><th>metric</th><th>v2</th><th>v1</th><th>difference</th></tr>');
    expect(html).toContain(`<tr><td>auc</td><td>${v2.metrics.auc.toFixed(4)}</td><td>${v1.metrics.auc.toFixed(4)}</td>`);
    const explicit = JSON.parse((await runCli(['evaluate', ...args, '--model', 'v1', '--data', data, '--compare', 'v2', '--json'])).stdout);
    expect(explicit.compare).toEqual({ version: 'v2', metrics: v2.metrics });
    const noEnv = await runCli(['evaluate', '--model', path.join(dir, 'wd'), '--data', data, '--compare', 'v2']);
    expect([noEnv.code, noEnv.stderr]).toEqual([2, expect.stringContaining('--compare v2 names a registry version: pass --env')]);
  }, 90_000);
});
