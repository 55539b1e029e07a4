/**
 * One-way dependencies: the layers docs/architecture.md draws are the layers the code keeps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../helpers/tmp';
import { folderCycles, folderOf, layerViolations, parseArchitecture, pictureProblems, relativeImports, sourceFiles, unplacedFiles, type ImportEdge } from './layers';

const ROOT = path.resolve(__dirname, '..', '..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
const SOURCE_FOLDERS = ['runtime', 'infra', 'config', 'containers'];

describe('docs/architecture.md', () => {
  const arch = parseArchitecture(DOC);

  it('names eleven layers, and its picture draws exactly the table', () => {
    expect(arch.layers.map((l) => l.level)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(arch.layers.find((l) => l.level === 10)).toMatchObject({ folders: ['infra/'], below: false, explicit: ['config/', 'runtime/contract/'] });
    expect(pictureProblems(arch)).toEqual([]);
  });

  it('every import in runtime/, infra/, config/ and containers/ points down the layers (or along an allowed sideways arrow)', () => {
    const edges = relativeImports(ROOT, SOURCE_FOLDERS);
    expect(edges.length).toBeGreaterThan(300);
    expect(layerViolations(arch, edges)).toEqual([]);
  });

  it('places every source file in a layer', () => {
    const files = SOURCE_FOLDERS.flatMap((folder) => sourceFiles(ROOT, folder));
    expect(files.length).toBeGreaterThan(100);
    expect(unplacedFiles(arch, files)).toEqual([]);
    expect(unplacedFiles(arch, ['runtime/features/x.ts', 'runtime/model/x.ts'])).toEqual(['runtime/features/x.ts: its folder is in no layer of docs/architecture.md']);
  });

  it('has no import cycle between runtime/ folders', () => {
    const runtimeFolder = (file: string) => (file.startsWith('runtime/') ? folderOf(arch, file)?.folder : undefined);
    expect(folderCycles(relativeImports(ROOT, ['runtime']), runtimeFolder)).toEqual([]);
  });
});

describe('the layer check', () => {
  const arch = parseArchitecture(DOC);
  const edge = (from: string, to: string): ImportEdge => ({ from, to });

  it('GIVEN imports up, across, past what infra may see and out of the layers WHEN checked THEN names each one', () => {
    const when = () =>
      layerViolations(arch, [
        edge('runtime/model/package.ts', 'runtime/training/preprocessing.ts'),
        edge('runtime/serving/load.ts', 'runtime/training/x.ts'),
        edge('infra/aws/stack.ts', 'runtime/common/logger.ts'),
        edge('runtime/storage/open.ts', 'bin/mlstack.js'),
        edge('runtime/features/x.ts', 'config/schema.ts'),
        edge('runtime/training/index.ts', 'runtime/model/package.ts'),
        edge('runtime/ingestion/entrypoint.ts', 'runtime/trigger/index.ts'),
        edge('infra/aws/stack.ts', 'runtime/contract/env.ts'),
      ]);
    expect(when()).toEqual([
      'infra/aws/stack.ts -> runtime/common/logger.ts: past what it may see, layer 10 infra/ imports layer 3 runtime/common/',
      'runtime/features/x.ts: its folder is in no layer of docs/architecture.md',
      'runtime/model/package.ts -> runtime/training/preprocessing.ts: up, layer 5 runtime/model/ imports layer 7 runtime/training/',
      'runtime/serving/load.ts -> runtime/training/x.ts: across, layer 7 runtime/serving/ imports layer 7 runtime/training/',
      'runtime/storage/open.ts -> bin/mlstack.js: imports a file outside the layers (runtime/storage/ may import layers below)',
    ]);
  });

  it('GIVEN a sideways arrow only one way WHEN trigger imports ingestion THEN that is across, and the pair is a cycle', () => {
    const edges = [edge('runtime/ingestion/entrypoint.ts', 'runtime/trigger/index.ts'), edge('runtime/trigger/http.ts', 'runtime/ingestion/retry.ts')];
    expect(layerViolations(arch, edges)).toEqual(['runtime/trigger/http.ts -> runtime/ingestion/retry.ts: across, layer 7 runtime/trigger/ imports layer 7 runtime/ingestion/']);
    expect(folderCycles(edges, (file) => folderOf(arch, file)?.folder)).toEqual([
      'cycle between runtime/ingestion/, runtime/trigger/: runtime/ingestion/ -> runtime/trigger/ (runtime/ingestion/entrypoint.ts imports runtime/trigger/index.ts); runtime/trigger/ -> runtime/ingestion/ (runtime/trigger/http.ts imports runtime/ingestion/retry.ts)',
    ]);
  });

  it('GIVEN a picture that draws a folder in the wrong row or an arrow the table does not list WHEN compared THEN says so', () => {
    const moved = DOC.replace('  5  runtime/model/ ', '  6  runtime/model/ ').replace('infra/ ──> runtime/contract/ config/', 'infra/ ──> runtime/contract/ runtime/common/ config/');
    expect(pictureProblems(parseArchitecture(moved))).toEqual([
      'runtime/model/ is layer 5 in the table but drawn in row 6',
      'runtime/context/ is layer 5 in the table but drawn in row 6',
      'row 10: the picture\'s arrow names "config/ runtime/common/ runtime/contract/" but "May import" lists "config/ runtime/contract/"',
    ]);
  });

  it('reads static, type-only, dynamic, require and export-from imports, and resolves index files', () => {
    const root = makeTempDir('mlstack-layers-');
    fs.mkdirSync(path.join(root, 'runtime', 'a'), { recursive: true });
    fs.mkdirSync(path.join(root, 'runtime', 'b'), { recursive: true });
    fs.writeFileSync(path.join(root, 'runtime', 'b', 'index.ts'), 'export const b = 1;\n');
    fs.writeFileSync(path.join(root, 'runtime', 'b', 'c.ts'), 'export const c = 1;\n');
    fs.writeFileSync(
      path.join(root, 'runtime', 'a', 'x.ts'),
      "import type { b } from '../b';\nexport { c } from '../b/c';\nconst d = () => import('../b/c');\nconst e = require('../b');\nimport * as fs from 'node:fs';\n",
    );
    expect(relativeImports(root, ['runtime']).map((e) => `${e.from} -> ${e.to}`)).toEqual([
      'runtime/a/x.ts -> runtime/b/index.ts',
      'runtime/a/x.ts -> runtime/b/c.ts',
      'runtime/a/x.ts -> runtime/b/c.ts',
      'runtime/a/x.ts -> runtime/b/index.ts',
    ]);
  });
});
