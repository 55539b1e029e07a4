/**
 * What an install costs on disk: `npm ci --omit=dev` (the runtime: pipelines, training, serving; target
 * under 500 MB) beside the full `npm ci` (the runtime plus what deploys and tests it: aws-cdk-lib, the
 * cdktf providers, jest, ...). THIS RUNS NPM: each install goes into a fresh temporary folder holding a
 * copy of package.json and package-lock.json (packages come from npm's cache when they are in it, else
 * from the registry), so the checkout's node_modules is left alone. With --smoke, the runtime-only
 * install then runs the sample pipeline (runtime/, config/ and bin/ copied beside it), which proves that
 * the runtime needs none of the packages it left out. Not part of `npm test`.
 *
 *   node bin/run-ts.js bench/install.ts [--smoke] [--keep]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(__dirname, '..');
const TARGET_RUNTIME_MB = 500;
/** What `--smoke` copies beside the runtime-only install: the CLI and everything it loads from the repository. */
const RUNTIME_TREE = ['bin', 'runtime', 'config'];
const SMOKE_COMMAND = ['bin/mlstack.js', 'pipeline', '--env', 'dev', '--cloud', 'local', '--sample-rows', '2000', '--json'];

export interface TreeSize {
  /** Sum of file sizes (what `du -sb` prints). */
  bytes: number;
  /** Blocks allocated on disk (what `du -s` prints). */
  diskBytes: number;
  files: number;
}

/** The size of a folder, links not followed. */
export function treeSize(dir: string): TreeSize {
  const total: TreeSize = { bytes: 0, diskBytes: 0, files: 0 };
  const visit = (p: string): void => {
    const stat = fs.lstatSync(p);
    total.bytes += stat.size;
    total.diskBytes += stat.blocks * 512;
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) visit(path.join(p, entry));
    else total.files += 1;
  };
  visit(dir);
  return total;
}

/** Runs `npm ci [flags]` in a fresh folder holding the package files; the folder and how long npm took. */
function installInto(label: string, flags: string[]): { dir: string; seconds: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mlstack-install-${label}-`));
  for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  const started = performance.now();
  const npm = spawnSync('npm', ['ci', ...flags, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
  if (npm.status !== 0) throw new Error(`npm ci ${flags.join(' ')} failed in ${dir}:\n${(npm.stderr || npm.stdout).slice(-3000)}`);
  return { dir, seconds: (performance.now() - started) / 1000 };
}

/** The top-level packages (scoped ones as @scope/name) an install holds, largest first. */
export function largestPackages(nodeModules: string, count: number): Array<{ name: string; bytes: number }> {
  const names = fs.readdirSync(nodeModules).flatMap((entry) => {
    if (entry.startsWith('.')) return [];
    if (!entry.startsWith('@')) return [entry];
    return fs.readdirSync(path.join(nodeModules, entry)).map((sub) => `${entry}/${sub}`);
  });
  return names
    .map((name) => ({ name, bytes: treeSize(path.join(nodeModules, name)).bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, count);
}

function smoke(dir: string): void {
  for (const entry of RUNTIME_TREE) fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  const run = spawnSync(process.execPath, SMOKE_COMMAND, { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
  if (run.status !== 0) throw new Error(`the runtime-only install could not run ${SMOKE_COMMAND.join(' ')} (exit ${run.status}):\n${run.stderr.slice(-3000)}`);
  const summary = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { model_version?: string; metrics?: Record<string, number> };
  console.log(`  smoke: node ${SMOKE_COMMAND.join(' ')} -> exit 0, model ${summary.model_version}, metrics ${JSON.stringify(summary.metrics)}`);
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

function main(): void {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
  const runtime = installInto('runtime', ['--omit=dev']);
  const full = installInto('full', []);
  try {
    const [r, f] = [treeSize(path.join(runtime.dir, 'node_modules')), treeSize(path.join(full.dir, 'node_modules'))];
    console.log('node_modules after npm ci (file sizes; on-disk blocks in brackets)');
    console.log(`  npm ci --omit=dev  ${mb(r.bytes).padStart(8)} [${mb(r.diskBytes)}]  ${r.files} files  ${runtime.seconds.toFixed(0)} s  (runtime; target under ${TARGET_RUNTIME_MB} MB: ${r.diskBytes < TARGET_RUNTIME_MB * 1e6 ? 'met' : 'NOT met'})`);
    console.log(`  npm ci             ${mb(f.bytes).padStart(8)} [${mb(f.diskBytes)}]  ${f.files} files  ${full.seconds.toFixed(0)} s  (runtime + infra + tests)`);
    console.log(`  largest runtime packages: ${largestPackages(path.join(runtime.dir, 'node_modules'), 6).map((p) => `${p.name} ${mb(p.bytes)}`).join(', ')}`);
    if (values.smoke) smoke(runtime.dir);
  } finally {
    if (values.keep) console.log(`  kept ${runtime.dir} and ${full.dir}`);
    else for (const dir of [runtime.dir, full.dir]) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module || process.argv[1] === __filename) {
  try {
    main();
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  }
}
