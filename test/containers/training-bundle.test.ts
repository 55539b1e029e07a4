/**
 * The self-contained training bundle (tfjs and the wasm binaries bundled), run with
 * node from a folder with NO node_modules (no Docker engine here) under the SageMaker
 * training contract: `node main.js train` with a tiny /opt/ml-layout folder
 * (MLSTACK_SM_ROOT) must write the model package to <root>/model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildIsolatedBundle, containerEnv, expectModelPackage, runTraining, sageMakerRoot, startNode } from './bundle-helpers';

describe('training bundle (self-contained)', () => {
  let dir: string;
  let files: string[];
  beforeAll(async () => {
    ({ dir, built: { files } } = await buildIsolatedBundle('training'));
  }, 180_000);

  test('ships the wasm binaries beside main.js', () => {
    expect(files).toEqual(expect.arrayContaining(['main.js', 'tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']));
    expect(files.some((f) => f === 'package.json')).toBe(false);
  });

  test('`node main.js train` writes the model to <root>/model using the bundled wasm backend', async () => {
    const { root, output, code } = await runTraining(dir);
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    const metadata = expectModelPackage(root, output);
    expect(metadata.backend).toBe('wasm');
  }, 120_000);

  test('a training failure is written to <root>/output/failure', async () => {
    const root = sageMakerRoot();
    fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ epochz: '2' }));
    const proc = startNode(dir, ['train'], containerEnv({ MLSTACK_SM_ROOT: root, MLSTACK_CONFIG_DIR: path.join(dir, 'config') }));
    expect((await proc.exited).code).toBe(1);
    expect(fs.readFileSync(path.join(root, 'output', 'failure'), 'utf8')).toMatch(/unknown hyperparameter epochz/);
  });
});
