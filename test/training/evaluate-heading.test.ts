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
});
