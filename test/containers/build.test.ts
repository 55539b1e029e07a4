import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLES, buildBundle, bundleCodeVersion, parseBuildArgs, REPO_ROOT, tensorflowVersions } from '../../containers/build';
import { makeTempDir } from '../helpers/tmp';

describe('containers/build.ts', () => {
  test('one bundle per handler; each image folder has a Dockerfile that bundles its handler', () => {
    expect(BUNDLES.map((b) => `${b.name}:${b.command}`)).toEqual(['ingestion:ingest', 'serving:serve', 'training:train', 'training-gpu:train']);
    for (const image of ['ingestion', 'serving', 'training-gpu']) {
      const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'containers', image, 'Dockerfile'), 'utf8');
      expect(dockerfile).toContain(`npm run bundle -- ${image} --out /out`);
      expect(dockerfile).toContain(`COPY --from=build --chown=root:root /out/${image}/ /app/`);
      expect(dockerfile).toMatch(/^HEALTHCHECK /m);
      expect(dockerfile).toMatch(/^USER (mlstack|\$\{RUN_AS\})$/m);
      expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim$/m);
      expect(dockerfile).not.toMatch(/^FROM \S+:latest/m);
    }
    const gpu = fs.readFileSync(path.join(REPO_ROOT, 'containers', 'training-gpu', 'Dockerfile'), 'utf8');
    expect(gpu).toMatch(/^ARG CUDA_IMAGE=nvidia\/cuda:11\.2\.2-cudnn8-runtime-ubuntu20\.04$/m);
    expect(gpu).toContain('npm install --omit=dev');
  });

  test('arguments: bundle names and --out', () => {
    expect(parseBuildArgs([])).toEqual({ names: ['ingestion', 'serving', 'training', 'training-gpu'], out: path.join(REPO_ROOT, 'dist', 'bundles') });
    expect(parseBuildArgs(['serving', '--out', '/tmp/b'])).toEqual({ names: ['serving'], out: '/tmp/b' });
    expect(() => parseBuildArgs(['gpu'])).toThrow('unknown bundle "gpu": expected ingestion, serving, training, training-gpu or --out <dir>');
  });

  test('code version: MLSTACK_CODE_VERSION (image builds) wins over version+commit', () => {
    expect(bundleCodeVersion(REPO_ROOT, { MLSTACK_CODE_VERSION: 'v9' })).toBe('v9');
    expect(bundleCodeVersion(REPO_ROOT, {})).toMatch(/^\d+\.\d+\.\d+(\+[0-9a-f]{12})?$/);
    expect(tensorflowVersions()).toEqual({
      '@tensorflow/tfjs-core': expect.stringMatching(/^4\.22\./),
      '@tensorflow/tfjs-layers': expect.stringMatching(/^4\.22\./),
      '@tensorflow/tfjs-backend-cpu': expect.stringMatching(/^4\.22\./),
      '@tensorflow/tfjs-backend-wasm': expect.stringMatching(/^4\.22\./),
      '@tensorflow/tfjs-node-gpu': expect.stringMatching(/^4\.22\./),
    });
  });

  test('a missing entrypoint is named', async () => {
    await expect(
      buildBundle({ name: 'serving', entry: 'runtime/nothing/entrypoint.ts', command: 'serve', wasm: false, externalTensorflow: false }, makeTempDir()),
    ).rejects.toThrow('bundle serving: entrypoint runtime/nothing/entrypoint.ts does not exist yet');
  });
});
