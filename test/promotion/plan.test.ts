import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../config/load';
import { planPromotion, PromotionRefusedError, type PromotionInput } from '../../runtime/promotion/plan';

// planPromotion is pure: every case below is plain objects in, a plan (or a refusal) out; no git, no registry.
const ROOT = path.resolve(__dirname, '..', '..');
/** The repository's environment file for `name`, pinning `version`. */
const envText = (name: string, version: string | null = null): string =>
  fs.readFileSync(path.join(ROOT, 'config', 'environments', `${name}.json`), 'utf8').replace('"model_version": null', `"model_version": ${JSON.stringify(version)}`);

function input(overrides: Partial<PromotionInput> = {}): PromotionInput {
  const target = overrides.target ?? 'dev';
  const pinned = overrides.pinned ?? { dev: 'v1', qa: 'v1', staging: null, prod: null };
  return {
    version: 'v2',
    target,
    model: { version: 'v2', project: 'mlstack', created_at: '2024-05-01T00:00:00Z', package_uri: 'file:///m/v2/', metrics: { auc: 0.81, log_loss: 0.4 }, lineage: { run_id: 'run-7', data_hash: 'abc' } },
    project: 'mlstack',
    gates: { auc: 0.75 },
    pinned,
    file: `config/environments/${target}.json`,
    targetText: envText(target, pinned[target]),
    baseRef: 'origin/main',
    ...overrides,
  };
}

function refusal(when: () => unknown): PromotionRefusedError {
  try {
    when();
  } catch (err) {
    if (err instanceof PromotionRefusedError) return err;
    throw err;
  }
  throw new Error('expected a PromotionRefusedError, but the promotion was planned');
}

