import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { changedEnvironments, githubOutputs, summarizeChanges } from '../../runtime/promotion/changed-envs';
import { runCi } from '../../runtime/promotion/ci';
import { DIFF_COMMENT_MARKER, formatDiffComment } from '../../runtime/promotion/diff-comment';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { createGitFixture, git } from '../promotion/fixture';

describe('changedEnvironments', () => {
  test('a promotion touches only its environment; shared code and config touch all four', () => {
    expect(changedEnvironments(['config/environments/prod.json'])).toEqual(['prod']);
    expect(changedEnvironments(['config/environments/qa.json', 'docs/promotion.md', 'config/environments/dev.json'])).toEqual(['dev', 'qa']);
    expect(changedEnvironments(['README.md', 'test/x.test.ts', '.github/workflows/pr.yml'])).toEqual([]);
    expect(changedEnvironments(['config/environments/sandbox.json'])).toEqual([]);
    for (const shared of ['infra/aws/app.ts', 'runtime/serving/server.ts', 'containers/serving/Dockerfile', 'config/pipeline.json', 'config/schema.ts', 'package-lock.json', 'cdk.json']) {
      expect(changedEnvironments([shared])).toEqual(['dev', 'qa', 'staging', 'prod']);
    }
  });

  test('stack names and workflow outputs', () => {
    const summary = summarizeChanges(['config/environments/staging.json', 'config/environments/prod.json']);
    expect(summary).toEqual({
      environments: ['staging', 'prod'],
      awsStacks: ['MlStack-staging-registry', 'MlStack-staging', 'MlStack-prod-registry', 'MlStack-prod'],
      cdktfStacks: ['gcp-staging', 'azure-staging', 'gcp-prod', 'azure-prod'],
    });
    expect(githubOutputs(summary)).toEqual({
      any: 'true',
      environments: 'staging prod',
      aws_stacks: 'MlStack-staging-registry MlStack-staging MlStack-prod-registry MlStack-prod',
      cdktf_stacks: 'gcp-staging azure-staging gcp-prod azure-prod',
      nonprod: '["staging"]',
      has_nonprod: 'true',
      prod: 'true',
    });
    expect(githubOutputs(summarizeChanges([]))).toMatchObject({ any: 'false', nonprod: '[]', has_nonprod: 'false', prod: 'false' });
  });

  test('a single-cloud project names only the stacks of the clouds each environment configures', () => {
    const dir = copyConfig();
    for (const env of ['dev', 'qa', 'staging', 'prod']) {
      editJson(path.join(dir, 'environments', `${env}.json`), (doc) => {
        delete doc.gcp;
        delete doc.azure;
      });
    }
    editJson(path.join(dir, 'environments', 'prod.json'), (doc) => {
      doc.gcp = loadProjectConfig('config').environments.prod.gcp;
    });
    const summary = summarizeChanges(['infra/any.ts'], loadProjectConfig(dir));
    expect(summary.awsStacks).toEqual(['dev', 'qa', 'staging', 'prod'].flatMap((env) => [`MlStack-${env}-registry`, `MlStack-${env}`]));
    expect(summary.cdktfStacks).toEqual(['gcp-prod']);
  });
});

describe('ci changed-envs against a real repository', () => {
  test('diffs base...head and appends the outputs to $GITHUB_OUTPUT', async () => {
    const fx = createGitFixture();
    const base = git(fx.work, 'rev-parse', 'HEAD').trim();
    fx.pinOnMain('qa', 'v7');
    const head = git(fx.work, 'rev-parse', 'HEAD').trim();
    const outputFile = path.join(makeTempDir('mlstack-gh-'), 'output');
    fs.writeFileSync(outputFile, 'earlier=1\n');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io = { stdout: (t: string) => stdout.push(t), stderr: (t: string) => stderr.push(t) };

    expect(await runCi(['changed-envs', '--base', base, '--head', head, '--repo-dir', fx.work, '--github-output', outputFile], io)).toBe(0);
    const written = fs.readFileSync(outputFile, 'utf8');
    expect(written).toContain('earlier=1\n');
    expect(written).toContain('environments=qa\n');
    expect(written).toContain('aws_stacks=MlStack-qa-registry MlStack-qa\n');
    expect(written).toContain('nonprod=["qa"]\n');
    expect(stdout.join('')).toContain('cdktf_stacks=gcp-qa azure-qa\n');

    // The first push of a branch has no "before" commit: everything is deployed.
    stdout.length = 0;
    expect(await runCi(['changed-envs', '--base', '0'.repeat(40), '--head', head, '--repo-dir', fx.work], io)).toBe(0);
    expect(stdout.join('')).toContain('environments=dev qa staging prod\n');
    expect(await runCi(['changed-envs', '--base', 'f'.repeat(40), '--head', head, '--repo-dir', fx.work], io)).toBe(0);
    expect(stderr.join('')).toContain(`base "${'f'.repeat(40)}" is not a known commit: treating every environment as changed`);
  });

  test('bad invocations exit 2 with a reason', async () => {
    const stderr: string[] = [];
    const io = { stdout: () => undefined, stderr: (t: string) => stderr.push(t) };
    expect(await runCi(['deploy'], io)).toBe(2);
    expect(await runCi(['changed-envs', '--base'], io)).toBe(2);
    expect(await runCi(['diff-comment'], io)).toBe(2);
    expect(await runCi(['diff-comment', '--out', '/tmp/x', '--section', 'nofile'], io)).toBe(2);
    expect(stderr.join('')).toMatch(/unknown command "deploy".*\n.*expected "--flag value", found "--base".*\n.*needs --out.*\n.*expected "<title>=<file>"/);
  });
});

describe('diff comment', () => {
  test('strips colours, marks the comment and cuts long sections under the GitHub limit', async () => {
    const dir = makeTempDir('mlstack-comment-');
    fs.writeFileSync(path.join(dir, 'cdk.txt'), '\u001b[32m+ AWS::SageMaker::Endpoint\u001b[39m\n');
    fs.writeFileSync(path.join(dir, 'tf.txt'), 'x'.repeat(200_000));
    const out = path.join(dir, 'comment.md');
    const io = { stdout: () => undefined, stderr: () => undefined };
    const args = ['diff-comment', '--out', out, '--heading', 'Infra diff for qa', '--section', `AWS=${dir}/cdk.txt`, '--section', `cdktf=${dir}/tf.txt`, '--section', `GCP=${dir}/missing.txt`];
    expect(await runCi(args, io)).toBe(0);
    const comment = fs.readFileSync(out, 'utf8');
    expect(comment.startsWith(`${DIFF_COMMENT_MARKER}\n### Infra diff for qa\n`)).toBe(true);
    expect(comment).toContain('+ AWS::SageMaker::Endpoint\n');
    expect(comment).not.toContain('\u001b');
    expect(comment.length).toBeLessThan(65_536);
    expect(comment).toMatch(/\.\.\. \d+ more characters cut: see the workflow run's log/);
    expect(comment).toContain('missing.txt was not written: the step before failed');
    expect(formatDiffComment('h', [{ title: 't', text: 'a ``` b' }])).toContain("a ''' b");
    expect(formatDiffComment('h', [{ title: 't', text: '' }])).toContain('(no output)');
  });
});
