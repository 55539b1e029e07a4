/**
 * Reads .github/workflows/*.yml and checks that what they run exists: npm
 * scripts, files, mlstack sub-commands, local reusable workflows, the outputs
 * of the changed-envs step, and every stack name a step can produce.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ENVIRONMENTS } from '../../config/schema';
import { buildProgram } from '../../runtime/cli/main';
import { githubOutputs, summarizeChanges } from '../../runtime/promotion/changed-envs';
import { mlAppStackNames } from '../../infra/aws/build-app';
import { cdktfStackNames } from '../../infra/cdktf/app';

const repoRoot = path.resolve(__dirname, '..', '..');
const workflowDir = path.join(repoRoot, '.github', 'workflows');
const workflowFiles = fs.readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const packageScripts = Object.keys(JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  uses?: string;
  needs?: string | string[];
  steps?: Step[];
  environment?: unknown;
  permissions?: Record<string, string>;
  outputs?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflows: Record<string, Workflow> = Object.fromEntries(
  workflowFiles.map((f) => [f, parse(fs.readFileSync(path.join(workflowDir, f), 'utf8')) as Workflow]),
);
const allSteps = Object.entries(workflows).flatMap(([file, wf]) =>
  Object.entries(wf.jobs).flatMap(([job, j]) => (j.steps ?? []).map((step) => ({ file, job, step }))),
);
const runScripts = allSteps.filter((s) => s.step.run).map((s) => ({ ...s, run: s.step.run as string }));

/**
 * Every stack the apps define: CDK MlStack-<env>-registry and MlStack-<env> (infra/aws/build-app.ts)
 * and cdktf <cloud>-<env> (infra/cdktf/app.ts).
 */
const awsStacks = mlAppStackNames({ configDir: path.join(repoRoot, 'config') });
const definedStacks = new Set([...awsStacks, ...cdktfStackNames()]);
const everything = summarizeChanges(['infra/any.ts']);

/** cdk/cdktf flags followed by a value that is not a stack name. */
const FLAGS_WITH_VALUES = ['--require-approval', '--app', '--output', '--profile', '--context', '-c'];

/** What a stack argument in a workflow can expand to. */
function expandStackArgument(arg: string): string[] {
  const token = arg.replace(/^"|"$/g, '');
  if (token === '$AWS_STACKS') return everything.awsStacks;
  if (token === '$CDKTF_STACKS' || token === '$stack') return everything.cdktfStacks;
  if (token.includes('$MLSTACK_ENV')) return ENVIRONMENTS.map((env) => token.replace('$MLSTACK_ENV', env));
  if (token.includes('$')) throw new Error(`unknown variable in stack argument "${arg}": teach this test what it expands to`);
  return [token];
}

test('the changed-envs script names stacks the way the apps do', () => {
  // Both CDK stacks of each environment, the registry first (cdk synth selects only the stacks it is named).
  expect(everything.awsStacks).toEqual(awsStacks);
  expect(awsStacks).toEqual(ENVIRONMENTS.flatMap((env) => [`MlStack-${env}-registry`, `MlStack-${env}`]));
  expect(new Set(everything.cdktfStacks)).toEqual(new Set(cdktfStackNames()));
});

test('the expected workflows exist and parse', () => {
  expect(workflowFiles).toEqual(expect.arrayContaining(['pr.yml', 'deploy.yml', 'deploy-environment.yml']));
  expect(Object.keys(workflows['pr.yml'].on)).toEqual(['pull_request']);
  expect(workflows['deploy.yml'].on).toEqual({ push: { branches: ['main'] } });
  expect(runScripts.length).toBeGreaterThan(5);
});

test('every `npm run X` names a script in package.json', () => {
  const used = runScripts.flatMap((s) => [...s.run.matchAll(/npm run ([\w:.-]+)/g)].map((m) => m[1]));
  for (const script of used) expect(packageScripts).toContain(script);
  const npmCommands = runScripts.flatMap((s) => [...s.run.matchAll(/\bnpm (\w+)/g)].map((m) => m[1]));
  expect(npmCommands).toEqual(expect.arrayContaining(['ci', 'test']));
});

