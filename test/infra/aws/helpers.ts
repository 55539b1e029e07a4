import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { EnvironmentName } from '../../../config/schema';
import { buildMlApp, type MlApp } from '../../../infra/aws/build-app';
import { copyConfig, editJson, makeTempDir } from '../../helpers/tmp';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** A copy of config/ with the given edits applied to environments/<env>.json. */
export function configWith(edits: Partial<Record<EnvironmentName, (doc: any) => void>>): string {
  const dir = copyConfig();
  for (const [env, edit] of Object.entries(edits)) {
    editJson(path.join(dir, 'environments', `${env}.json`), edit!);
  }
  return dir;
}

export interface SynthesizedApp extends MlApp {
  readonly outdir: string;
  readonly templates: Record<string, Template>;
}

/** Builds and synthesizes the app (cdk-nag included: synth throws on any unacknowledged finding). */
export function synthesize(configDir: string, environments?: EnvironmentName[]): SynthesizedApp {
  const outdir = makeTempDir('mlstack-cdk-out-');
  const built = buildMlApp({ configDir, outdir, buildContext: REPO_ROOT, environments });
  built.app.synth();
  const templates: Record<string, Template> = {};
  for (const [env, stack] of Object.entries(built.stacks)) templates[env] = Template.fromStack(stack!);
  return { ...built, outdir, templates };
}

export function cfnLintAvailable(): boolean {
  return spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;
}

export interface LintResult {
  /** True when cfn-lint reported errors (exit code bit 2) or failed itself (bit 1). */
  readonly errors: boolean;
  /** One finding per line: `file:line:col:endLine:endCol:RULE:message`. */
  readonly output: string;
}

/**
 * Runs cfn-lint on templates in the background (so a test file can assert on
 * the stacks meanwhile). Its exit code is a bit mask: 1 = failure,
 * 2 = errors, 4 = warnings, 8 = informational.
 */
export function cfnLint(files: string[]): Promise<LintResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--format', 'parseable', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => (code === null ? reject(new Error('cfn-lint was killed')) : resolve({ errors: (code & 3) !== 0, output })));
  });
}