describe('planPromotion', () => {
  test('GIVEN passing gates WHEN planned THEN the plan pins the version with a one-line diff and a message naming gates and lineage', () => {
    const plan = planPromotion(input());

    expect(plan.branch).toBe('promote/dev/v2');
    expect(plan.previousVersion).toBe('v1');
    expect(plan.metricGates).toEqual([{ metric: 'auc', comparison: '>=', threshold: 0.75, value: 0.81, passed: true }]);
    expect(plan.overridden).toEqual([]);
    expect(plan.edits).toEqual([{ path: ['model_version'], value: 'v2' }]);
    expect(JSON.parse(plan.newText).model_version).toBe('v2');
    expect(plan.diff.split('\n').filter((l) => /^[-+] /.test(l))).toEqual(['-  "model_version": "v1",', '+  "model_version": "v2",']);
    const lines = plan.message.split('\n');
    expect(lines[0]).toBe('Promote mlstack model v2 to dev');
    expect(plan.message).toContain('(was v1)');
    expect(plan.message).toContain('  auc: 0.81 (gate >= 0.75: passed)');
    expect(plan.message).toContain('  run id:       run-7');
    expect(plan.message).toContain('  parent run:   (not recorded)');
    expect(plan.message).toContain('Gates: all passed.');
    expect(plan.message.endsWith('Promoted-Model: v2\nPromoted-Environment: dev\n')).toBe(true);
    expect(plan.pullRequestBody).toContain('npx mlstack promote --model v1 --to dev --rollback');
  });

  test('GIVEN a metric below its gate WHEN planned THEN it is refused with the gate, threshold and value', () => {
    const err = refusal(() => planPromotion(input({ model: { ...input().model, metrics: { auc: 0.61 } } })));
    expect(err.message).toContain('requires auc >= 0.75; the model has 0.61 (version v2)');
    expect(err.failures.map((f) => f.gate)).toEqual(['metric']);
  });

  test('GIVEN qa and a version dev does not pin WHEN planned THEN the order gate refuses it', () => {
    const err = refusal(() => planPromotion(input({ target: 'qa' })));
    expect(err.message).toContain('requires version v2 to be pinned in dev before qa; dev pins v1');
    expect(err.failures.map((f) => f.gate)).toEqual(['order']);
  });

  test('GIVEN --force WHEN no reason is given THEN refused; WITH a reason THEN the failures and reason are recorded', () => {
    const failing = { target: 'qa' as const, model: { ...input().model, metrics: { auc: 0.61 } } };
    expect(refusal(() => planPromotion(input({ ...failing, force: true, reason: '  ' }))).message).toMatch(/--force needs --reason/);

    const plan = planPromotion(input({ ...failing, force: true, reason: ' hotfix INC-42 ' }));
    expect(plan.overridden.map((f) => f.gate)).toEqual(['metric', 'order']);
    expect(plan.message).toContain('Gates: FORCED past these failures:');
    expect(plan.message).toContain('Force reason: hotfix INC-42\n');
    expect(plan.message).toContain('Promotion-Forced: hotfix INC-42');
    expect(plan.message).toContain('  auc: 0.61 (gate >= 0.75: FAILED)');
  });

  test('GIVEN --rollback WHEN the target pinned the version before THEN the order gate is waived; WHEN it never did THEN refused', () => {
    const prod = { target: 'prod' as const, version: 'v1', model: { ...input().model, version: 'v1' }, pinned: { dev: 'v2', qa: 'v2', staging: 'v2', prod: 'v2' } };
    const plan = planPromotion(input({ ...prod, rollback: true, pinnedBefore: true }));
    expect(plan.message.split('\n')[0]).toBe('Roll back mlstack model v1 to prod');
    expect(plan.message).toContain('Gates: metric gates passed; order gate waived');
    expect(plan.message).toContain('Promotion-Rollback: true');

    expect(refusal(() => planPromotion(input({ ...prod, rollback: true, pinnedBefore: false }))).message).toBe(
      '--rollback: prod never pinned v1 on origin/main (git log -- config/environments/prod.json); a rollback goes back to a version this environment ran before',
    );
    expect(refusal(() => planPromotion(input(prod))).message).toContain('staging pins v2');
  });

  test('GIVEN an image tag WHEN planned THEN image_tag is edited in every cloud section; an invalid tag is refused', () => {
    const plan = planPromotion(input({ imageTag: 'git-abc1234' }));
    expect(plan.edits).toEqual([
      { path: ['model_version'], value: 'v2' },
      { path: ['aws', 'image_tag'], value: 'git-abc1234' },
      { path: ['gcp', 'image_tag'], value: 'git-abc1234' },
      { path: ['azure', 'image_tag'], value: 'git-abc1234' },
    ]);
    const edited = JSON.parse(plan.newText);
    expect([edited.aws.image_tag, edited.gcp.image_tag, edited.azure.image_tag]).toEqual(['git-abc1234', 'git-abc1234', 'git-abc1234']);
    expect(plan.message).toContain('Sets image_tag to git-abc1234 for aws, gcp, azure.');

    expect(refusal(() => planPromotion(input({ imageTag: '-bad tag' }))).message).toMatch(/--image-tag "-bad tag" is not a valid image tag/);
  });

  test('GIVEN a file that already pins the version WHEN planned THEN refused as nothing to promote', () => {
    const pinnedText = envText('dev', 'v2');
    expect(refusal(() => planPromotion(input({ targetText: pinnedText }))).message).toBe('dev already pins v2 on origin/main: nothing to promote');
  });

  test('GIVEN a record of another project THEN refused; GIVEN a target file the edit would leave invalid THEN a ConfigError names the file', () => {
    expect(refusal(() => planPromotion(input({ model: { ...input().model, project: 'churn' } }))).message).toBe(
      'registry record v2 belongs to project "churn", not "mlstack" (config/pipeline.json)',
    );
    const invalid = JSON.stringify({ ...JSON.parse(envText('dev')), alarm_email: 42 }, null, 2);
    expect(() => planPromotion(input({ targetText: invalid }))).toThrow(ConfigError);
    expect(() => planPromotion(input({ targetText: invalid }))).toThrow(/config\/environments\/dev\.json/);
  });
});