test('every file a step runs exists', () => {
  const files = runScripts.flatMap((s) =>
    [...s.run.matchAll(/\b(?:node|bash|sh)\s+((?:\.{0,2}\/)?[\w./-]+\.(?:js|ts|sh))/g), ...s.run.matchAll(/run-ts\.js\s+([\w./-]+\.ts)/g)].map(
      (m) => m[1],
    ),
  );
  expect(files).toEqual(expect.arrayContaining(['bin/run-ts.js', 'runtime/promotion/ci-main.ts', 'bin/mlstack.js', '.ci/services.sh']));
  for (const file of files) expect(fs.existsSync(path.join(repoRoot, file))).toBe(true);
});

test('every `mlstack` command a step runs is registered in the CLI', () => {
  const program = buildProgram();
  const invocations = runScripts.flatMap((s) => [...s.run.matchAll(/bin\/mlstack\.js\s+([a-z-]+)\s+([a-z-]+)/g)]);
  expect(invocations.length).toBeGreaterThan(0);
  for (const [, command, sub] of invocations) {
    const found = program.commands.find((c) => c.name() === command);
    expect(found?.name()).toBe(command);
    expect(found?.commands.map((c) => c.name())).toContain(sub);
  }
});

test('every stack name a cdk or cdktf step can produce is one the apps define', () => {
  const produced: string[] = [];
  for (const { run } of runScripts) {
    for (const m of run.matchAll(/npx (cdk|cdktf) (synth|diff|deploy)([^\n|&;]*)/g)) {
      const [, tool, , rest] = m;
      // Shell redirections (2>&1) are not arguments.
      const tokens = rest.replace(/\d?>&?\d?\S*/g, '').trim().split(/\s+/).filter((a) => a !== '');
      const stackArgs = tokens.filter((a, i) => !a.startsWith('-') && !FLAGS_WITH_VALUES.includes(tokens[i - 1]));
      for (const stack of stackArgs.flatMap(expandStackArgument)) {
        expect(definedStacks.has(stack) ? stack : `${stack} (not defined by the apps)`).toBe(stack);
        expect(tool === 'cdk' ? /^MlStack-/.test(stack) : /^(gcp|azure)-/.test(stack)).toBe(true);
        produced.push(stack);
      }
    }
  }
  // Between them, the workflows can reach every stack of every environment.
  expect(new Set(produced)).toEqual(definedStacks);
});

test('outputs read from the changed-envs step are ones it writes', () => {
  const written = Object.keys(githubOutputs(everything));
  for (const wf of Object.values(workflows)) {
    const text = JSON.stringify(wf);
    for (const m of text.matchAll(/steps\.changes\.outputs\.(\w+)/g)) expect(written).toContain(m[1]);
  }
});

test('local reusable workflows exist; actions are pinned to a version', () => {
  const uses = [
    ...allSteps.map((s) => s.step.uses).filter((u): u is string => !!u),
    ...Object.values(workflows).flatMap((wf) => Object.values(wf.jobs).map((j) => j.uses).filter((u): u is string => !!u)),
  ];
  for (const ref of uses) {
    if (ref.startsWith('./')) expect(fs.existsSync(path.join(repoRoot, ref))).toBe(true);
    else expect(ref).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
  }
});

test('deploys use OIDC credentials, and prod sits behind its protected environment', () => {
  const deployEnv = workflows['deploy-environment.yml'];
  expect(deployEnv.permissions?.['id-token']).toBe('write');
  const job = deployEnv.jobs.deploy;
  expect(job.environment).toBe('${{ inputs.environment }}');
  const byAction = (prefix: string) => job.steps?.find((s) => s.uses?.startsWith(prefix));
  expect(byAction('aws-actions/configure-aws-credentials')?.with).toHaveProperty('role-to-assume');
  expect(byAction('google-github-actions/auth')?.with).toHaveProperty('workload_identity_provider');
  expect(byAction('azure/login')?.with).toEqual(expect.objectContaining({ 'client-id': expect.any(String), 'tenant-id': expect.any(String) }));
  expect(byAction('azure/login')?.with).not.toHaveProperty('creds');

  const deploy = workflows['deploy.yml'];
  expect(deploy.jobs.prod.uses).toBe('./.github/workflows/deploy-environment.yml');
  expect((deploy.jobs.prod as any).with.environment).toBe('prod');
  expect(deploy.jobs.prod.needs).toEqual(['changes', 'nonprod']);
  expect(deploy.jobs.nonprod.permissions?.['id-token']).toBe('write');
  expect(deploy.jobs.prod.permissions?.['id-token']).toBe('write');
  expect(JSON.stringify(deploy)).not.toMatch(/secrets\.(AWS|AZURE|GCP)/);
});
