/**
 * `npm run bundle` (node bin/run-ts.js containers/build.ts [names...] [--out dist/bundles]):
 * one esbuild bundle per handler, each a folder an image copies as is:
 *
 *   <out>/<name>/main.js        the handler and everything it imports (node <dir>/main.js <command>)
 *   <out>/<name>/main.js.map    source map (run node with --enable-source-maps)
 *   <out>/<name>/*.wasm         the tfjs wasm backend binaries (bundles that train)
 *   <out>/<name>/config/        config/*.json and environments/*.json (MLSTACK_CONFIG_DIR)
 *   <out>/<name>/bundle.json    what was built: name, command, code version, externals
 *   <out>/<name>/package.json   (training-gpu only) the exact @tensorflow packages the image installs
 *
 * The native TensorFlow bindings are never bundled: the training-gpu image installs
 * @tensorflow/tfjs-node-gpu at image build. `training-gpu` also leaves @tensorflow/*
 * external, so tfjs-core is one copy shared with the installed native backend.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { ENV } from '../runtime/contract/env';

export const REPO_ROOT = path.resolve(__dirname, '..');

export interface BundleSpec {
  /** Folder name under the output directory. */
  name: 'ingestion' | 'serving' | 'training' | 'training-gpu';
  /** The handler's entrypoint (relative to the repository root). */
  entry: string;
  /** The argument the image passes: `node main.js <command>`. */
  command: 'ingest' | 'serve' | 'train';
  /** Copy the tfjs wasm binaries beside main.js. */
  wasm: boolean;
  /** Leave @tensorflow/* to node_modules (the GPU image installs them with the native backend). */
  externalTensorflow: boolean;
}

export const BUNDLES: readonly BundleSpec[] = [
  { name: 'ingestion', entry: 'runtime/ingestion/entrypoint.ts', command: 'ingest', wasm: false, externalTensorflow: false },
  { name: 'serving', entry: 'runtime/serving/entrypoint.ts', command: 'serve', wasm: false, externalTensorflow: false },
  { name: 'training', entry: 'runtime/training/entrypoint.ts', command: 'train', wasm: true, externalTensorflow: false },
  { name: 'training-gpu', entry: 'runtime/training/entrypoint.ts', command: 'train', wasm: false, externalTensorflow: true },
];

/** Optional or native packages some dependencies try to load; never bundled. */
export const ALWAYS_EXTERNAL = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'pg-native'];

/** The exact versions the GPU image installs next to its bundle (they must match what was bundled against). */
export function tensorflowVersions(root: string = REPO_ROOT): Record<string, string> {
  const version = (pkg: string) => (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const core = version('@tensorflow/tfjs-core');
  return {
    '@tensorflow/tfjs-core': core,
    '@tensorflow/tfjs-layers': version('@tensorflow/tfjs-layers'),
    '@tensorflow/tfjs-backend-cpu': version('@tensorflow/tfjs-backend-cpu'),
    '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
    // tfjs-node-gpu registers its kernels with the tfjs-core it finds: the same release, so npm installs one copy.
    '@tensorflow/tfjs-node-gpu': core,
  };
}

/** MLSTACK_CODE_VERSION if set (image builds pass it: .git is not in the build context), else version+commit. */
export function bundleCodeVersion(root: string = REPO_ROOT, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[ENV.codeVersion];
  if (fromEnv) return fromEnv;
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return commit ? `${version}+${commit}` : version;
  } catch {
    return version;
  }
}

/** The generated entry: install the module hook, default the code version, then run the handler. */
function entrySource(spec: BundleSpec, codeVersion: string): string {
  const modules = spec.wasm ? `{ '@tensorflow/tfjs-backend-wasm': () => require('@tensorflow/tfjs-backend-wasm') }` : '{}';
  return [
    `process.env.${ENV.codeVersion} = process.env.${ENV.codeVersion} || ${JSON.stringify(codeVersion)};`,
    `require('./containers/bundle-runtime').installBundledModules(${modules}, __dirname);`,
    `require(${JSON.stringify(`./${spec.entry}`)});`,
  ].join('\n');
}

export interface BuiltBundle {
  spec: BundleSpec;
  dir: string;
  files: string[];
  bytes: number;
  ms: number;
}

