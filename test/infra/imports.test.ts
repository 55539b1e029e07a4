/**
 * infra/ sits above the runtime: it reads the config and the contract (the names stacks and containers
 * share), never the runtime's internals, so a stack can be synthesized without loading training or serving.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const ALLOWED = ['config/', 'runtime/contract/', 'infra/'];

/** Every .ts file below `dir`, as absolute paths. */
function typescriptBelow(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(dir, file));
}

/** The relative module paths a file imports or re-exports, resolved against the repository root. */
function relativeImports(file: string, source: string): string[] {
  const specifiers = [...source.matchAll(/(?:\bfrom|\bimport|\brequire\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.relative(ROOT, path.resolve(path.dirname(file), s)).split(path.sep).join('/'));
}

test('relativeImports finds import, export-from and require specifiers', () => {
  // GIVEN a file under infra/aws importing three ways
  const file = path.join(ROOT, 'infra', 'aws', 'x.ts');
  const source = "import { a } from '../../config/load';\nexport { b } from './y';\nconst c = require('../../runtime/serving/server');\nimport 'aws-cdk-lib';";
  // WHEN
  const found = relativeImports(file, source);
  // THEN packages are left out and paths are repository-relative
  expect(found).toEqual(['config/load', 'infra/aws/y', 'runtime/serving/server']);
});

test('infra/ imports only config/, runtime/contract/ and itself', () => {
  // GIVEN every source file under infra/
  const files = typescriptBelow(path.join(ROOT, 'infra'));
  expect(files.length).toBeGreaterThan(20);
  // WHEN their relative imports are resolved
  const outside = files.flatMap((file) =>
    relativeImports(file, fs.readFileSync(file, 'utf8'))
      .filter((target) => !ALLOWED.some((layer) => target.startsWith(layer)))
      .map((target) => `${path.relative(ROOT, file)} -> ${target}`),
  );
  // THEN none reaches another layer
  expect(outside).toEqual([]);
});
