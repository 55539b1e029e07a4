import * as path from 'node:path';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { runCli } from '../helpers/cli';

describe('mlstack CLI', () => {
  it('validates the repository config', async () => {
    const r = await runCli(['config', 'validate', '--config-dir', path.resolve(__dirname, '../../config')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/config OK: .*features: 6, pinned models: dev=\(none\)/);
  });

  it('exits 2 and lists every problem for a broken config', async () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'dev.json'), (d) => (d.aws.training.instance_count = 'two'));
    const r = await runCli(['config', 'validate', '--config-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/dev\.json: aws\.training\.instance_count: expected number, found "two"/);
  });

  it('refuses an ingestion config that selects a field the source does not send, before any request', async () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'parser.json'), (d) => d.selected_fields.push('lifetime_value'));
    const api = await startSampleApi({ rows: 100 });
    try {
      const r = await runCli(['ingest', '--env', 'dev', '--cloud', 'local', '--source', api.url, '--config-dir', dir, '--workdir', makeTempDir()]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/lifetime_value/);
      expect(api.requests).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('exits 2 for an unknown command and prints help', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('exits 1 with the message for a runtime failure', async () => {
    const r = await runCli(['ingest', '--env', 'dev', '--cloud', 'local', '--source', path.join(makeTempDir(), 'missing.csv'), '--workdir', makeTempDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing\.csv/);
  });
});