function copyConfig(root: string, into: string): string[] {
  const copied: string[] = [];
  for (const rel of ['pipeline.json', 'parser.json']) {
    fs.mkdirSync(path.join(into, 'config'), { recursive: true });
    fs.copyFileSync(path.join(root, 'config', rel), path.join(into, 'config', rel));
    copied.push(`config/${rel}`);
  }
  const envDir = path.join(root, 'config', 'environments');
  fs.mkdirSync(path.join(into, 'config', 'environments'), { recursive: true });
  for (const file of fs.readdirSync(envDir).filter((f) => f.endsWith('.json')).sort()) {
    fs.copyFileSync(path.join(envDir, file), path.join(into, 'config', 'environments', file));
    copied.push(`config/environments/${file}`);
  }
  return copied;
}

export async function buildBundle(spec: BundleSpec, outRoot: string, root: string = REPO_ROOT): Promise<BuiltBundle> {
  const started = Date.now();
  const entry = path.join(root, spec.entry);
  if (!fs.existsSync(entry)) throw new Error(`bundle ${spec.name}: entrypoint ${spec.entry} does not exist yet`);
  const dir = path.join(outRoot, spec.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const codeVersion = bundleCodeVersion(root);
  const external = [...ALWAYS_EXTERNAL, ...(spec.externalTensorflow ? ['@tensorflow/*'] : [])];
  const options: BuildOptions = {
    stdin: { contents: entrySource(spec, codeVersion), resolveDir: root, sourcefile: `containers/entry-${spec.name}.js`, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: path.join(dir, 'main.js'),
    sourcemap: 'linked',
    external,
    // Some SDKs branch on a browser global; bundle for Node only.
    mainFields: ['main', 'module'],
    // jsonc-parser's `main` is a UMD build whose require('./impl/format') esbuild cannot follow; its ESM build bundles.
    alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
    // ESM dependencies (@azure/storage-common, open via @azure/identity) call createRequire(import.meta.url) at load;
    // in a CommonJS bundle import.meta is empty, so give them this file's URL.
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'error',
    legalComments: 'none',
  };
  await build(options);
  const files = ['main.js', 'main.js.map'];
  if (spec.wasm) {
    const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
    for (const file of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')).sort()) {
      fs.copyFileSync(path.join(wasmDir, file), path.join(dir, file));
      files.push(file);
    }
  }
  files.push(...copyConfig(root, dir));
  const manifest = {
    name: spec.name,
    command: spec.command,
    run: `node --enable-source-maps main.js ${spec.command}`,
    code_version: codeVersion,
    external,
    install: spec.externalTensorflow ? tensorflowVersions(root) : {},
    files,
  };
  fs.writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(manifest, null, 2) + '\n');
  files.push('bundle.json');
  if (spec.externalTensorflow) {
    // What the GPU image runs `npm install` on, beside the bundle.
    const pkg = { name: `mlstack-${spec.name}`, private: true, description: 'installed at image build', dependencies: manifest.install };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    files.push('package.json');
  }
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  return { spec, dir, files, bytes, ms: Date.now() - started };
}

export function parseBuildArgs(argv: string[]): { names: BundleSpec['name'][]; out: string } {
  let out = path.join(REPO_ROOT, 'dist', 'bundles');
  const names: BundleSpec['name'][] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') {
      out = path.resolve(argv[++i] ?? '');
      continue;
    }
    const spec = BUNDLES.find((b) => b.name === argv[i]);
    if (!spec) throw new Error(`unknown bundle "${argv[i]}": expected ${BUNDLES.map((b) => b.name).join(', ')} or --out <dir>`);
    names.push(spec.name);
  }
  return { names: names.length ? names : BUNDLES.map((b) => b.name), out };
}

async function main(): Promise<void> {
  const { names, out } = parseBuildArgs(process.argv.slice(2));
  for (const name of names) {
    const built = await buildBundle(BUNDLES.find((b) => b.name === name) as BundleSpec, out);
    process.stdout.write(`${name}: ${path.relative(process.cwd(), built.dir)} (${(built.bytes / 1e6).toFixed(1)} MB, ${built.ms} ms)\n`);
  }
}

if (path.resolve(process.argv[1] ?? '') === __filename) {
  main().catch((err: Error) => {
    process.stderr.write(`bundle: ${err.message}\n`);
    process.exitCode = 1;
  });
}
