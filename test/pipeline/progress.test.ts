/**
 * `mlstack pipeline` on a terminal: the ingest stage draws its bar (rows fetched, pages, rate) on stderr
 * like the train stage does; with --json neither draws. stderr poses as a TTY here (cli-progress draws
 * only on one), and stdout keeps the summary.
 */
import * as path from 'node:path';
import { runCliCaptured } from '../helpers/cli-capture';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

describe('mlstack pipeline progress on a terminal', () => {
  const saved = process.env.MLSTACK_LOG_LEVEL;
  const configDir = copyConfig();
  editJson(path.join(configDir, 'pipeline.json'), (doc) => {
    doc.training_params.epochs = 2;
  });
  const args = ['pipeline', '--env', 'dev', '--cloud', 'local', '--config-dir', configDir, '--sample-rows', '2500'];
  beforeAll(() => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.MLSTACK_LOG_LEVEL;
    else process.env.MLSTACK_LOG_LEVEL = saved;
  });

  it('draws the ingest bar and the training bar; the summary stays on stdout', async () => {
    const r = await runCliCaptured([...args, '--workdir', makeTempDir()], { stderrIsTty: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ingesting \| 2500 rows \| \d+ pages \| [\d-]+ rows\/s/);
    expect(r.stderr).toMatch(/training \|.*\| epoch 2\/2/);
    expect(r.stdout).toContain('mlstack pipeline summary');
    expect(r.stdout).not.toMatch(/ingesting|mlstack-epoch/);
  }, 120_000);

  it('draws neither with --json', async () => {
    const r = await runCliCaptured([...args, '--workdir', makeTempDir(), '--json'], { stderrIsTty: true });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/ingesting|training \|/);
    expect(JSON.parse(r.stdout).rows.fetched).toBe(2500);
  }, 120_000);
});
