import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { unifiedDiff } from '../../runtime/promotion/diff';
import { checkMetricGates, checkOrderGate, predecessorOf } from '../../runtime/promotion/gates';
import { compareUrl, parseRepoOption, parseRepoSlug } from '../../runtime/promotion/github';
import { replaceJsonValues } from '../../runtime/promotion/json-edit';
import { listModelVersions, loadModelVersion, openRegistryLocation } from '../../runtime/promotion/model-source';
import { makeTempDir } from '../helpers/tmp';
import { registerVersion } from './fixture';

describe('replaceJsonValues', () => {
  const text = '{\n  "a": null,\n  "list": [1, 2],\n  "x": { "image_tag": "latest", "n": -1.5e3 }\n}\n';

  test('replaces values in place and keeps the rest of the text byte for byte', () => {
    const out = replaceJsonValues(text, [
      { path: ['a'], value: 'v1' },
      { path: ['x', 'image_tag'], value: 't"2' },
      { path: ['list', '1'], value: 7 },
    ]);
    expect(out).toBe('{\n  "a": "v1",\n  "list": [1, 7],\n  "x": { "image_tag": "t\\"2", "n": -1.5e3 }\n}\n');
    expect(JSON.parse(out).x.image_tag).toBe('t"2');
  });

  test('names a missing key and invalid JSON', () => {
    expect(() => replaceJsonValues(text, [{ path: ['x', 'nope'], value: 1 }], 'dev.json')).toThrow('dev.json has no key "x.nope" to update');
    expect(() => replaceJsonValues('{"a": }', [], 'bad.json')).toThrow(/bad.json is not valid JSON: value expected at offset 6/);
    expect(() => replaceJsonValues('{"a": "x', [])).toThrow(/unexpected end of string/);
    expect(() => replaceJsonValues('{"a": 1} 2', [])).toThrow(/end of file expected/);
    expect(() => replaceJsonValues('{1: 2}', [])).toThrow(/property name expected/);
    expect(() => replaceJsonValues('[1 2]', [])).toThrow(/comma expected/);
    expect(() => replaceJsonValues('{"a": 1, // why\n}', [])).toThrow(/invalid comment token/);
    expect(() => replaceJsonValues('', [], 'empty.json')).toThrow(/empty.json is not valid JSON/);
    expect(() => replaceJsonValues(text, [{ path: ['list', 'first'], value: 1 }], 'dev.json')).toThrow('dev.json has no key "list.first" to update');
  });

  test('round-trips any JSON document: editing the root keys gives what JSON.parse + assign gives', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue()), fc.integer({ min: 0, max: 4 }), (doc, indent) => {
        const source = JSON.stringify(doc, null, indent);
        const edits = Object.keys(doc).map((key) => ({ path: [key], value: 'edited' }));
        const out = JSON.parse(replaceJsonValues(source, edits));
        expect(out).toEqual(Object.fromEntries(Object.keys(doc).map((k) => [k, 'edited'])));
      }),
      { numRuns: 200 },
    );
  });
});

describe('unifiedDiff', () => {
  test('prints git-style hunks with context, and nothing for equal texts', () => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].join('\n') + '\n';
    const b = a.replace('2\n', 'two\n').replace('10\n', '10\n11\n');
    expect(unifiedDiff(a, b, 'f.txt', 1)).toBe(
      ['--- a/f.txt', '+++ b/f.txt', '@@ -1,3 +1,3 @@', ' 1', '-2', '+two', ' 3', '@@ -10,1 +10,2 @@', ' 10', '+11', ''].join('\n'),
    );
    expect(unifiedDiff(a, a, 'f.txt')).toBe('');
    expect(unifiedDiff('', 'x\n', 'new.txt')).toBe('--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+x\n');
    expect(unifiedDiff('x\n', '', 'gone.txt')).toBe('--- a/gone.txt\n+++ b/gone.txt\n@@ -1,1 +0,0 @@\n-x\n');
  });
});

