import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../runtime/cli/main';
import { promote, PromotionRefusedError, promotionBranch, type PromoteOptions } from '../../runtime/promotion/promote';
import { createGitFixture, git, registerVersion, startFakeGitHub, type GitFixture } from './fixture';

const DEV_FILE = 'config/environments/dev.json';
const NO_GITHUB: NodeJS.ProcessEnv = {};

let fx: GitFixture;

function options(overrides: Partial<PromoteOptions>): PromoteOptions {
  return { version: 'v1', target: 'dev', registry: fx.registry, repoDir: fx.work, env: NO_GITHUB, ...overrides };
}

async function refusal(run: Promise<unknown>): Promise<PromotionRefusedError> {
  try {
    await run;
  } catch (err) {
    if (err instanceof PromotionRefusedError) return err;
    throw err;
  }
  throw new Error('expected the promotion to be refused');
}

beforeAll(async () => {
  fx = createGitFixture();
  await registerVersion(fx.registry, { version: 'v1', metrics: { auc: 0.81, accuracy: 0.84 } });
  await registerVersion(fx.registry, { version: 'v2', metrics: { auc: 0.83, accuracy: 0.86 } });
  await registerVersion(fx.registry, { version: 'v3', metrics: { auc: 0.61, accuracy: 0.7 } });
});

beforeEach(() => fx.reset());

describe('promote to dev against a real bare remote', () => {
  test('pushes promote/dev/v1 with only model_version changed and the lineage in the message', async () => {
    const headBefore = git(fx.work, 'rev-parse', 'HEAD').trim();
    const result = await promote(options({}));

    expect(result.branch).toBe('promote/dev/v1');
    expect(fx.remoteBranches()).toEqual(['main', 'promote/dev/v1']);
    const pinned = JSON.parse(fx.showOnRemote('promote/dev/v1', DEV_FILE));
    expect(pinned.model_version).toBe('v1');
    expect([pinned.aws.image_tag, pinned.gcp.image_tag, pinned.azure.image_tag]).toEqual(['latest', 'latest', 'latest']);

    // Only the one line changes, and the file keeps its 2-space layout and trailing newline.
    const changed = git(fx.remote, 'diff', '--unified=0', 'main', 'promote/dev/v1').split('\n').filter((l) => /^[-+] /.test(l) || /^[-+]\s/.test(l));
    expect(changed).toEqual(['-  "model_version": null,', '+  "model_version": "v1",']);
    expect(fx.showOnRemote('promote/dev/v1', DEV_FILE).endsWith('}\n')).toBe(true);
    expect(git(fx.remote, 'diff', '--name-only', 'main', 'promote/dev/v1').trim()).toBe(DEV_FILE);

    const message = git(fx.remote, 'log', '-1', '--format=%B', 'promote/dev/v1');
    expect(message.split('\n')[0]).toBe('Promote mlstack model v1 to dev');
    for (const expected of [
      'data hash:    sha256:data-v1',
      'config hash:  sha256:config-v1',
      'code version: abc1234',
      'run id:       run-v1',
      'auc: 0.81 (gate >= 0.75: passed)',
      'accuracy: 0.84',
      'Gates: all passed.',
      'Promoted-Model: v1',
      'Promoted-Environment: dev',
    ]) {
      expect(message).toContain(expected);
    }
    expect(git(fx.remote, 'rev-parse', 'promote/dev/v1^').trim()).toBe(git(fx.remote, 'rev-parse', 'main').trim());
    expect(result.commit).toBe(git(fx.remote, 'rev-parse', 'promote/dev/v1').trim());

    // The user's checkout is untouched: same HEAD, clean tree, dev still unpinned on disk.
    expect(git(fx.work, 'rev-parse', 'HEAD').trim()).toBe(headBefore);
    expect(git(fx.work, 'status', '--porcelain')).toBe('');
    expect(JSON.parse(fs.readFileSync(path.join(fx.work, DEV_FILE), 'utf8')).model_version).toBeNull();
    expect(result.notes.join('\n')).toMatch(/not a GitHub URL.*open a pull request from promote\/dev\/v1 into main/);
  });

  test('--image-tag rewrites image_tag in every cloud section', async () => {
    await promote(options({ imageTag: 'git-abc1234' }));
    const pinned = JSON.parse(fx.showOnRemote('promote/dev/v1', DEV_FILE));
    expect([pinned.aws.image_tag, pinned.gcp.image_tag, pinned.azure.image_tag]).toEqual(['git-abc1234', 'git-abc1234', 'git-abc1234']);
    expect(git(fx.remote, 'log', '-1', '--format=%B', 'promote/dev/v1')).toContain('Sets image_tag to git-abc1234 for aws, gcp, azure.');
    await expect(promote(options({ version: 'v2', imageTag: 'bad tag' }))).rejects.toThrow(/--image-tag "bad tag" is not a valid image tag/);
  });

  test('--dry-run prints the diff and changes nothing', async () => {
    const refsBefore = git(fx.work, 'for-each-ref', '--format=%(refname)', 'refs/heads');
    const result = await promote(options({ dryRun: true, imageTag: 't1' }));
    expect(result.dryRun).toBe(true);
    expect(result.commit).toBeUndefined();
    expect(result.diff).toContain('--- a/config/environments/dev.json');
    expect(result.diff).toContain('-  "model_version": null,');
    expect(result.diff).toContain('+  "model_version": "v1",');
    expect(result.diff).toContain('+    "image_tag": "t1",');
    expect(fx.remoteBranches()).toEqual(['main']);
    expect(git(fx.work, 'for-each-ref', '--format=%(refname)', 'refs/heads')).toBe(refsBefore);
    expect(git(fx.work, 'status', '--porcelain')).toBe('');
  });
});

