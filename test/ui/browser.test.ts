/**
 * Done-when of issue 17: `mlstack ui` driven in headless Chromium (Debian's, through playwright-core). Three runs
 * trained through the CLI with different parameters, one registered and pinned; the runs list shows the three,
 * the comparison marks their differing parameters, the version page shows its report. A screenshot of each page
 * is written under the test's temp folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { RunRecord } from '../../runtime/tracking';
import { chromiumAvailable, isPng, launchChromium } from '../helpers/chromium';
import { runCli, startCli, type StartedCli } from '../helpers/cli';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';

const describeChromium = chromiumAvailable() ? describe : describe.skip;

const PARAMS: Record<string, Record<string, unknown>> = {
  'run-a': { learning_rate: 0.01, hidden_layers: [8] },
  'run-b': { learning_rate: 0.003, hidden_layers: [16, 8], dropout: 0.2 },
  'run-c': { learning_rate: 0.03, hidden_layers: [4], dropout: 0.1 },
};

describeChromium('mlstack ui in headless Chromium', () => {
  const tmp = makeTempDir('mlstack-ui-browser-');
  const workdir = path.join(tmp, 'workdir');
  const shots = path.join(tmp, 'screenshots');
  const configDir = copyConfig();
  const records: Record<string, RunRecord> = {};
  let ui: StartedCli;
  let base: string;
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];

  const shoot = async (name: string): Promise<string> => {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };

  beforeAll(async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    fs.mkdirSync(shots, { recursive: true });
    const data = path.join(tmp, 'train.csv');
    fs.writeFileSync(data, churnCsv(300, 5));
    editJson(path.join(configDir, 'environments', 'qa.json'), (doc) => (doc.model_version = 'v1'));
    const store = ['--env', 'dev', '--cloud', 'local', '--workdir', workdir];
    for (const [runId, params] of Object.entries(PARAMS)) {
      const dir = copyConfig();
      editJson(path.join(dir, 'pipeline.json'), (doc) => Object.assign(doc.training_params, { epochs: 2, batch_size: 32 }, params));
      const trained = await runCli(['train', ...store, '--config-dir', dir, '--data', data, '--run-id', runId, '--json', ...(runId === 'run-a' ? ['--register'] : [])]);
      expect(trained).toMatchObject({ code: 0, stderr: '' });
      records[runId] = JSON.parse((await runCli(['runs', 'show', runId, '--json', ...store, '--config-dir', configDir])).stdout) as RunRecord;
    }
    ui = startCli(['ui', ...store, '--config-dir', configDir, '--port', '0']);
    base = await ui.url;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (request) => requested.push(request.url()));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (ui) {
      process.emit('SIGTERM', 'SIGTERM');
      expect(await ui.running).toBe(0);
      ui.restore();
    }
  });

  it('lists the three runs, each linking to its page', async () => {
    expect(new URL(base).hostname).toBe('127.0.0.1');
    await page.goto(new URL('experiments/mlstack/runs', base).href);
    expect(await page.locator('#runs a').allTextContents()).toEqual(['run-a', 'run-b', 'run-c']);
    const headers = await page.locator('#runs th').allTextContents();
    expect(headers).toEqual(expect.arrayContaining(['dropout', 'hidden_layers', 'learning_rate', 'auc']));
    const file = await shoot('runs');
    expect(isPng(file)).toBe(true);
  });

  it('compares the three runs from the list, marking exactly the differing parameters', async () => {
    await page.goto(new URL('experiments/mlstack/runs', base).href);
    for (const runId of Object.keys(PARAMS)) await page.locator(`#runs input[value="${runId}"]`).check();
    await page.locator('#compare').click();
    await page.waitForURL(/\/compare\?run=run-a&run=run-b&run=run-c$/);
    expect(await page.locator('#overlay polyline').count()).toBe(3);
    const rows = await page.locator('#params tr.differs').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const runs = Object.values(records);
    const shown = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v));
    const expected = Object.keys(runs[0].params)
      .sort()
      .map((key) => ['≠', key, ...runs.map((r) => shown(r.params[key]))])
      .filter(([, , ...values]) => new Set(values).size > 1);
    expect(rows).toEqual(expected);
    expect(expected.map((row) => row[1])).toEqual(['dropout', 'hidden_layers', 'learning_rate']);
    expect(isPng(await shoot('compare'))).toBe(true);
  });

  it("shows a run's per-epoch curves", async () => {
    await page.goto(new URL('experiments/mlstack/runs/run-b', base).href);
    expect(await page.locator('#loss-curve polyline').count()).toBeGreaterThanOrEqual(1);
    expect(isPng(await shoot('run'))).toBe(true);
  });

  it('shows the version with where it is pinned and its report', async () => {
    await page.goto(new URL('experiments/mlstack/versions', base).href);
    await page.getByRole('link', { name: 'v1', exact: true }).click();
    await page.waitForURL(/\/versions\/v1$/);
    expect(await page.locator('#pinned tr', { hasText: 'pinned here' }).locator('td').first().textContent()).toBe('qa');
    const report = page.frameLocator('#report');
    await expect(report.locator('h1').textContent()).resolves.toMatch(/v1|run-a/);
    expect(await report.locator('#loss-curve').count()).toBe(1);
    expect(isPng(await shoot('version'))).toBe(true);
    expect(fs.readdirSync(shots).sort()).toEqual(['compare.png', 'run.png', 'runs.png', 'version.png']);
    for (const name of fs.readdirSync(shots)) expect(fs.statSync(path.join(shots, name)).size).toBeGreaterThan(1000);
  });

  it('fetched nothing but its own pages: no CDN, no script, no other host', async () => {
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((url) => !url.startsWith(base))).toEqual([]);
    expect(await page.locator('script').count()).toBe(0);
  });
});
