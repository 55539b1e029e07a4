import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLES, buildBundle, type BuiltBundle, type BundleSpec } from '../../containers/build';
import { makeTempDir } from '../helpers/tmp';

/**
 * Builds one bundle, then copies only the files it ships (what the Dockerfile copies)
 * into a fresh temp folder with no node_modules anywhere above it, the way an image holds it.
 */
export const REPO_NODE_MODULES = path.resolve(__dirname, '..', '..', 'node_modules');

export async function buildIsolatedBundle(name: BundleSpec['name']): Promise<{ built: BuiltBundle; dir: string }> {
  const spec = BUNDLES.find((b) => b.name === name) as BundleSpec;
  const built = await buildBundle(spec, makeTempDir(`mlstack-bundle-${name}-`));
  const dir = path.join(makeTempDir(`mlstack-image-${name}-`), 'app');
  for (const file of built.files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(built.dir, file), path.join(dir, file));
  }
  assertNoNodeModulesAbove(dir);
  return { built, dir };
}

export function assertNoNodeModulesAbove(dir: string): void {
  for (let current = dir; ; current = path.dirname(current)) {
    if (fs.existsSync(path.join(current, 'node_modules'))) {
      throw new Error(`${current}/node_modules exists: the bundle test would not prove the bundle is self-contained`);
    }
    if (path.dirname(current) === current) return;
  }
}

/** Only what a container would have: PATH, HOME and the handler's own variables. */
export function containerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startNode(dir: string, args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', 'main.js', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** Polls `probe` until it returns true (a condition, not a fixed sleep); fails with the process output. */
export async function waitUntil(probe: () => Promise<boolean>, proc: RunningProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`process exited ${proc.child.exitCode}:\n${proc.output()}`);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`condition not met within ${timeoutMs} ms:\n${proc.output()}`);
}

/** A tiny SageMaker training layout: config, one "train" channel with a CSV the project config can read. */
export function sageMakerRoot(): string {
  const root = makeTempDir('mlstack-opt-ml-');
  fs.mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  fs.mkdirSync(path.join(root, 'input', 'data', 'train'), { recursive: true });
  fs.writeFileSync(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ epochs: '2', batch_size: '32', run_id: 'bundle-train' }));
  fs.writeFileSync(path.join(root, 'input', 'config', 'inputdataconfig.json'), JSON.stringify({ train: { ContentType: 'text/csv' } }));
  fs.writeFileSync(path.join(root, 'input', 'config', 'resourceconfig.json'), JSON.stringify({ current_host: 'algo-1', hosts: ['algo-1'] }));
  const plans = ['basic', 'standard', 'premium'];
  const regions = ['north', 'south', 'east', 'west', 'central'];
  const lines = ['age,spend,tenure,plan,region,tickets,churned'];
  for (let i = 0; i < 240; i++) {
    const tickets = i % 7;
    const tenure = (i * 13) % 72;
    lines.push([20 + ((i * 7) % 50), (20 + ((i * 31) % 180)).toFixed(2), tenure, plans[i % 3], regions[i % 5], tickets, tickets > 3 || tenure < 6 ? 'yes' : 'no'].join(','));
  }
  fs.writeFileSync(path.join(root, 'input', 'data', 'train', 'part-0.csv'), lines.join('\n') + '\n');
  return root;
}

export async function runTraining(dir: string): Promise<{ root: string; output: string; code: number | null }> {
  const root = sageMakerRoot();
  const proc = startNode(
    dir,
    ['train'],
    containerEnv({ MLSTACK_SM_ROOT: root, MLSTACK_CONFIG_DIR: path.join(dir, 'config'), MLSTACK_REQUIRE_GPU: '0', TRAINING_JOB_NAME: 'bundle-job' }),
  );
  const { code } = await proc.exited;
  return { root, output: proc.output(), code };
}

export function expectModelPackage(root: string, output: string): { backend: string } {
  for (const file of ['metadata.json', 'preprocessing.json', 'model/model.json', 'model/weights.bin']) {
    expect({ file, exists: fs.existsSync(path.join(root, 'model', file)) }).toEqual({ file, exists: true });
  }
  expect(output).toContain('mlstack-result ');
  expect(fs.existsSync(path.join(root, 'output', 'failure'))).toBe(false);
  return JSON.parse(fs.readFileSync(path.join(root, 'model', 'metadata.json'), 'utf8'));
}
