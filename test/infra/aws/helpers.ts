import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
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
  /** The cloud assembly `cdk deploy` reads: stack artifacts and their dependencies. */
  readonly assembly: CloudAssembly;
  /** MlStack-<env> by environment. */
  readonly templates: Record<string, Template>;
  /** MlStack-<env>-registry by environment. */
  readonly registryTemplates: Record<string, Template>;
}

/** Builds and synthesizes the app (cdk-nag included: synth throws on any unacknowledged finding). */
export function synthesize(configDir: string, environments?: EnvironmentName[]): SynthesizedApp {
  const outdir = makeTempDir('mlstack-cdk-out-');
  const built = buildMlApp({ configDir, outdir, buildContext: REPO_ROOT, environments });
  const assembly = built.app.synth();
  const templatesOf = (stacks: Partial<Record<string, Stack>>) =>
    Object.fromEntries(Object.entries(stacks).map(([env, stack]) => [env, Template.fromStack(stack!)]));
  return { ...built, outdir, assembly, templates: templatesOf(built.stacks), registryTemplates: templatesOf(built.registryStacks) };
}

/** Every template the synthesized app wrote (one per stack), for cfn-lint. */
export function templateFiles(outdir: string): string[] {
  return fs
    .readdirSync(outdir)
    .filter((f) => f.endsWith('.template.json'))
    .sort()
    .map((f) => path.join(outdir, f));
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

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::AccountId': '<account>',
  'AWS::Region': '<region>',
};

/**
 * Evaluates the intrinsic functions CDK writes into a template (Ref, Fn::Join, Fn::Sub,
 * Fn::Select, Fn::Split, Fn::GetAtt) the way CloudFormation would, with each Ref looked up
 * in `refs` (logical id -> value) and anything unknown written as `<LogicalId>` or
 * `<LogicalId.Attribute>`, so a test can compare the strings a deployed stack would hold.
 */
export function resolveCfn(value: unknown, refs: Record<string, string> = {}): any {
  if (Array.isArray(value)) return value.map((v) => resolveCfn(v, refs));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [fn, arg] = entries[0] as [string, any];
    switch (fn) {
      case 'Ref':
        return refs[arg] ?? PSEUDO_PARAMETERS[arg] ?? `<${arg}>`;
      case 'Fn::GetAtt':
        return refs[`${arg[0]}.${arg[1]}`] ?? `<${arg[0]}.${arg[1]}>`;
      case 'Fn::Join':
        return (resolveCfn(arg[1], refs) as unknown[]).join(arg[0]);
      case 'Fn::Split':
        return String(resolveCfn(arg[1], refs)).split(arg[0]);
      case 'Fn::Select': {
        const list = resolveCfn(arg[1], refs) as unknown[];
        return list[Number(arg[0])] ?? `<select ${arg[0]}>`;
      }
      case 'Fn::Sub': {
        const [template, vars] = Array.isArray(arg) ? arg : [arg, {}];
        return (template as string).replace(/\$\{([^}]+)\}/g, (_, name: string) =>
          name in vars ? String(resolveCfn(vars[name], refs)) : String(resolveCfn(name.includes('.') ? { 'Fn::GetAtt': name.split('.') } : { Ref: name }, refs)),
        );
      }
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveCfn(v, refs)]));
}

/** The logical id -> bucket name of every bucket with a literal BucketName, for resolveCfn. */
export function bucketRefs(t: Template): Record<string, string> {
  const buckets = t.findResources('AWS::S3::Bucket');
  return Object.fromEntries(
    Object.entries(buckets)
      .filter(([, b]) => typeof b.Properties?.BucketName === 'string')
      .map(([id, b]) => [id, b.Properties.BucketName as string]),
  );
}

/** A state machine's definition as deployed: its DefinitionString resolved (resolveCfn) and parsed. */
export function resolvedDefinition(t: Template, idPrefix: string): any {
  const machines = Object.entries(t.findResources('AWS::StepFunctions::StateMachine')).filter(([id]) => id.startsWith(idPrefix));
  if (machines.length !== 1) throw new Error(`expected one state machine with id ${idPrefix}*, found ${machines.length}`);
  return JSON.parse(resolveCfn(machines[0][1].Properties.DefinitionString, bucketRefs(t)));
}

/**
 * Evaluates the one intrinsic the run-id extraction uses,
 * `States.ArrayGetItem(States.StringSplit($.<path>, '<sep>'), <n>)`, against an input, the way
 * Step Functions would. Throws on any other expression, so a changed expression fails the test.
 */
export function evaluateRunIdExpression(expression: string, input: unknown): string {
  const m = /^States\.ArrayGetItem\(States\.StringSplit\(\$\.([\w.]+), '(.)'\), (\d+)\)$/.exec(expression);
  if (!m) throw new Error(`not a StringSplit/ArrayGetItem expression: ${expression}`);
  const value = m[1].split('.').reduce<any>((o, k) => o?.[k], input);
  if (typeof value !== 'string') throw new Error(`$.${m[1]} is not a string in the input`);
  // The keys here have no empty segments (validated prefixes), so whether StringSplit keeps them does not matter.
  const item = value.split(m[2])[Number(m[3])];
  if (item === undefined) throw new Error(`index ${m[3]} is out of range`);
  return item;
}

/** Evaluates `States.Format('<template>', $.a, $.b)` against a state's input. */
export function evaluateFormat(expression: string, input: unknown): string {
  const m = /^States\.Format\('([^']*)', (.+)\)$/.exec(expression);
  if (!m) throw new Error(`not a States.Format expression: ${expression}`);
  const values = m[2].split(', ').map((p) => p.slice(2).split('.').reduce<any>((o, k) => o?.[k], input));
  let i = 0;
  return m[1].replace(/\{\}/g, () => String(values[i++]));
}
