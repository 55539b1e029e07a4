/**
 * The training-gpu bundle, as the GPU image ships it: @tensorflow/* external, run with
 * node_modules holding only the packages its package.json names (minus the native
 * tfjs-node-gpu, which cannot install here), so it must fall back to the wasm backend
 * and still honour the SageMaker training contract (<root>/model written).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildIsolatedBundle, expectModelPackage, REPO_NODE_MODULES, runTraining } from './bundle-helpers';

/** The dependency closure of `names`, resolved in the repository's (hoisted) node_modules. */
function dependencyClosure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !fs.existsSync(path.join(REPO_NODE_MODULES, name, 'package.json'))) return;
    seen.add(name);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_NODE_MODULES, name, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep);
  };
  names.forEach(visit);
  return [...seen].sort();
}

describe('training-gpu bundle', () => {
  let dir: string;
  let install: Record<string, string>;
  beforeAll(async () => {
    ({ dir } = await buildIsolatedBundle('training-gpu'));
    install = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).dependencies;
    // The image's `npm install` of package.json, minus the native package that cannot install here.
    const available = Object.keys(install).filter((name) => name !== '@tensorflow/tfjs-node-gpu');
    for (const name of dependencyClosure(available)) {
      fs.mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), { recursive: true });
      fs.symlinkSync(path.join(REPO_NODE_MODULES, name), path.join(dir, 'node_modules', name), 'dir');
    }
  }, 180_000);

  test('package.json pins tfjs-node-gpu to the bundled tfjs version; no wasm copied', () => {
    expect(install['@tensorflow/tfjs-node-gpu']).toBe(install['@tensorflow/tfjs-core']);
    expect(install['@tensorflow/tfjs-core']).toMatch(/^4\.22\./);
    expect(fs.existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))).toBe(false);
  });

  test('`node main.js train` trains with the installed tfjs (wasm, since no GPU package is present)', async () => {
    const { root, output, code } = await runTraining(dir);
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    const metadata = expectModelPackage(root, output);
    expect(metadata.backend).toBe('wasm');
    expect(output).toMatch(/"name":"tensorflow-gpu","reason":"not installed".*GPU backend not installed; using wasm/);
  }, 120_000);
});
