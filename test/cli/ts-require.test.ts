import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');

/** Requires `file` in a fresh node with bin/ts-require.js registered on `cacheDir`; prints what the module exports as `value`. */
function load(file: string, cacheDir: string) {
  const script = `require(${JSON.stringify(path.join(ROOT, 'bin', 'ts-require.js'))}).register(${JSON.stringify(cacheDir)}); console.log(JSON.stringify(require(${JSON.stringify(file)}).value));`;
  return spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
}

describe('bin/ts-require.js', () => {
  const dir = makeTempDir('mlstack-ts-require-');
  const cacheDir = path.join(dir, 'cache');
  const entry = path.join(dir, 'entry.ts');
  fs.writeFileSync(path.join(dir, 'shape.ts'), 'export interface Shape { sides: number }\nexport const square: Shape = { sides: 4 };\n');

  it('loads TypeScript that imports TypeScript by an extensionless path, and caches each compiled file', () => {
    fs.writeFileSync(entry, "import { square, type Shape } from './shape';\nconst copy: Shape = { ...square };\nexport const value = copy.sides;\n");
    const first = load(entry, cacheDir);
    expect(first.stderr).toBe('');
    expect(first.stdout.trim()).toBe('4');
    expect(fs.readdirSync(cacheDir)).toHaveLength(2);
  });

  it('compiles a changed file again (the cache is keyed by content) and reuses the unchanged one', () => {
    fs.writeFileSync(entry, "import { square } from './shape';\nexport const value = square.sides * 10;\n");
    const second = load(entry, cacheDir);
    expect(second.stdout.trim()).toBe('40');
    expect(fs.readdirSync(cacheDir)).toHaveLength(3);
  });

  it('reports errors at their line in the .ts source', () => {
    const failing = path.join(dir, 'failing.ts');
    fs.writeFileSync(failing, "type Unused = { a: string };\n\n\nexport const value: number = (() => {\n  throw new Error('boom');\n})();\n");
    const run = load(failing, cacheDir);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`${failing}:5`);
  });
});
