/**
 * The deploy workflow's order for a first deploy (registry, then images, then the stacks that run them), per cloud,
 * each cloud's steps gated by the plan infra/deploy-plan.ts computes from config, so a single-cloud project runs
 * only its own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { loadProjectConfig } from '../../config/load';
import { buildCdktfApp } from '../../infra/cdktf/app';
import { deployPlan, formatOutputs } from '../../infra/deploy-plan';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

interface Step {
  name?: string;
  if?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}

const workflow = parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '.github', 'workflows', 'deploy-environment.yml'), 'utf8')) as {
  jobs: { deploy: { steps: Step[] } };
};
const steps = workflow.jobs.deploy.steps;
const commands = steps.flatMap((step, index) => (step.run ?? '').split('\n').filter((l) => l.trim()).map((line) => ({ index, step, line: line.trim() })));

function firstCommand(pattern: RegExp): { index: number; step: Step; position: number } {
  const position = commands.findIndex((c) => pattern.test(c.line));
  if (position < 0) throw new Error(`deploy-environment.yml runs nothing matching ${pattern}`);
  return { ...commands[position], position };
}

describe('deploy-environment.yml', () => {
  test.each([
    ['aws', /cdk deploy "MlStack-\$MLSTACK_ENV-registry"/, /images push --cloud aws/, /cdk deploy "MlStack-\$MLSTACK_ENV" /],
    ['gcp', /terraform -chdir="cdktf\.out\/stacks\/gcp-\$MLSTACK_ENV" apply .*\$TARGETS/, /images push --cloud gcp/, /cdktf deploy "gcp-\$MLSTACK_ENV"/],
    ['azure', /terraform -chdir="cdktf\.out\/stacks\/azure-\$MLSTACK_ENV" apply .*\$TARGETS/, /images push --cloud azure/, /cdktf deploy "azure-\$MLSTACK_ENV"/],
  ])('%s: registry, then images, then the stack, only when the environment configures it', (cloud, registry, images, stack) => {
    const order = [firstCommand(registry), firstCommand(images), firstCommand(stack)];
    expect(order.map((c) => c.position)).toEqual([...order.map((c) => c.position)].sort((a, b) => a - b));
    for (const { step } of order) expect(step.if).toContain(`steps.plan.outputs.${cloud} == 'true'`);
    if (cloud !== 'aws') expect(order[0].step.env?.TARGETS).toBe(`\${{ steps.plan.outputs.${cloud}_registry_targets }}`);
  });

  test('the plan step runs infra/deploy-plan.ts before any cloud step, and every output it reads exists', () => {
    const plan = steps.findIndex((s) => s.run?.includes('infra/deploy-plan.ts'));
    expect(plan).toBeGreaterThanOrEqual(0);
    expect(steps.findIndex((s) => s.if?.includes('steps.plan.outputs'))).toBeGreaterThan(plan);
    const read = new Set([...JSON.stringify(steps).matchAll(/steps\.plan\.outputs\.(\w+)/g)].map((m) => m[1]));
    const produced = Object.keys(deployPlan(loadProjectConfig('config'), 'dev'));
    expect([...read].filter((name) => !produced.includes(name))).toEqual([]);
  });
});

describe('deploy plan', () => {
  test('the repository config: three clouds, AWS images as assets, registry targets that exist in the stacks', () => {
    const config = loadProjectConfig('config');
    const plan = deployPlan(config, 'staging');
    expect(plan).toMatchObject({ aws: true, aws_images: 'assets', gcp: true, azure: true });
    const outdir = makeTempDir('mlstack-plan-synth-');
    buildCdktfApp({ config, outdir, environments: ['staging'], backendEnv: {} }).synth();
    for (const cloud of ['gcp', 'azure'] as const) {
      const tf = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', `${cloud}-staging`, 'cdk.tf.json'), 'utf8'));
      const targets = plan[`${cloud}_registry_targets`].split(' ').map((t) => t.replace(/^-target=/, ''));
      expect(targets.length).toBeGreaterThan(0);
      for (const address of targets) {
        const [type, name] = address.split('.');
        expect(tf.resource[type]?.[name]).toBeDefined();
      }
    }
  });

  test('an AWS-only environment with a pinned tag plans AWS alone, CI-pushed', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'qa.json'), (doc) => {
      delete doc.gcp;
      delete doc.azure;
      doc.aws.image_tag = 'git-4f2a9c1';
    });
    const plan = deployPlan(loadProjectConfig(dir), 'qa');
    expect(plan).toEqual({ aws: true, aws_images: 'pinned', gcp: false, gcp_registry_targets: '', azure: false, azure_registry_targets: '' });
    expect(formatOutputs(plan)).toBe('aws=true\naws_images=pinned\ngcp=false\ngcp_registry_targets=\nazure=false\nazure_registry_targets=\n');
  });
});
