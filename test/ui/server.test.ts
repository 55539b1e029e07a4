/**
 * `mlstack ui` over a local folder: every route, the differences it marks, escaping, and the errors it answers.
 * Runs and versions are written with the real RunTracker and ModelRegistry (a tiny verified package).
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { resolveContext } from '../../runtime/context';
import { createLogger } from '../../runtime/common/logger';
import { ModelRegistry } from '../../runtime/registry';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { RunTracker } from '../../runtime/tracking';
import { startUiServer, type RunningUi } from '../../runtime/ui/server';
import { runCli } from '../helpers/cli';
import { runRecord } from '../helpers/run-record';
import { writeTinyPackage } from '../helpers/tiny-package';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

describe('mlstack ui server (local folder)', () => {
  let ui: RunningUi;
  const get = async (route: string, init?: RequestInit) => {
    const res = await fetch(new URL(route, ui.url), init);
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  beforeAll(async () => {
    const workdir = makeTempDir('mlstack-ui-');
    const configDir = copyConfig();
    editJson(path.join(configDir, 'environments', 'staging.json'), (doc) => (doc.model_version = 'v1'));
    const store = new LocalObjectStore(workdir);
    const tracker = new RunTracker(store, 'mlstack');
    await tracker.write(runRecord('run-a', { learning_rate: 0.01, hidden_layers: [8], seed: 42 }, 0.9));
    await tracker.write(runRecord('run-b', { learning_rate: 0.003, hidden_layers: [8], seed: 42 }, 0.85));
    await tracker.write(runRecord('run-<x>', { learning_rate: '<script>alert(1)</script>', seed: 42 }, 0.5));
    await new RunTracker(store, 'other').write(runRecord('o1', { seed: 1 }, 0.7, 'other'));
    const registry = new ModelRegistry(store, 'registry/', 'mlstack');
    for (const [run, auc] of [['run-a', 0.9], ['run-b', 0.85]] as const) {
      await writeTinyPackage(store, `models/${run}/`, { runId: run, reportHtml: `<html><body><h1 id="report-title">report of ${run}</h1></body></html>` });
      await registry.register({ project: 'mlstack', metrics: { auc }, lineage: { data_hash: 'abc', config_hash: 'def', code_version: '0.1.0', run_id: run }, packagePrefix: `models/${run}/` });
    }
    const ctx = await resolveContext({ configDir, env: 'dev', cloud: 'local', workdir });
    ui = await startUiServer({ ctx, port: 0, logger: createLogger('ui-test') });
  });
  afterAll(() => ui?.close());

  it('binds loopback and lists the experiments with their run and version counts', async () => {
    expect(new URL(ui.url).hostname).toBe('127.0.0.1');
    const home = await get('/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(home.text).toMatch(/<td>mlstack<\/td><td><a href="\/experiments\/mlstack\/runs">3 runs<\/a><\/td><td><a href="\/experiments\/mlstack\/versions">2 versions<\/a>/);
    expect(home.text).toContain('<td>other</td><td><a href="/experiments/other/runs">1 run</a></td><td><a href="/experiments/other/versions">0 versions</a>');
  });

  it('lists runs with their differing params, escaping every value', async () => {
    const runs = await get('/experiments/mlstack/runs');
    expect(runs.text).toContain('<a href="/experiments/mlstack/runs/run-a">run-a</a>');
    expect(runs.text).toContain('the ones that differ between runs (hidden_layers, learning_rate)');
    expect(runs.text).not.toContain('<script>');
    expect(runs.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(runs.text).toContain('run-&lt;x&gt;');
  });

  it("plots a run's per-epoch curves and shows its records", async () => {
    const run = await get('/experiments/mlstack/runs/run-a');
    expect(run.status).toBe(200);
    expect(run.text).toContain('<svg id="loss-curve"');
    expect(run.text).toMatch(/<svg id="curve-lr"[\s\S]*<svg id="curve-rss_mb"/);
    expect(run.text).toContain('<td>learning_rate</td><td>0.01</td>');
    expect(run.text).toContain('<td>code_version</td><td>0.1.0</td>');
  });

  it('compares runs side by side, marking exactly the rows that differ', async () => {
    const page = await get('/experiments/mlstack/compare?run=run-a&run=run-b');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<svg id="overlay"');
    expect(page.text).toContain('<tr class="differs"><td>≠</td><td>learning_rate</td><td>0.01</td><td>0.003</td></tr>');
    expect(page.text).toContain('<tr><td></td><td>seed</td><td>42</td><td>42</td></tr>');
    expect(page.text).toContain('<tr class="differs"><td>≠</td><td>auc</td><td>0.9</td><td>0.85</td></tr>');
  });

  it('shows versions with where each is pinned, the report in a frame, and versions side by side', async () => {
    const list = await get('/experiments/mlstack/versions');
    expect(list.text).toMatch(/<a href="\/experiments\/mlstack\/versions\/v1">v1<\/a><\/td><td>[^<]+<\/td><td><a href="\/experiments\/mlstack\/runs\/run-a">run-a<\/a><\/td><td>staging<\/td>/);
    const version = await get('/experiments/mlstack/versions/v1');
    expect(version.text).toContain('<tr><td>staging</td><td>v1</td><td>pinned here</td></tr>');
    expect(version.text).toContain('<tr><td>prod</td><td>-</td><td></td></tr>');
    expect(version.text).toContain('<iframe id="report" title="report of v1" sandbox="allow-same-origin" src="/experiments/mlstack/versions/v1/report">');
    const report = await get('/experiments/mlstack/versions/v1/report');
    expect(report.text).toContain('<h1 id="report-title">report of run-a</h1>');
    expect(report.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    const both = await get('/experiments/mlstack/versions-compare?version=v1&version=v2');
    expect(both.text).toContain('<tr class="differs"><td>≠</td><td>pinned in</td><td>staging</td><td>-</td></tr>');
    expect(both.text).toContain('<tr class="differs"><td>≠</td><td>run_id</td><td>run-a</td><td>run-b</td></tr>');
  });

  it("shows another project's runs from the same store", async () => {
    expect((await get('/experiments/other/versions')).text).toContain('No registered versions yet');
    const runs = (await get('/experiments/other/runs')).text;
    expect(runs).toContain('<a href="/experiments/other/runs/o1">o1</a>');
    expect(runs).not.toContain('run-a');
  });

  it.each([
    ['/experiments/mlstack/runs/run-zzz', 404, /run &quot;run-zzz&quot; is not tracked for project &quot;mlstack&quot;; tracked runs: run-&lt;x&gt;, run-a, run-b/],
    ['/experiments/mlstack/versions/v9', 404, /model version &quot;v9&quot; is not registered.*known versions: v1, v2/],
    ['/experiments/mlstack/compare?run=run-a', 400, /compare needs at least two runs: tick two or more on the list \(got 1/],
    ['/experiments/mlstack/compare?run=run-a&run=..%2Fx', 400, /\?run=..\/x is not a valid run id/],
    ['/experiments/NOPE/runs', 404, /no page at \/experiments\/NOPE\/runs: start from \/ \(experiments\)/],
  ])('answers %s with %i and a message saying what to do', async (route, status, message) => {
    const page = await get(route);
    expect(page.status).toBe(status);
    expect(page.text).toMatch(message);
  });

  it('is read-only: POST answers 405; HEAD answers without a body', async () => {
    const post = await get('/', { method: 'POST', body: 'x' });
    expect([post.status, post.text]).toEqual([405, 'mlstack ui is read-only: POST is not answered, only GET\n']);
    const head = await get('/experiments/mlstack/runs', { method: 'HEAD' });
    expect([head.status, head.text]).toEqual([200, '']);
  });
});

describe('mlstack ui (the command)', () => {
  it('exits 2 naming --port when the port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const run = await runCli(['ui', '--workdir', makeTempDir('mlstack-ui-'), '--config-dir', copyConfig(), '--port', String(port)]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`mlstack ui cannot listen on 127.0.0.1:${port} (EADDRINUSE): pass another --port (0 picks a free one) or --host`);
    } finally {
      taken.close();
    }
  });
});
