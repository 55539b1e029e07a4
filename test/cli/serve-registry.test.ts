import { pathToFileURL } from 'node:url';
import { startServeCli } from '../helpers/cli';
import { ModelRegistry } from '../../runtime/registry';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { sampleRows, writeTestPackage } from '../serving/fixtures';
import { makeTempDir } from '../helpers/tmp';

describe('mlstack serve --registry-uri', () => {
  it('resolves a version in a registry outside the workdir and serves it', async () => {
    const root = makeTempDir();
    const store = new LocalObjectStore(root);
    await writeTestPackage(makeTempDir(), { store, prefix: 'models/run-a/' });
    const registered = await new ModelRegistry(store).register({
      project: 'mlstack',
      packagePrefix: 'models/run-a/',
      metrics: { auc: 0.9 },
      lineage: { data_hash: 'd', config_hash: 'c', code_version: 'test', run_id: 'run-a' },
    });

    const registryUri = pathToFileURL(root).href + '/';
    const serve = startServeCli(['--model', registered.version, '--registry-uri', registryUri, '--port', '0', '--host', '127.0.0.1', '--workdir', makeTempDir(), '--workers', '1']);
    try {
      const url = await serve.url;
      const res = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify(sampleRows(1)), headers: { 'Content-Type': 'application/json' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('v1');
      process.emit('SIGTERM', 'SIGTERM');
      expect(await serve.running).toBe(0);
    } finally {
      serve.restore();
    }
  });
});