describe('gates', () => {
  test('refuses a model below a metric gate, naming gate, metric, threshold and value', async () => {
    const err = await refusal(promote(options({ version: 'v3' })));
    expect(err.message).toContain('promotion_gates.auc (config/pipeline.json) requires auc >= 0.75; the model has 0.61');
    expect(err.failures.map((f) => f.gate)).toEqual(['metric']);
    expect(fx.remoteBranches()).toEqual(['main']);
  });

  test('refuses to skip an environment: qa needs the version pinned in dev first', async () => {
    const err = await refusal(promote(options({ target: 'qa' })));
    expect(err.message).toContain('requires version v1 to be pinned in dev before qa; dev pins no model');
    expect(fx.remoteBranches()).toEqual(['main']);

    fx.pinOnMain('dev', 'v1');
    const result = await promote(options({ target: 'qa' }));
    expect(result.branch).toBe('promote/qa/v1');
    expect(JSON.parse(fx.showOnRemote('promote/qa/v1', 'config/environments/qa.json')).model_version).toBe('v1');
  });

  test('refuses prod when staging pins another version', async () => {
    fx.pinOnMain('staging', 'v2');
    const err = await refusal(promote(options({ target: 'prod' })));
    expect(err.message).toContain('pinned in staging before prod; staging pins v2');
  });

  test('--force needs a reason, and the overridden gates and the reason are recorded', async () => {
    await expect(promote(options({ version: 'v3', target: 'qa', force: true }))).rejects.toThrow(/--force needs --reason/);
    const result = await promote(options({ version: 'v3', target: 'qa', force: true, reason: 'hotfix INC-42, approved by on-call' }));
    expect(result.overridden.map((f) => f.gate).sort()).toEqual(['metric', 'order']);
    const message = git(fx.remote, 'log', '-1', '--format=%B', 'promote/qa/v3');
    expect(message).toContain('Gates: FORCED past these failures:');
    expect(message).toContain('requires auc >= 0.75; the model has 0.61');
    expect(message).toContain('Force reason: hotfix INC-42, approved by on-call');
    expect(message).toContain('Promotion-Forced: hotfix INC-42, approved by on-call');
  });

  test('refuses a promotion that changes nothing, and a branch that already exists', async () => {
    fx.pinOnMain('dev', 'v1');
    await expect(promote(options({}))).rejects.toThrow(/dev already pins v1 on origin\/main: nothing to promote/);
    await promote(options({ version: 'v2' }));
    git(fx.work, 'branch', '-D', 'promote/dev/v2');
    await expect(promote(options({ version: 'v2' }))).rejects.toThrow(/promote\/dev\/v2 already exists on origin/);
    git(fx.work, 'branch', 'promote/dev/v2', 'main');
    await expect(promote(options({ version: 'v2' }))).rejects.toThrow(/already exists locally/);
  });

  test('an unknown version lists the registered ones', async () => {
    await expect(promote(options({ version: 'v9' }))).rejects.toThrow(/model version "v9" is not registered for project "mlstack"; known versions: v1, v2, v3 \(registry file:/);
  });
});

describe('rollback', () => {
  test('--rollback returns to a version the environment pinned before, without the order gate', async () => {
    fx.pinOnMain(['dev', 'qa', 'staging', 'prod'], 'v1');
    fx.pinOnMain(['dev', 'qa', 'staging', 'prod'], 'v2');
    // Plain promotion of v1 to prod is refused: staging now pins v2.
    await expect(promote(options({ target: 'prod' }))).rejects.toThrow(/staging pins v2/);
    const result = await promote(options({ target: 'prod', rollback: true }));
    expect(result.previousVersion).toBe('v2');
    const message = git(fx.remote, 'log', '-1', '--format=%B', promotionBranch('prod', 'v1'));
    expect(message.split('\n')[0]).toBe('Roll back mlstack model v1 to prod');
    expect(message).toContain('Promotion-Rollback: true');
    expect(message).toContain('(was v2)');
    await expect(promote(options({ target: 'prod', version: 'v3', rollback: true }))).rejects.toThrow(/prod never pinned v3/);
  });
});