describe('gates', () => {
  test('floors for quality metrics, ceilings for error metrics, missing metrics fail', () => {
    const results = checkMetricGates({ auc: 0.8, rmse: 0.4, accuracy: Number.NaN }, { auc: 0.75, rmse: 0.3, f1: 0.5, accuracy: 0.1 });
    expect(results.map((r) => [r.metric, r.comparison, r.passed])).toEqual([
      ['auc', '>=', true],
      ['rmse', '<=', false],
      ['f1', '>=', false],
      ['accuracy', '>=', false],
    ]);
  });

  test('latency and size gates are ceilings; {min, max} gives explicit bounds', () => {
    const metrics = { predict_latency_p99_ms: 3.2, model_size_bytes: 90_000, auc: 0.9 };
    const results = checkMetricGates(metrics, { predict_latency_p99_ms: 100, model_size_bytes: 50_000, auc: { min: 0.85, max: 0.95 } });
    expect(results.map((r) => [r.metric, r.comparison, r.threshold, r.passed])).toEqual([
      ['predict_latency_p99_ms', '<=', 100, true],
      ['model_size_bytes', '<=', 50_000, false],
      ['auc', '>=', 0.85, true],
      ['auc', '<=', 0.95, true],
    ]);
    expect(checkMetricGates({ predict_latency_p99_ms: 120 }, { predict_latency_p99_ms: { max: 100 } })[0].passed).toBe(false);
  });

  test('order dev -> qa -> staging -> prod', () => {
    expect(predecessorOf('dev')).toBeNull();
    expect(predecessorOf('prod')).toBe('staging');
    const pinned = { dev: 'v2', qa: 'v1', staging: null, prod: null };
    expect(checkOrderGate('dev', 'v3', pinned)).toBeNull();
    expect(checkOrderGate('qa', 'v2', pinned)).toBeNull();
    expect(checkOrderGate('staging', 'v2', pinned)?.message).toContain('pinned in qa before staging; qa pins v1');
  });
});

describe('GitHub helpers', () => {
  test.each([
    ['https://github.com/acme/mlstack.git', 'acme', 'mlstack'],
    ['https://x-access-token:abc@github.com/acme/ml.stack', 'acme', 'ml.stack'],
    ['git@github.com:acme/mlstack.git', 'acme', 'mlstack'],
    ['ssh://git@github.example.com/acme/mlstack.git', 'acme', 'mlstack'],
  ])('parses %s', (url, owner, repo) => {
    expect(parseRepoSlug(url)).toEqual({ owner, repo });
  });

  test('local paths are not GitHub repositories; --repo must be owner/name', () => {
    expect(parseRepoSlug('/tmp/origin.git')).toBeNull();
    expect(parseRepoOption('acme/mlstack')).toEqual({ owner: 'acme', repo: 'mlstack' });
    expect(() => parseRepoOption('acme')).toThrow('--repo "acme" is not owner/name');
    expect(compareUrl({ owner: 'a', repo: 'b' }, 'main', 'promote/prod/v1', 'https://ghe.example/')).toBe(
      'https://ghe.example/a/b/compare/main...promote/prod/v1?expand=1',
    );
  });
});

describe('registry records', () => {
  test('--registry-uri file:// and --workdir find the same records; "latest"; bad records are named', async () => {
    const workdir = makeTempDir('mlstack-registry-');
    const viaWorkdir = await openRegistryLocation({ workdir });
    await expect(loadModelVersion(viaWorkdir, 'mlstack', 'latest')).rejects.toThrow(/has no versions of mlstack: train and register one first/);
    await registerVersion(viaWorkdir, { version: 'v1', metrics: { auc: 0.9 } });
    await registerVersion(viaWorkdir, { version: 'v2', metrics: { auc: 0.8 } });
    const viaUri = await openRegistryLocation({ registryUri: `file://${workdir}/registry` });
    expect((await loadModelVersion(viaUri, 'mlstack', 'v1')).lineage.run_id).toBe('run-v1');
    expect((await loadModelVersion(viaUri, 'mlstack', 'latest')).version).toBe('v2');
    // The store root holding registry/, as `mlstack serve --registry-uri` and MLSTACK_REGISTRY_URI take it.
    const viaRoot = await openRegistryLocation({ registryUri: `file://${workdir}/` });
    expect((await loadModelVersion(viaRoot, 'mlstack', 'latest')).version).toBe('v2');
    expect(await listModelVersions(viaWorkdir, 'mlstack')).toEqual(['v1', 'v2']);
    await expect(loadModelVersion(viaWorkdir, 'other', 'v1')).rejects.toThrow(/"v1" is not registered for project "other"/);
    await expect(loadModelVersion(viaWorkdir, 'mlstack', '../x')).rejects.toThrow(/"..\/x" is not registered/);

    const dir = path.join(workdir, 'registry', 'mlstack', 'versions');
    fs.writeFileSync(path.join(dir, 'v3.json'), '{');
    await expect(loadModelVersion(viaWorkdir, 'mlstack', 'v3')).rejects.toThrow(/v3.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'v4.json'), JSON.stringify({ version: 'v4', project: 'mlstack' }));
    await expect(loadModelVersion(viaWorkdir, 'mlstack', 'v4')).rejects.toThrow(/registry record mlstack\/v4 at file:.*: metrics:/);
  });
});
