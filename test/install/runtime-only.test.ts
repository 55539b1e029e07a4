import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as ts from 'typescript';
import { ENV } from '../../runtime/contract/env';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const OMIT_DEV = path.join(__dirname, 'omit-dev.js');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** What deploys and checks the stacks: a runtime user installs none of it. */
const INFRA_PACKAGES = ['aws-cdk-lib', '@aws-cdk/aws-sagemaker-alpha', 'cdk-nag', 'cdktf', '@cdktf/provider-google', '@cdktf/provider-azurerm', 'constructs'];
/** Native TF.js backends: loaded by name when an image installs them (runtime/training/backend.ts), never imported. */
const LOADED_WHEN_INSTALLED = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

function resolveRelative(fromFile: string, specifier: string): string {
  const base = path.resolve(path.dirname(fromFile), specifier);
  const found = [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js')].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  if (!found) throw new Error(`${path.relative(ROOT, fromFile)} imports ${specifier}, which resolves to no file`);
  return found;
}

const packageName = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * Every module specifier a file names: import/export ... from, import(), require(), typeof import(). A full
 * parse, not ts.preProcessFile: its scanner misses the imports that follow a regex literal holding a backquote.
 */
function specifiersOf(file: string): string[] {
  const kind = file.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, kind);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && isLoader(node.expression) && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      out.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const isLoader = (callee: ts.Expression) => callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require');

/**
 * The packages named by the modules reachable from `entry` through relative imports of every kind (static,
 * type-only, import(), require()), with the first file that names each.
 */
function packagesReachableFrom(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const fileName of specifiersOf(file)) {
      if (fileName.startsWith('.')) queue.push(resolveRelative(file, fileName));
      else if (!fileName.startsWith('node:') && !builtinModules.includes(fileName) && !packages.has(packageName(fileName))) {
        packages.set(packageName(fileName), path.relative(ROOT, file));
      }
    }
  }
  return packages;
}

describe('the runtime-only install (npm ci --omit=dev)', () => {
  it('leaves out the infra packages: they are devDependencies', () => {
    for (const name of INFRA_PACKAGES) {
      expect({ name, dependency: pkg.dependencies[name] }).toEqual({ name, dependency: undefined });
      expect(pkg.devDependencies[name]).toBeDefined();
    }
  });

  it('holds every package a module reachable from bin/mlstack.js names', () => {
    const reachable = packagesReachableFrom(path.join(ROOT, 'bin', 'mlstack.js'));
    expect(reachable.has('commander')).toBe(true);
    for (const lazilyLoaded of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'pg', 'mysql2', '@aws-sdk/client-s3']) expect(reachable.has(lazilyLoaded)).toBe(true);
    const missing = [...reachable].filter(([name]) => !(name in pkg.dependencies) && !LOADED_WHEN_INSTALLED.includes(name)).map(([name, file]) => `${name} (named by ${file})`);
    expect(missing).toEqual([]);
  });

  describe('runs the CLI with every devDependency unresolvable', () => {
    const run = promisify(execFile);
    const workdir = makeTempDir('mlstack-runtime-only-');
    const configDir = copyConfig();
    editJson(path.join(configDir, 'pipeline.json'), (doc) => {
      doc.training_params.epochs = 1;
    });
    const mlstack = (...args: string[]) =>
      run(process.execPath, ['--require', OMIT_DEV, path.join(ROOT, 'bin', 'mlstack.js'), ...args], { cwd: ROOT, env: { ...process.env, [ENV.logLevel]: 'silent' } });
    const common = ['--env', 'dev', '--cloud', 'local', '--workdir', workdir, '--config-dir', configDir];

    it('config validate', async () => {
      const { stdout } = await mlstack('config', 'validate', '--config-dir', configDir);
      expect(stdout).toMatch(/^config OK: /);
    });

    it('ingest, then train on what it wrote', async () => {
      const api = await startSampleApi({ rows: 600 });
      try {
        const ingested = JSON.parse((await mlstack('ingest', ...common, '--source', api.url, '--json')).stdout);
        expect(ingested.rows.fetched).toBe(600);
      } finally {
        await api.close();
      }
      const trained = JSON.parse((await mlstack('train', ...common, '--json')).stdout);
      expect(trained).toMatchObject({ epochs: 1, backend: expect.any(String) });
      expect(fs.existsSync(path.join(workdir, trained.packagePrefix))).toBe(true);
    });

    it('serve --help', async () => {
      const { stdout } = await mlstack('serve', '--help');
      expect(stdout).toContain('--registry-uri <uri>');
    });

    it('(the hook works: a devDependency does not load)', async () => {
      await expect(run(process.execPath, ['--require', OMIT_DEV, '-e', "require('aws-cdk-lib')"])).rejects.toThrow(/node_modules\/aws-cdk-lib is a devDependency/);
    });
  });
});
